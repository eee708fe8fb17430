/*
 * test_tpm_ec_wrap.c - the EC P-256 wrap of TPM KEKs (provider/ec_wrap.c)
 * with a software stand-in for the TPM's ECDH_ZGen that counts its calls:
 * round trip, and a blob whose ephemeral point is not on P-256 is refused
 * as "authentication failed" before anything is sent to the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ec_wrap.h"
#include "test_err.h"

static EVP_PKEY *kek_priv;
static int zgen_calls;

/* TEST STAND-IN for TPM2_ECDH_ZGen: z = x(d * peer) in software. */
static int sw_zgen(void *be, const unsigned char *peer, size_t peerlen, unsigned char *z,
                   size_t *zlen, size_t zsize)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *dc;
    OSSL_PARAM p[3];
    EVP_PKEY *pk = NULL;
    int ok;

    (void)be;
    zgen_calls++;
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)peer, peerlen);
    p[2] = OSSL_PARAM_construct_end();
    if (pc == NULL || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, p) != 1) {
        EVP_PKEY_CTX_free(pc);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    dc = EVP_PKEY_CTX_new_from_pkey(NULL, kek_priv, NULL);
    *zlen = zsize;
    ok = dc != NULL && EVP_PKEY_derive_init(dc) == 1 && EVP_PKEY_derive_set_peer(dc, pk) == 1 &&
         EVP_PKEY_derive(dc, z, zlen) == 1;
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(pk);
    return ok ? ENVCORE_R_OK : ENVCORE_R_BACKEND_ERROR;
}

static const envkey_backend_ops sw_ops = {.name = "sw-test", .ecdh_zgen = sw_zgen};

static envkey *make_key(void)
{
    envkey *k = envkey_new(ENVKEY_EC_P256, &sw_ops, NULL);
    unsigned char pt[65];
    size_t n = 0;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM p[3];

    assert_non_null(k);
    kek_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(kek_priv);
    assert_int_equal(EVP_PKEY_get_octet_string_param(kek_priv, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                                     sizeof(pt), &n),
                     1);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, n);
    p[2] = OSSL_PARAM_construct_end();
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
    assert_int_equal(EVP_PKEY_fromdata(c, &k->pub, EVP_PKEY_PUBLIC_KEY, p), 1);
    EVP_PKEY_CTX_free(c);
    k->has_private = 1;
    return k;
}

static void drop_key(envkey *k)
{
    envkey_free(k);
    EVP_PKEY_free(kek_priv);
    kek_priv = NULL;
}

static void round_trip(void **state)
{
    envprov_ctx pc = {0}; /* swctx NULL: OpenSSL's default library context */
    envkey *k = make_key();
    unsigned char dek[32], blob[ENVPROV_EC_BLOB_MAX], out[64];
    size_t n = 0, m = 0;

    memset(dek, 0x42, sizeof(dek));
    assert_int_equal(envprov_ec_wrap(&pc, k, (const unsigned char *)"aad", 3, dek, 32, blob, &n,
                                     sizeof(blob)),
                     ENVCORE_R_OK);
    zgen_calls = 0;
    assert_int_equal(envprov_ec_unwrap(&pc, k, (const unsigned char *)"aad", 3, blob, n, out, &m,
                                       sizeof(out)),
                     ENVCORE_R_OK);
    assert_int_equal(m, 32);
    assert_memory_equal(out, dek, 32);
    assert_int_equal(zgen_calls, 1);
    drop_key(k);
}

static void off_curve_point_never_sent(void **state)
{
    envprov_ctx pc = {0};
    envkey *k = make_key();
    unsigned char dek[32], blob[ENVPROV_EC_BLOB_MAX], out[64];
    size_t n = 0, m = 0;

    memset(dek, 0x42, sizeof(dek));
    assert_int_equal(envprov_ec_wrap(&pc, k, NULL, 0, dek, 32, blob, &n, sizeof(blob)),
                     ENVCORE_R_OK);
    /* E = (x, y+1): still 65 bytes with 0x04, no longer on the curve */
    blob[6 + 64] ^= 1;
    zgen_calls = 0;
    memset(out, 0x55, sizeof(out));
    test_err_clear();
    assert_int_equal(envprov_ec_unwrap(&pc, k, NULL, 0, blob, n, out, &m, sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    assert_int_equal(zgen_calls, 0);
    assert_int_equal(out[0], 0);
    assert_int_equal(test_err_reason(), ENVCORE_R_AUTHENTICATION_FAILED);
    /* coordinates of all ones (>= p): not a field element */
    memset(blob + 7, 0xff, 64);
    assert_int_equal(envprov_ec_unwrap(&pc, k, NULL, 0, blob, n, out, &m, sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    assert_int_equal(zgen_calls, 0);
    drop_key(k);
}

static void tampered_tag_refused(void **state)
{
    envprov_ctx pc = {0};
    envkey *k = make_key();
    unsigned char dek[32], blob[ENVPROV_EC_BLOB_MAX], out[64];
    size_t n = 0, m = 0;

    memset(dek, 0x42, sizeof(dek));
    assert_int_equal(envprov_ec_wrap(&pc, k, NULL, 0, dek, 32, blob, &n, sizeof(blob)),
                     ENVCORE_R_OK);
    blob[n - 1] ^= 1;
    assert_int_equal(envprov_ec_unwrap(&pc, k, NULL, 0, blob, n, out, &m, sizeof(out)),
                     ENVCORE_R_AUTHENTICATION_FAILED);
    drop_key(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(off_curve_point_never_sent),
        cmocka_unit_test(tampered_tag_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
