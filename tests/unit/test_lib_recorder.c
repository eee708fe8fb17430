/*
 * test_lib_recorder.c - envelope_recorder on software RSA KEKs, one thread:
 * a DEK's window (messages, bytes) and the LRU bound on live DEKs decide
 * how many DEKs are made; the seal bound holds; BUFFER_TOO_SMALL sets the
 * size; an expected context is required; a tampered record fails and is
 * not kept; the opening LRU serves every context it holds without an
 * unwrap. (lib.softhsm.recorder: threads, a token, locked memory.)
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

static envelope_recorder *make(size_t msgs, uint64_t bytes, size_t deks, size_t keys)
{
    static envelope_kek *a[1];
    a[0] = tu.k2;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.dek_messages = msgs;
    o.dek_bytes = bytes;
    o.max_deks = deks;
    o.max_keys = keys;
    envelope_recorder *r = NULL;
    envelope_err e;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_OK);
    return r;
}

static envelope_recorder_stats stats(envelope_recorder *r)
{
    envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
    envelope_err e;
    assert_int_equal(envelope_recorder_stats_get(r, &st, &e), ENVELOPE_OK);
    return st;
}

static void roundtrip(envelope_recorder *r, envelope_context *c, const char *text)
{
    uint8_t msg[2048], back[64];
    size_t mlen = 0, blen = 0, len = strlen(text);
    envelope_err e;
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)text, len, msg, sizeof(msg),
                                            &mlen, &e),
                     ENVELOPE_OK);
    assert_true(mlen <= envelope_recorder_seal_bound(r, c, len));
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    assert_int_equal(blen, len);
    assert_memory_equal(back, text, len);
}

static void test_windows(void **state)
{
    (void)state;
    envelope_context *c = tu_context((const char *const[]){"tenant=a", NULL});
    envelope_recorder *r = make(10, 0, 0, 0);
    for (int i = 0; i < 100; i++)
        roundtrip(r, c, "a record");
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_made, 10); /* 10 records per DEK */
    assert_int_equal(st.unwraps, 10);   /* each new DEK unwrapped once to open */
    assert_int_equal(st.seals, 100);
    envelope_recorder_free(r);
    r = make(0, 80, 0, 0); /* 80 bytes per DEK: 10 records of 8 */
    for (int i = 0; i < 100; i++)
        roundtrip(r, c, "8 bytes!");
    assert_int_equal(stats(r).deks_made, 10);
    envelope_recorder_free(r);
    envelope_context_free(c);
}

static void test_lru_bounds(void **state)
{
    (void)state;
    envelope_context *c[8];
    for (int i = 0; i < 8; i++) {
        char kv[16];
        snprintf(kv, sizeof(kv), "tenant=t%d", i);
        c[i] = tu_context((const char *const[]){kv, NULL});
    }
    /* room for every context: one DEK and one unwrap each */
    envelope_recorder *r = make(0, 0, 8, 8);
    for (int i = 0; i < 80; i++)
        roundtrip(r, c[i % 8], "x");
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_made, 8);
    assert_int_equal(st.unwraps, 8);
    assert_int_equal(st.deks_live, 8);
    assert_int_equal(st.keys_live, 8);
    envelope_recorder_free(r);
    /* room for 4 of 8 round robin: the least recently used is gone each time */
    r = make(0, 0, 4, 4);
    for (int i = 0; i < 80; i++)
        roundtrip(r, c[i % 8], "x");
    st = stats(r);
    assert_int_equal(st.deks_made, 80);
    assert_int_equal(st.deks_live, 4);
    assert_int_equal(st.keys_live, 4);
    envelope_recorder_free(r);
    for (int i = 0; i < 8; i++)
        envelope_context_free(c[i]);
}

static void test_contract(void **state)
{
    (void)state;
    envelope_context *c = tu_context((const char *const[]){"tenant=a", NULL});
    envelope_context *empty = tu_context(NULL);
    envelope_recorder *r = make(0, 0, 0, 0);
    envelope_err e;
    uint8_t msg[2048], back[64];
    size_t mlen = 0, blen = 0, need = 0;
    static const uint8_t text[] = "twenty bytes of text";
    assert_int_equal(envelope_recorder_seal(r, c, text, 20, msg, 10, &need, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(envelope_recorder_seal(r, c, text, 20, msg, need, &mlen, &e), ENVELOPE_OK);
    assert_int_equal(mlen, need);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, 19, &blen, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(blen, 20);
    assert_int_equal(envelope_recorder_open(r, NULL, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_int_equal(envelope_recorder_open(r, empty, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    assert_int_equal(blen, 20);
    /* a plain opener reads it */
    envelope_kek *a[] = {tu.k2};
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    dop.expected = c;
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &p, &plen, NULL, &e), ENVELOPE_OK);
    envelope_buffer_free(p, plen);
    /* tampered: AUTH, nothing released, and the good record still opens */
    msg[mlen - 20] ^= 1;
    memset(back, 0x55, sizeof(back));
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_ERR_AUTH);
    for (size_t i = 0; i < 20; i++)
        assert_int_not_equal(back[i], text[i]);
    msg[mlen - 20] ^= 1;
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    /* options */
    envelope_recorder *r2 = NULL;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r2, &e), ENVELOPE_ERR_KEK_COUNT);
    o.struct_size = 0;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r2, &e), ENVELOPE_ERR_ARGUMENT);
    assert_null(r2);
    envelope_recorder_free(r);
    envelope_context_free(c);
    envelope_context_free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_lru_bounds),
        cmocka_unit_test(test_contract),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
