/*
 * tpm_it_basic.c - SRK, both KEK kinds at persistent handles and in key
 * files, the backend ops, and the unhappy paths around them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "envkey.h"
#include "tpm_it.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Our SRK must be the key `tpm2_createprimary -C o -G ecc` makes. */
static void srk_matches_tpm2_tools(void **state)
{
    const char *want = it_env("TPM_IT_TOOLS_SRK_NAME");
    struct envtpm_ctx *t = it_ctx(NULL);
    unsigned char name[80];
    char got[200];
    size_t len = 0;

    assert_non_null(want);
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_OK);
    assert_int_equal(envtpm_srk_name(t, name, &len, sizeof(name)), ENVCORE_R_OK);
    assert_int_equal(len, 34);
    hex(name, len, got);
    assert_string_equal(got, want);
    envtpm_ctx_free(t);
    it_sh("tpm2_readpublic -c 0x81000001 >/dev/null");
}

static void srk_pin(void **state)
{
    const char *want = it_env("TPM_IT_TOOLS_SRK_NAME");
    struct envtpm_ctx *t = it_ctx(want);
    char wrong[200];
    envtpm_config cfg = {0};

    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_OK);
    envtpm_ctx_free(t);

    assert_true(strlen(want) < sizeof(wrong));
    memcpy(wrong, want, strlen(want) + 1);
    wrong[10] = wrong[10] == '0' ? '1' : '0';
    t = it_ctx(wrong);
    test_err_clear();
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "pinned"));
    /* and every operation keeps refusing, it does not fall back */
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_KEY_NOT_SAFE);
    envtpm_ctx_free(t);

    cfg.srk_name_hex = "000bxyz";
    t = NULL;
    assert_int_equal(envtpm_ctx_new(&cfg, &t), ENVCORE_R_BAD_CONFIG);
    assert_null(t);
}

static void bad_tcti(void **state)
{
    char *saved = strdup(it_env(ENVTPM_TCTI_ENV));
    struct envtpm_ctx *t;

    setenv(ENVTPM_TCTI_ENV, "swtpm:host=127.0.0.1,port=1", 1);
    t = it_ctx(NULL);
    setenv(ENVTPM_TCTI_ENV, saved, 1);
    test_err_clear();
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_BACKEND_UNAVAILABLE);
    envtpm_ctx_free(t);

    setenv(ENVTPM_TCTI_ENV, "nosuchtcti:foo", 1);
    t = it_ctx(NULL);
    setenv(ENVTPM_TCTI_ENV, saved, 1);
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_BACKEND_UNAVAILABLE);
    envtpm_ctx_free(t);
    free(saved);
}

static void ec_handle(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k;
    envtpm_create_params p = {.type = ENVTPM_KEY_EC_P256};
    size_t nlen = 0;
    int i;

    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    k = it_open(t, "tpm2:handle=0x81000101");
    assert_int_equal(envtpm_key_get_type(k), ENVTPM_KEY_EC_P256);
    assert_int_equal(envtpm_key_bits(k), 256);
    assert_string_equal(envtpm_key_uri(k), "tpm2:handle=0x81000101");
    (void)envtpm_key_name(k, &nlen);
    assert_int_equal(nlen, 34);
    assert_true(EVP_PKEY_is_a(envtpm_key_public(k), "EC"));
    for (i = 0; i < 3; i++)
        it_ec_roundtrip(k);
    envtpm_key_free(k);

    /* a taken handle is refused, not overwritten */
    test_err_clear();
    assert_int_equal(envtpm_key_create(t, "tpm2:handle=0x81000101", &p), ENVCORE_R_BAD_ARGUMENT);
    /* the object is visible to tpm2-tools as a decrypt-only, fixed key */
    it_sh("tpm2_readpublic -c 0x81000101 | grep -q 'fixedtpm|fixedparent|sensitivedataorigin|"
          "userwithauth|noda|decrypt'");
    envtpm_ctx_free(t);
}

