/*
 * test_lib_record_alloc.c - the record paths allocate nothing per record
 * (envelope.h: "no allocation"): every OpenSSL allocation (libenvelope's
 * own go through OPENSSL_malloc too) is counted through
 * CRYPTO_set_mem_functions, installed before anything else runs; after
 * one warm-up record, 1000 more seals and opens of suite 2 compact
 * records must add none; suite 1's sealer and opener at most the eight of
 * their per-record SHA-512 inits (OpenSSL 3.0 behaviour, see below).
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

static unsigned long allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
    return realloc(p, n);
}

static void plain_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

static unsigned long count(void)
{
    return __atomic_load_n(&allocs, __ATOMIC_RELAXED);
}

static void test_suite2_records(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = a, .nkeks = 1, .context = NULL, .frame_size = 0};
    envelope_decrypt_opts d = {.struct_size = sizeof(d),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_keyblock *kb = NULL, *loaded = NULL;
    envelope_record_ctx *rc = NULL;
    envelope_err e;
    assert_int_equal(envelope_keyblock_new(tu.lib, &o, 0, &kb, &e), ENVELOPE_OK);
    size_t len = 0;
    const uint8_t *b = envelope_keyblock_bytes(kb, &len);
    assert_int_equal(envelope_keyblock_load(tu.lib, &d, b, len, &loaded, &e), ENVELOPE_OK);
    assert_int_equal(envelope_record_ctx_new(tu.lib, &rc, &e), ENVELOPE_OK);
    uint8_t in[1024], rec[1024 + 63], out[1024];
    size_t rl = 0, pl = 0;
    memset(in, 'a', sizeof(in));
    assert_int_equal(envelope_record_seal(rc, kb, NULL, 0, in, sizeof(in), rec, sizeof(rec), &rl,
                                          &e),
                     ENVELOPE_OK);
    assert_int_equal(envelope_record_open(rc, loaded, NULL, 0, rec, rl, out, sizeof(out), &pl, &e),
                     ENVELOPE_OK);
    unsigned long before = count();
    for (int i = 0; i < 1000; i++) {
        /* alternate the two blocks: the record context re-keys, still no allocation */
        const envelope_keyblock *k = (i & 1) ? kb : loaded;
        assert_int_equal(envelope_record_seal(rc, k, NULL, 0, in, sizeof(in), rec, sizeof(rec), &rl,
                                              &e),
                         ENVELOPE_OK);
        assert_int_equal(envelope_record_open(rc, k, NULL, 0, rec, rl, out, sizeof(out), &pl, &e),
                         ENVELOPE_OK);
    }
    assert_int_equal(count() - before, 0);
    envelope_record_ctx_free(rc);
    envelope_keyblock_free(kb);
    envelope_keyblock_free(loaded);
}

static void test_suite1_sealer_opener(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = a, .nkeks = 1, .context = NULL, .frame_size = 0};
    envelope_decrypt_opts d = {.struct_size = sizeof(d),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_sealer *s = NULL;
    envelope_opener *op = NULL;
    envelope_err e;
    assert_int_equal(envelope_sealer_new(tu.lib, &o, 0, &s, &e), ENVELOPE_OK);
    assert_int_equal(envelope_opener_new(tu.lib, &d, &op, &e), ENVELOPE_OK);
    uint8_t in[1024], msg[4096], out[4096];
    size_t ml = 0, pl = 0;
    memset(in, 'b', sizeof(in));
    assert_int_equal(envelope_sealer_seal(s, in, sizeof(in), msg, sizeof(msg), &ml, &e),
                     ENVELOPE_OK);
    assert_int_equal(envelope_opener_open(op, msg, ml, out, sizeof(out), &pl, &e), ENVELOPE_OK);
    unsigned long before = count();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(envelope_sealer_seal(s, in, sizeof(in), msg, sizeof(msg), &ml, &e),
                         ENVELOPE_OK);
        assert_int_equal(envelope_opener_open(op, msg, ml, out, sizeof(out), &pl, &e), ENVELOPE_OK);
    }
    /* Suite 1 runs HKDF-SHA-512 per record: four SHA-512 inits each way,
     * and OpenSSL 3.0 remakes a digest's provider context on every init
     * (even with the digest left NULL). That is all that may remain: the
     * GCM contexts are re-keyed without being remade. */
    unsigned long per = (count() - before) / 1000;
    fprintf(stderr, "suite 1: %lu OpenSSL allocations per seal + open\n", per);
    assert_true(count() - before <= 8 * 1000);
    envelope_sealer_free(s);
    envelope_opener_free(op);
}

int main(void)
{
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, plain_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions failed: OpenSSL allocated before main\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite2_records),
        cmocka_unit_test(test_suite1_sealer_opener),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
