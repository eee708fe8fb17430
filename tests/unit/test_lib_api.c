/*
 * test_lib_api.c - the API contract a binding or a service relies on: err
 * cleared by every success, *outlen set to the needed size on
 * ENVELOPE_ERR_BUFFER_TOO_SMALL, NULL options refused, "check no context"
 * only when asked for, struct_size checked, the runtime version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "lib_test_util.h"

static void test_err_cleared_on_success(void **state)
{
    (void)state;
    envelope_err e;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts bad = ENVELOPE_ENCRYPT_OPTS_INIT; /* no KEK */
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    eo.keks = a;
    eo.nkeks = 1;
    uint8_t *msg = NULL, *pt = NULL;
    size_t mlen = 0, ptlen = 0;
    assert_int_equal(envelope_seal(tu.lib, &bad, (const uint8_t *)"x", 1, &msg, &mlen, &e),
                     ENVELOPE_ERR_KEK_COUNT);
    assert_int_equal(e.code, ENVELOPE_ERR_KEK_COUNT);
    assert_int_equal(envelope_seal(tu.lib, &eo, (const uint8_t *)"x", 1, &msg, &mlen, &e),
                     ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_string_equal(e.message, "");

    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    dop.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen - 1, &pt, &ptlen, NULL, &e),
                     ENVELOPE_ERR_TRUNCATED);
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &pt, &ptlen, NULL, &e), ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_string_equal(e.message, "");
    envelope_buffer_free(pt, ptlen);

    /* the record hot path, and the context calls */
    envelope_sealer *s = NULL;
    envelope_opener *op = NULL;
    uint8_t out[4096], back[16];
    size_t outlen = 0, backlen = 0;
    assert_int_equal(envelope_sealer_new(tu.lib, &eo, 0, &s, &e), ENVELOPE_OK);
    assert_int_equal(envelope_opener_new(tu.lib, &dop, &op, &e), ENVELOPE_OK);
    assert_int_equal(envelope_sealer_seal(s, (const uint8_t *)"rec", 3, out, 1, &outlen, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(envelope_sealer_seal(s, (const uint8_t *)"rec", 3, out, sizeof(out), &outlen,
                                          &e),
                     ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_int_equal(envelope_opener_open(op, msg, 3, back, sizeof(back), &backlen, &e),
                     ENVELOPE_ERR_TRUNCATED);
    assert_int_equal(envelope_opener_open(op, out, outlen, back, sizeof(back), &backlen, &e),
                     ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_string_equal(e.message, "");
    envelope_context *c = NULL;
    assert_int_equal(envelope_context_new(&c, &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "k=", "v", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_add(c, "k", "v", &e), ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    envelope_context_free(c);
    envelope_opener_free(op);
    envelope_sealer_free(s);
    OPENSSL_free(msg);
}

static void test_buffer_too_small_sets_outlen(void **state)
{
    (void)state;
    envelope_err e;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    eo.keks = a;
    eo.nkeks = 1;
    eo.frame_size = 4096;
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    dop.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    envelope_sealer *s = NULL;
    envelope_opener *op = NULL;
    assert_int_equal(envelope_sealer_new(tu.lib, &eo, 0, &s, &e), ENVELOPE_OK);
    assert_int_equal(envelope_opener_new(tu.lib, &dop, &op, &e), ENVELOPE_OK);
    /* one frame and several, and the empty record */
    static const size_t sizes[] = {0, 100, 4096, 10000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], need = envelope_sealer_sealed_size(s, n), outlen = 7;
        uint8_t *pt = tu_pattern(n, (unsigned)n), *msg = malloc(need), *back = malloc(n + 1);
        assert_int_equal(envelope_sealer_seal(s, pt, n, msg, need - 1, &outlen, &e),
                         ENVELOPE_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(outlen, need);
        assert_int_equal(e.code, ENVELOPE_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(envelope_sealer_seal(s, pt, n, msg, outlen, &outlen, &e), ENVELOPE_OK);
        assert_int_equal(outlen, need);
        size_t ptlen = 99;
        if (n > 0) {
            memset(back, 0xAA, n + 1);
            assert_int_equal(envelope_opener_open(op, msg, need, back, n - 1, &ptlen, &e),
                             ENVELOPE_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(ptlen, n);
            for (size_t j = 0; j < n + 1; j++) /* nothing was written */
                assert_int_equal(back[j], 0xAA);
        }
        assert_int_equal(envelope_opener_open(op, msg, need, back, ptlen, &ptlen, &e), ENVELOPE_OK);
        assert_int_equal(ptlen, n);
        assert_true(n == 0 || memcmp(back, pt, n) == 0);
        free(pt);
        free(msg);
        free(back);
    }
    envelope_opener_free(op);
    envelope_sealer_free(s);
}

static void test_decrypt_options_explicit(void **state)
{
    (void)state;
    envelope_err e;
    envelope_kek *a[] = {tu.k1};
    static const char *const kv[] = {"tenant=acme", NULL};
    uint8_t *msg = NULL, *pt = NULL;
    size_t mlen = 0, ptlen = 0;
    tu_seal(a, 1, kv, 0, (const uint8_t *)"x", 1, &msg, &mlen);
    /* NULL options: an argument error, never a decrypt that checks nothing */
    assert_int_equal(envelope_open(tu.lib, NULL, msg, mlen, &pt, &ptlen, NULL, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_null(pt);
    envelope_opener *op = NULL;
    envelope_decryptor *d = NULL;
    assert_int_equal(envelope_opener_new(tu.lib, NULL, &op, &e), ENVELOPE_ERR_ARGUMENT);
    /* no expected context and no flag: refused, and says how to ask */
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &pt, &ptlen, NULL, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_non_null(strstr(e.message, "ENVELOPE_DECRYPT_ANY_CONTEXT"));
    assert_int_equal(envelope_opener_new(tu.lib, &dop, &op, &e), ENVELOPE_ERR_ARGUMENT);
    assert_null(op);
    assert_int_equal(envelope_decryptor_new(tu.lib, &dop, NULL, NULL, &d, &e),
                     ENVELOPE_ERR_ARGUMENT);
    dop.flags = 0x80;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &pt, &ptlen, NULL, &e),
                     ENVELOPE_ERR_ARGUMENT);
    /* asked for: opens whatever the context */
    dop.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &pt, &ptlen, NULL, &e), ENVELOPE_OK);
    envelope_buffer_free(pt, ptlen);
    pt = NULL;
    /* an expected context is checked with or without the flag */
    envelope_context *want = tu_context((const char *const[]){"tenant=other", NULL});
    dop.expected = want;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &pt, &ptlen, NULL, &e),
                     ENVELOPE_ERR_CONTEXT_MISMATCH);
    envelope_context_free(want);
    OPENSSL_free(msg);
}

static void test_struct_size(void **state)
{
    (void)state;
    envelope_err e;
    envelope_kek *a[] = {tu.k1};
    uint8_t *msg = NULL;
    size_t mlen = 0;
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    assert_int_equal(eo.struct_size, sizeof(eo));
    eo.keks = a;
    eo.nkeks = 1;
    eo.struct_size = 0; /* a struct not made from the _INIT macro */
    assert_int_equal(envelope_seal(tu.lib, &eo, (const uint8_t *)"x", 1, &msg, &mlen, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_non_null(strstr(e.message, "ENVELOPE_ENCRYPT_OPTS_INIT"));
    eo.struct_size = sizeof(eo) + 8; /* a newer header than this library */
    assert_int_equal(envelope_seal(tu.lib, &eo, (const uint8_t *)"x", 1, &msg, &mlen, &e),
                     ENVELOPE_ERR_ARGUMENT);
    eo.struct_size = sizeof(eo);
    assert_int_equal(envelope_seal(tu.lib, &eo, (const uint8_t *)"x", 1, &msg, &mlen, &e),
                     ENVELOPE_OK);
    envelope_rewrap_opts ro = ENVELOPE_REWRAP_OPTS_INIT;
    envelope_rewrap_result rr;
    assert_int_equal(ro.struct_size, sizeof(ro));
    ro.struct_size = 1;
    assert_int_equal(envelope_rewrap_header(tu.lib, &ro, msg, mlen, &rr, &e),
                     ENVELOPE_ERR_ARGUMENT);
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    assert_int_equal(dop.struct_size, sizeof(dop));
    OPENSSL_free(msg);
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(envelope_version(), ENVELOPE_LIB_VERSION);
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", ENVELOPE_LIB_VERSION_MAJOR, ENVELOPE_LIB_VERSION_MINOR,
             ENVELOPE_LIB_VERSION_PATCH);
    assert_string_equal(envelope_version_string(), want);
    /* the format version is another number */
    assert_int_equal(ENVELOPE_FORMAT_VERSION, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_cleared_on_success),
        cmocka_unit_test(test_buffer_too_small_sets_outlen),
        cmocka_unit_test(test_decrypt_options_explicit),
        cmocka_unit_test(test_struct_size),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
