/*
 * tpm_it_traffic.c - what crosses the bus, and concurrency.
 *
 * tpm_run.sh runs this scenario through the pcap TCTI
 * (pcap:swtpm:..., TCTI_PCAP_FILE): every command and response is
 * captured. The unwrapped secrets (Z of ZGen, the DEK of RSA_Decrypt) must
 * not appear in it, while the command inputs that are sent in clear (the
 * RSA ciphertext, the peer point) must - which proves the capture holds the
 * traffic and that the secrets are hidden by response encryption.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <tss2/tss2_sys.h>

#include "tpm_int.h" /* struct envtpm_key/ctx: to look into tss2's buffer */
#include "tpm_it.h"

#define ROUNDS 5

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int found(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

static void secrets_not_on_the_bus(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec, *rsa;
    unsigned char z[ROUNDS][32], dek[ROUNDS][32], ct[ROUNDS][256], peer[ROUNDS][65];
    unsigned char out[512], zt[32];
    static const unsigned char label[] = "bus";
    const char *pcap = getenv("TCTI_PCAP_FILE");
    unsigned char *cap;
    size_t caplen = 0, n, i;

    assert_non_null(pcap);
    assert_non_null(strstr(it_env(ENVTPM_TCTI_ENV), "pcap:"));
    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, "tpm2:handle=0x81000102", ENVTPM_KEY_RSA_2048, NULL, NULL);
    ec = it_open(t, "tpm2:handle=0x81000101");
    rsa = it_open(t, "tpm2:handle=0x81000102");
    for (i = 0; i < ROUNDS; i++) {
        size_t ctlen = 0;
        it_sw_ecdh(envtpm_key_public(ec), peer[i], z[i]);
        assert_int_equal(envtpm_ecdh_zgen(ec, peer[i], 65, zt, &n, sizeof(zt)), ENVCORE_R_OK);
        assert_memory_equal(zt, z[i], 32);
        assert_int_equal(RAND_bytes(dek[i], 32), 1);
        it_sw_oaep(envtpm_key_public(rsa), label, sizeof(label), dek[i], 32, ct[i], &ctlen);
        assert_int_equal(envtpm_rsa_decrypt(rsa, 1, label, sizeof(label), ct[i], 256, out, &n,
                                            sizeof(out)),
                         ENVCORE_R_OK);
        assert_memory_equal(out, dek[i], 32);
    }
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t); /* closes the capture */

    cap = read_all(pcap, &caplen);
    for (i = 0; i < ROUNDS; i++) {
        /* positive controls: clear-text command inputs are in the capture */
        if (!found(cap, caplen, ct[i], 256))
            fail_msg("capture lacks RSA ciphertext %zu: not capturing TPM traffic?", i);
        if (!found(cap, caplen, peer[i] + 1, 32))
            fail_msg("capture lacks peer point %zu", i);
        /* the secrets are not, not even their first half */
        if (found(cap, caplen, z[i], 16))
            fail_msg("ECDH Z %zu appears in clear on the bus", i);
        if (found(cap, caplen, dek[i], 16))
            fail_msg("DEK %zu appears in clear on the bus", i);
    }
    /* A persistent KEK's public area (its EVP_PKEY, every wrap's target) is
     * read in the salted session: TPM2_ReadPublic (cc 0x173) of each KEK
     * handle goes with tag TPM_ST_SESSIONS (0x8002). ESYS also sends one
     * without (0x8001) first, to learn the name the session HMAC needs;
     * open_op requires the two answers to have the same name. */
    {
        int with[2] = {0, 0};
        for (i = 6; i + 8 <= caplen; i++) {
            static const unsigned char cc[] = {0x00, 0x00, 0x01, 0x73, 0x81, 0x00, 0x01};
            if (memcmp(cap + i, cc, sizeof(cc)) != 0 || (cap[i + 7] != 0x01 && cap[i + 7] != 0x02))
                continue;
            if (cap[i - 6] == 0x80 && cap[i - 5] == 0x02)
                with[cap[i + 7] - 1]++;
        }
        if (with[0] == 0 || with[1] == 0)
            fail_msg("ReadPublic of a KEK never sent in the session (%d, %d)", with[0], with[1]);
    }
    free(cap);
}