static void rsa_handle(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k;
    unsigned char dek[32], ct[512], out[512];
    static const unsigned char label[] = "ctx-label";
    static const unsigned char other[] = "ctx-lab3l";
    size_t ctlen = 0, outlen = 0;

    it_create(t, "tpm2:handle=0x81000102", ENVTPM_KEY_RSA_2048, NULL, NULL);
    k = it_open(t, "tpm2:handle=0x81000102");
    assert_int_equal(envtpm_key_get_type(k), ENVTPM_KEY_RSA_2048);
    assert_int_equal(envtpm_key_bits(k), 2048);
    assert_true(EVP_PKEY_is_a(envtpm_key_public(k), "RSA"));
    it_rsa_roundtrip(k);

    assert_int_equal(RAND_bytes(dek, sizeof(dek)), 1);
    it_sw_oaep(envtpm_key_public(k), label, sizeof(label), dek, sizeof(dek), ct, &ctlen);
    /* wrong label: refused, output wiped */
    memset(out, 0x55, sizeof(out));
    assert_int_equal(envtpm_rsa_decrypt(k, 1, other, sizeof(other), ct, ctlen, out, &outlen,
                                        sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    assert_int_equal(out[0], 0);
    /* one flipped ciphertext bit: refused */
    ct[100] ^= 1;
    assert_int_equal(envtpm_rsa_decrypt(k, 1, label, sizeof(label), ct, ctlen, out, &outlen,
                                        sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    ct[100] ^= 1;
    /* truncated ciphertext */
    assert_int_equal(envtpm_rsa_decrypt(k, 1, label, sizeof(label), ct, ctlen - 1, out, &outlen,
                                        sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    /* a label the TPM cannot take (no terminating zero) is refused up front */
    assert_int_equal(envtpm_rsa_decrypt(k, 1, label, sizeof(label) - 1, ct, ctlen, out, &outlen,
                                        sizeof(out)),
                     ENVCORE_R_MECHANISM_NOT_SUPPORTED);
    /* our keys fix OAEP-SHA256: PKCS#1 v1.5 is refused */
    assert_int_equal(envtpm_rsa_decrypt(k, 0, NULL, 0, ct, ctlen, out, &outlen, sizeof(out)),
                     ENVCORE_R_MECHANISM_NOT_SUPPORTED);
    /* output buffer too small */
    assert_int_equal(envtpm_rsa_decrypt(k, 1, label, sizeof(label), ct, ctlen, out, &outlen, 16),
                     ENVCORE_R_BUFFER_TOO_SMALL);
    /* and it still works after all that */
    assert_int_equal(envtpm_rsa_decrypt(k, 1, label, sizeof(label), ct, ctlen, out, &outlen,
                                        sizeof(out)),
                     ENVCORE_R_OK);
    assert_int_equal(outlen, 32);
    assert_memory_equal(out, dek, 32);
    envtpm_key_free(k);
    envtpm_ctx_free(t);
}

static void file_keys(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec, *rsa;
    char uri_ec[4200], uri_rsa[4200];
    envtpm_create_params p = {.type = ENVTPM_KEY_EC_P256};
    struct stat st;
    int i;

    snprintf(uri_ec, sizeof(uri_ec), "tpm2:file=%s", it_path("ec.pem"));
    snprintf(uri_rsa, sizeof(uri_rsa), "tpm2:file=%s", it_path("rsa.pem"));
    it_create(t, uri_ec, ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, uri_rsa, ENVTPM_KEY_RSA_2048, NULL, NULL);
    assert_int_equal(stat(it_path("ec.pem"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* an existing file is never overwritten */
    assert_int_equal(envtpm_key_create(t, uri_ec, &p), ENVCORE_R_BAD_ARGUMENT);

    ec = it_open(t, uri_ec);
    rsa = it_open(t, uri_rsa);
    /* swtpm without a resource manager has 3 object slots: if a load were
     * not flushed, the 4th use would fail with TPM_RC_OBJECT_MEMORY */
    for (i = 0; i < 8; i++) {
        it_ec_roundtrip(ec);
        it_rsa_roundtrip(rsa);
    }
    it_sh("test -z \"$(tpm2_getcap handles-transient)\"");
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t);
}

static void not_found_and_corrupt(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k = NULL;
    char uri[4200];
    FILE *f;

    assert_int_equal(envtpm_key_open(t, "tpm2:handle=0x81000199", &k), ENVCORE_R_OBJECT_NOT_FOUND);
    assert_null(k);
    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("missing.pem"));
    assert_int_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_OBJECT_NOT_FOUND);
    /* a key file cut in half */
    char src[4096];

    snprintf(src, sizeof(src), "%s", it_path("ec.pem"));
    it_sh("head -c 300 '%s' > '%s'", src, it_path("cut.pem"));
    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("cut.pem"));
    assert_int_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_BAD_BLOB);
    /* a key file whose private part was altered: the TPM refuses to load it */
    it_sh("f='%s'; o='%s'; sed '1d;$d' \"$f\" | base64 -d > \"$o.der\" && "
          "n=$(stat -c %%s \"$o.der\") && printf '\\x5a' | dd of=\"$o.der\" bs=1 "
          "seek=$((n-20)) conv=notrunc 2>/dev/null && "
          "{ echo '-----BEGIN TSS2 PRIVATE KEY-----'; base64 \"$o.der\"; "
          "echo '-----END TSS2 PRIVATE KEY-----'; } > \"$o\"",
          src, it_path("bad.pem"));
    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("bad.pem"));
    test_err_clear();
    assert_int_not_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_OK);
    assert_null(k);
    f = fopen(it_path("junk.pem"), "w");
    assert_non_null(f);
    fputs("-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n", f);
    fclose(f);
    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("junk.pem"));
    assert_int_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_BAD_BLOB);
    /* unknown URI attribute */
    assert_int_equal(envtpm_key_open(t, "tpm2:handle=0x81000101;id=1", &k), ENVCORE_R_BAD_URI);
    envtpm_ctx_free(t);
}

