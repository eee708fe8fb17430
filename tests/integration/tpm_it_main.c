/*
 * tpm_it_main.c - the TPM integration program: `tpm_it SCENARIO`, run by
 * tpm_run.sh with a fresh swtpm per scenario. Shared helpers live here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "tpm_it.h"

const char *it_path(const char *name)
{
    static _Thread_local char buf[4096];
    const char *dir = getenv("TPM_IT_DIR");

    if (dir == NULL)
        fail_msg("TPM_IT_DIR not set (run through tpm_run.sh)");
    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

const char *it_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL)
        fail_msg("%s not set (run through tpm_run.sh)", name);
    return v;
}

void it_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

struct envtpm_ctx *it_ctx(const char *srk_pin)
{
    envtpm_config cfg = {0};
    struct envtpm_ctx *t = NULL;

    cfg.srk_name_hex = srk_pin;
    assert_int_equal(envtpm_ctx_new(&cfg, &t), ENVCORE_R_OK);
    assert_non_null(t);
    return t;
}

void it_create(struct envtpm_ctx *t, const char *uri, envtpm_key_type type, const char *pcrs,
               const char *pin_source)
{
    envtpm_create_params p = {.type = type, .pcrs = pcrs, .pin_source = pin_source};
    int r = envtpm_key_create(t, uri, &p);

    if (r != ENVCORE_R_OK)
        fail_msg("create %s: reason %d: %s", uri, r, test_err_message());
}

struct envtpm_key *it_open(struct envtpm_ctx *t, const char *uri)
{
    struct envtpm_key *k = NULL;
    int r = envtpm_key_open(t, uri, &k);

    if (r != ENVCORE_R_OK)
        fail_msg("open %s: reason %d: %s", uri, r, test_err_message());
    return k;
}

void it_sw_ecdh(EVP_PKEY *kek, unsigned char peer[65], unsigned char z[32])
{
    /* keygen by OID, not "EC": with an ENGINE registered for EC pkey
     * methods (the engine scenario) OpenSSL 3.0 would give "EC" to it */
    EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(NULL, "1.2.840.10045.2.1", NULL);
    OSSL_PARAM gp[2] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                         (char *)"P-256", 0),
                        OSSL_PARAM_construct_end()};
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *dctx;
    size_t plen = 0, zlen = 32;

    assert_non_null(g);
    assert_int_equal(EVP_PKEY_keygen_init(g), 1);
    assert_int_equal(EVP_PKEY_CTX_set_params(g, gp), 1);
    assert_int_equal(EVP_PKEY_generate(g, &eph), 1);
    EVP_PKEY_CTX_free(g);
    assert_int_equal(EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, peer, 65, &plen),
                     1);
    assert_int_equal(plen, 65);
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    assert_non_null(dctx);
    assert_int_equal(EVP_PKEY_derive_init(dctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(dctx, kek), 1);
    assert_int_equal(EVP_PKEY_derive(dctx, z, &zlen), 1);
    assert_int_equal(zlen, 32);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(eph);
}

void it_sw_oaep(EVP_PKEY *pub, const unsigned char *label, size_t labellen, const unsigned char *in,
                size_t inlen, unsigned char *out, size_t *outlen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    size_t n = 512;

    assert_non_null(c);
    assert_int_equal(EVP_PKEY_encrypt_init(c), 1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0);
    if (labellen != 0) {
        unsigned char *l = OPENSSL_memdup(label, labellen);
        assert_true(EVP_PKEY_CTX_set0_rsa_oaep_label(c, l, (int)labellen) > 0);
    }
    assert_int_equal(EVP_PKEY_encrypt(c, out, &n, in, inlen), 1);
    *outlen = n;
    EVP_PKEY_CTX_free(c);
}