/* The response parameters of the last command in tss2's SAPI buffer. */
static int in_tss_buffer(struct envtpm_key *k, const unsigned char *secret, size_t len)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    const uint8_t *rp = NULL;
    size_t n = 0;

    assert_int_equal(Esys_GetSysContext(k->t->esys, &sys), TSS2_RC_SUCCESS);
    assert_int_equal(Tss2_Sys_GetRpBuffer(sys, &n, &rp), TSS2_RC_SUCCESS);
    assert_true(n >= len);
    return memmem(rp, n, secret, len) != NULL;
}

/* ESYS decrypts ZGen's point and RSA_Decrypt's message in place in that
 * buffer; both are wiped right after the command. (After a persistent key
 * without a policy, ZGen/RSA_Decrypt is the last command sent.) */
static void secrets_wiped_in_tss2(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec = it_open(t, "tpm2:handle=0x81000101");
    struct envtpm_key *rsa = it_open(t, "tpm2:handle=0x81000102");
    unsigned char peer[65], zsw[32], z[32], dek[32], ct[256], out[256];
    static const unsigned char label[] = "buf";
    size_t n = 0, ctlen = 0;

    it_sw_ecdh(envtpm_key_public(ec), peer, zsw);
    assert_int_equal(envtpm_ecdh_zgen(ec, peer, 65, z, &n, sizeof(z)), ENVCORE_R_OK);
    assert_memory_equal(z, zsw, 32);
    if (in_tss_buffer(ec, zsw, 16))
        fail_msg("Z left in clear in tss2's response buffer");
    assert_int_equal(RAND_bytes(dek, sizeof(dek)), 1);
    it_sw_oaep(envtpm_key_public(rsa), label, sizeof(label), dek, 32, ct, &ctlen);
    assert_int_equal(envtpm_rsa_decrypt(rsa, 1, label, sizeof(label), ct, ctlen, out, &n,
                                        sizeof(out)),
                     ENVCORE_R_OK);
    assert_memory_equal(out, dek, 32);
    if (in_tss_buffer(rsa, dek, 16))
        fail_msg("DEK left in clear in tss2's response buffer");
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t);
}

typedef struct {
    struct envtpm_key *ec, *rsa;
    int ok, failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    int i;

    for (i = 0; i < 10; i++) {
        unsigned char peer[65], zsw[32], z[32];
        size_t n = 0;
        it_sw_ecdh(envtpm_key_public(w->ec), peer, zsw);
        if (envtpm_ecdh_zgen(w->ec, peer, 65, z, &n, sizeof(z)) == ENVCORE_R_OK && n == 32 &&
            memcmp(z, zsw, 32) == 0)
            w->ok++;
        else
            w->failed++;
        if (it_rsa_try(w->rsa) == ENVCORE_R_OK)
            w->ok++;
        else
            w->failed++;
    }
    return NULL;
}

static void four_threads(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec = it_open(t, "tpm2:handle=0x81000101");
    struct envtpm_key *rsa;
    char uri[4200];
    pthread_t th[4];
    worker w[4];
    int i;

    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("rsa.pem"));
    it_create(t, uri, ENVTPM_KEY_RSA_2048, NULL, NULL);
    rsa = it_open(t, uri);
    for (i = 0; i < 4; i++) {
        w[i].ec = ec;
        w[i].rsa = rsa;
        w[i].ok = w[i].failed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
        assert_int_equal(w[i].ok, 20);
    }
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t);
}

const struct CMUnitTest it_traffic_tests[] = {
    cmocka_unit_test(secrets_not_on_the_bus),
    cmocka_unit_test(secrets_wiped_in_tss2),
    cmocka_unit_test(four_threads),
};
const size_t it_traffic_count = sizeof(it_traffic_tests) / sizeof(it_traffic_tests[0]);