static void backend_ops(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    envkey *ek = NULL, *rk = NULL;
    unsigned char peer[65], zsw[32], z[32], dek[32], ct[512], out[512];
    static const unsigned char label[] = "hdr-hash";
    size_t zlen = 0, ctlen = 0, outlen = 0;
    envkey_rsa_params rp = {.padding = RSA_PKCS1_OAEP_PADDING,
                            .oaep_md = NID_sha256,
                            .mgf1_md = NID_sha256,
                            .label = label,
                            .label_len = sizeof(label)};

    assert_int_equal(envtpm_open_key(t, "tpm2:handle=0x81000101", 0, &ek), ENVCORE_R_OK);
    assert_int_equal(ek->kind, ENVKEY_EC_P256);
    assert_int_equal(ek->bits, 256);
    assert_int_equal(ek->key_id_len, 34);
    assert_string_equal(ek->uri, "tpm2:handle=0x81000101");
    assert_string_equal(ek->ops->name, "tpm2");
    assert_true(ek->has_private);
    assert_non_null(ek->pub);
    it_sw_ecdh(ek->pub, peer, zsw);
    assert_int_equal(ek->ops->ecdh_zgen(ek->be, peer, 65, z, &zlen, sizeof(z)), ENVCORE_R_OK);
    assert_memory_equal(z, zsw, 32);
    assert_int_equal(ek->ops->ecdh_zgen(ek->be, peer, 64, z, &zlen, sizeof(z)),
                     ENVCORE_R_BAD_ARGUMENT);
    /* a point that is not on the curve is refused by the TPM */
    memset(peer + 1, 0x11, 64);
    assert_int_equal(ek->ops->ecdh_zgen(ek->be, peer, 65, z, &zlen, sizeof(z)),
                     ENVCORE_R_BAD_ARGUMENT);
    assert_null(ek->ops->aead_encrypt);

    assert_int_equal(envtpm_open_key(t, "tpm2:handle=0x81000102", 0, &rk), ENVCORE_R_OK);
    assert_int_equal(rk->kind, ENVKEY_RSA);
    assert_int_equal(rk->bits, 2048);
    assert_int_equal(rk->ops->rsa_supports(rk->be, &rp), 1);
    rp.label_len = sizeof(label) - 1; /* not zero-terminated: not in the TPM */
    assert_int_equal(rk->ops->rsa_supports(rk->be, &rp), 0);
    rp.label_len = sizeof(label);
    rp.oaep_md = NID_sha1;
    assert_int_equal(rk->ops->rsa_supports(rk->be, &rp), 0);
    rp.oaep_md = NID_sha256;
    rp.padding = RSA_PKCS1_PADDING;
    assert_int_equal(rk->ops->rsa_supports(rk->be, &rp), 0);
    rp.padding = RSA_PKCS1_OAEP_PADDING;
    assert_int_equal(ek->ops->rsa_supports(ek->be, &rp), 0); /* EC key */
    assert_int_equal(RAND_bytes(dek, 32), 1);
    it_sw_oaep(rk->pub, label, sizeof(label), dek, 32, ct, &ctlen);
    assert_int_equal(rk->ops->rsa_decrypt(rk->be, &rp, ct, ctlen, out, &outlen, sizeof(out)),
                     ENVCORE_R_OK);
    assert_int_equal(outlen, 32);
    assert_memory_equal(out, dek, 32);
    rp.mgf1_md = NID_sha1;
    assert_int_equal(rk->ops->rsa_decrypt(rk->be, &rp, ct, ctlen, out, &outlen, sizeof(out)),
                     ENVCORE_R_MECHANISM_NOT_SUPPORTED);
    envkey_free(envkey_up(ek)); /* refcount: still alive after one free */
    assert_int_equal(ek->ops->ecdh_zgen(ek->be, peer, 64, z, &zlen, sizeof(z)),
                     ENVCORE_R_BAD_ARGUMENT);
    envkey_free(ek);
    envkey_free(rk);
    envtpm_ctx_free(t);
}