int it_ec_try(struct envtpm_key *k)
{
    unsigned char peer[65], zsw[32], ztpm[64];
    size_t zlen = 0;
    int r;

    it_sw_ecdh(envtpm_key_public(k), peer, zsw);
    memset(ztpm, 0xaa, sizeof(ztpm));
    r = envtpm_ecdh_zgen(k, peer, sizeof(peer), ztpm, &zlen, sizeof(ztpm));
    if (r != ENVCORE_R_OK)
        return r;
    assert_int_equal(zlen, 32);
    assert_memory_equal(zsw, ztpm, 32);
    return ENVCORE_R_OK;
}

static const unsigned char it_label[] = "envelope-test-label"; /* with its NUL */

int it_rsa_try(struct envtpm_key *k)
{
    unsigned char dek[32], ct[512], out[512];
    size_t ctlen = 0, outlen = 0;
    int r;

    assert_int_equal(RAND_bytes(dek, sizeof(dek)), 1);
    it_sw_oaep(envtpm_key_public(k), it_label, sizeof(it_label), dek, sizeof(dek), ct, &ctlen);
    assert_int_equal(ctlen, 256);
    r = envtpm_rsa_decrypt(k, 1, it_label, sizeof(it_label), ct, ctlen, out, &outlen, sizeof(out));
    if (r != ENVCORE_R_OK)
        return r;
    assert_int_equal(outlen, sizeof(dek));
    assert_memory_equal(out, dek, sizeof(dek));
    return ENVCORE_R_OK;
}

void it_ec_roundtrip(struct envtpm_key *k)
{
    int r = it_ec_try(k);
    if (r != ENVCORE_R_OK)
        fail_msg("ZGen: reason %d: %s", r, test_err_message());
}

void it_rsa_roundtrip(struct envtpm_key *k)
{
    int r = it_rsa_try(k);
    if (r != ENVCORE_R_OK)
        fail_msg("RSA_Decrypt: reason %d: %s", r, test_err_message());
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        const struct CMUnitTest *tests;
        const size_t *count;
    } scenarios[] = {
        {"basic", it_basic_tests, &it_basic_count},
        {"policy", it_policy_tests, &it_policy_count},
        {"restart", it_restart_tests, &it_restart_count},
        {"traffic", it_traffic_tests, &it_traffic_count},
        {"interop", it_interop_tests, &it_interop_count},
        {"engine", it_engine_tests, &it_engine_count},
        {"sessions", it_sessions_tests, &it_sessions_count},
        {"tamper", it_tamper_tests, &it_tamper_count},
    };
    size_t i;

    if (argc >= 4 && strcmp(argv[1], "create") == 0) {
        /* tpm_it create ec|rsa URI [PCRS]: provisioning for shell tests */
        envtpm_config cfg = {0};
        envtpm_create_params p = {0};
        struct envtpm_ctx *t = NULL;
        int r;
        p.type = strcmp(argv[2], "rsa") == 0 ? ENVTPM_KEY_RSA_2048 : ENVTPM_KEY_EC_P256;
        p.pcrs = argc >= 5 ? argv[4] : NULL;
        if (envtpm_ctx_new(&cfg, &t) != ENVCORE_R_OK)
            return 1;
        r = envtpm_key_create(t, argv[3], &p);
        if (r != ENVCORE_R_OK)
            fprintf(stderr, "tpm_it create: %s\n", test_err_message());
        envtpm_ctx_free(t);
        return r == ENVCORE_R_OK ? 0 : 1;
    }
    if (argc != 2) {
        fprintf(stderr,
                "usage: tpm_it basic|policy|restart|traffic|interop|engine|sessions|tamper\n"
                "       tpm_it create ec|rsa URI [PCRS]\n");
        return 2;
    }
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(argv[1], scenarios[i].name) == 0)
            return _cmocka_run_group_tests(scenarios[i].name, scenarios[i].tests,
                                           *scenarios[i].count, NULL, NULL);
    fprintf(stderr, "tpm_it: unknown scenario %s\n", argv[1]);
    return 2;
}