/* ECDH through the TPM checked against software, without cmocka asserts
 * (for threads of a forked child). 1 if Z matched. */
static int zgen_ok(struct envtpm_key *k)
{
    EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY_CTX *d = eph != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL) : NULL;
    unsigned char peer[65], zsw[32], z[32];
    size_t plen = 0, zlen = 32, n = 0;
    int ok = d != NULL &&
             EVP_PKEY_get_octet_string_param(eph, "pub", peer, sizeof(peer), &plen) == 1 &&
             plen == 65 && EVP_PKEY_derive_init(d) == 1 &&
             EVP_PKEY_derive_set_peer(d, envtpm_key_public(k)) == 1 &&
             EVP_PKEY_derive(d, zsw, &zlen) == 1 &&
             envtpm_ecdh_zgen(k, peer, 65, z, &n, sizeof(z)) == ENVCORE_R_OK && n == 32 &&
             memcmp(z, zsw, 32) == 0;
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(eph);
    return ok;
}

static void *child_worker(void *arg)
{
    int i, ok = 1;
    for (i = 0; i < 3 && ok; i++)
        ok = zgen_ok(arg);
    return ok ? arg : NULL;
}

/* A child of fork() opens its own connection and session; several threads
 * of the child reset the inherited context at once (one of them does it),
 * and the parent's connection is left alone: the child never finalises the
 * parent's TCTI, which for mssim would send TPM_SESSION_END on the shared
 * socket and drop the parent's connection (a reconnect, counted). (The
 * mssim TCTI itself cannot be tested here: its platform port is not
 * swtpm's control port.) */
static void fork_child(void **state)
{
    const char *tctis[1] = {it_env(ENVTPM_TCTI_ENV)};
    char *saved = strdup(tctis[0]);
    int v;

    for (v = 0; v < 1; v++) {
        struct envtpm_ctx *t;
        struct envtpm_key *k;
        pid_t pid;
        int status = 0, i;

        setenv(ENVTPM_TCTI_ENV, tctis[v], 1);
        t = it_ctx(NULL);
        setenv(ENVTPM_TCTI_ENV, saved, 1);
        k = it_open(t, "tpm2:handle=0x81000101");
        it_ec_roundtrip(k);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            pthread_t th[4];
            int ok = 1;
            for (i = 0; i < 4; i++)
                ok &= pthread_create(&th[i], NULL, child_worker, k) == 0;
            for (i = 0; i < 4; i++) {
                void *res = NULL;
                ok &= pthread_join(th[i], &res) == 0 && res != NULL;
            }
            envtpm_key_free(k);
            envtpm_ctx_free(t);
            _exit(ok ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* the parent's session and connection survive the child */
        for (i = 0; i < 3; i++)
            it_ec_roundtrip(k);
        if (envtpm_reconnects(t) != 0)
            fail_msg("%s: the child's exit dropped the parent's connection", tctis[v]);
        envtpm_key_free(k);
        envtpm_ctx_free(t);
    }
    free(saved);
}

/* Without a pin, the SRK seen first is required on every reconnect: swap
 * the SRK, drop our session so the next use reconnects, and it is refused;
 * a new context (a new first use) takes the new one. Runs last: it replaces
 * the SRK the other tests' keys live under. */
static void srk_tofu_kept(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL), *t2;
    struct envtpm_key *k = it_open(t, "tpm2:handle=0x81000101");
    unsigned char first[80], second[80];
    size_t l1 = 0, l2 = 0;

    it_ec_roundtrip(k);
    assert_int_equal(envtpm_srk_name(t, first, &l1, sizeof(first)), ENVCORE_R_OK);
    it_sh("cd '%s' && tpm2_evictcontrol -C o -c 0x81000001 >/dev/null && "
          "tpm2_createprimary -C o -G rsa -c other.ctx >/dev/null && "
          "tpm2_evictcontrol -C o -c other.ctx 0x81000001 >/dev/null && "
          "tpm2_flushcontext -t && tpm2_flushcontext -l",
          it_path(""));
    test_err_clear();
    assert_int_equal(it_ec_try(k), ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "first connected"));
    assert_int_equal(envtpm_reconnects(t), 1);
    /* and it keeps refusing */
    assert_int_equal(envtpm_ctx_connect(t), ENVCORE_R_KEY_NOT_SAFE);
    envtpm_key_free(k);
    envtpm_ctx_free(t);

    t2 = it_ctx(NULL);
    assert_int_equal(envtpm_ctx_connect(t2), ENVCORE_R_OK);
    assert_int_equal(envtpm_srk_name(t2, second, &l2, sizeof(second)), ENVCORE_R_OK);
    assert_true(l1 != l2 || memcmp(first, second, l1) != 0);
    envtpm_ctx_free(t2);
}

const struct CMUnitTest it_basic_tests[] = {
    cmocka_unit_test(srk_matches_tpm2_tools),
    cmocka_unit_test(srk_pin),
    cmocka_unit_test(bad_tcti),
    cmocka_unit_test(ec_handle),
    cmocka_unit_test(rsa_handle),
    cmocka_unit_test(file_keys),
    cmocka_unit_test(not_found_and_corrupt),
    cmocka_unit_test(backend_ops),
    cmocka_unit_test(fork_child),
    cmocka_unit_test(srk_tofu_kept),
};
const size_t it_basic_count = sizeof(it_basic_tests) / sizeof(it_basic_tests[0]);
