/*
 * test_lib_tamper.c - every single-byte change of a few small messages and
 * every truncation at and around each frame boundary is rejected, with no
 * plaintext released; an EDK copied from another message is rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "lib_test_util.h"

#define F 4096u

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* One opener for all the changes of a message: changes outside the EDK
 * list hit its remembered DEK, so only EDK changes cost an RSA unwrap. */
static void every_byte(size_t len, const char *const *kv)
{
    envelope_kek *a[] = {tu.k1};
    uint8_t *pt = tu_pattern(len, 7), *msg = NULL;
    size_t mlen = 0, olen = 0;
    envelope_err e;
    tu_seal(a, 1, kv, F, pt, len, &msg, &mlen);
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_opener *op = NULL;
    assert_int_equal(envelope_opener_new(tu.lib, &o, &op, &e), ENVELOPE_OK);
    uint8_t *out = malloc(mlen);
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < mlen; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            msg[i] ^= flips[f];
            memset(out, 0, mlen);
            olen = 12345;
            envelope_status s = envelope_opener_open(op, msg, mlen, out, mlen, &olen, &e);
            if (s == ENVELOPE_OK)
                fail_msg("change of byte %zu (^0x%02x) of a %zu-byte message accepted", i, flips[f],
                         len);
            assert_int_equal(olen, 0);
            assert_true(all_zero(out, mlen));
            msg[i] ^= flips[f];
        }
    }
    /* And the unchanged message still opens with the same opener. */
    assert_int_equal(envelope_opener_open(op, msg, mlen, out, mlen, &olen, &e), ENVELOPE_OK);
    assert_int_equal(olen, len);
    free(out);
    envelope_opener_free(op);
    OPENSSL_free(msg);
    free(pt);
}

static void test_every_byte_small(void **state)
{
    (void)state;
    static const char *const kv[] = {"tenant=acme", NULL};
    every_byte(0, NULL);
    every_byte(33, kv);
}

static void test_every_byte_two_frames(void **state)
{
    (void)state;
    every_byte(F + 1, NULL);
}

static void collect_fail_sink_reset(void);
static size_t sink_bytes;
static int count_sink(void *arg, const uint8_t *b, size_t n)
{
    (void)arg;
    (void)b;
    sink_bytes += n;
    return 0;
}
static void collect_fail_sink_reset(void)
{
    sink_bytes = 0;
}

static void test_truncations_around_frames(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    size_t len = 3 * F + 100;
    uint8_t *pt = tu_pattern(len, 3), *msg = NULL;
    size_t mlen = 0, olen = 0;
    envelope_err e;
    tu_seal(a, 1, NULL, F, pt, len, &msg, &mlen);
    env_header h;
    assert_int_equal(env_header_parse(msg, mlen, &h, NULL, &e), ENVELOPE_OK);
    size_t frame = 1 + F + 16;
    size_t cuts[64], nc = 0;
    /* In and around the header, each frame boundary, and the end. */
    size_t marks[] = {0,
                      8,
                      h.body_len,
                      h.total_len,
                      h.total_len + frame,
                      h.total_len + 2 * frame,
                      h.total_len + 3 * frame,
                      mlen};
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++)
        for (long d = -2; d <= 2; d++) {
            long c = (long)marks[m] + d;
            if (c >= 0 && (size_t)c < mlen)
                cuts[nc++] = (size_t)c;
        }
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_opener *op = NULL;
    assert_int_equal(envelope_opener_new(tu.lib, &o, &op, &e), ENVELOPE_OK);
    uint8_t *out = calloc(1, mlen);
    for (size_t i = 0; i < nc; i++) {
        /* one shot: nothing released */
        envelope_status s = envelope_opener_open(op, msg, cuts[i], out, mlen, &olen, &e);
        assert_int_not_equal(s, ENVELOPE_OK);
        assert_true(all_zero(out, mlen));
        /* streaming: the stream never ends properly */
        envelope_decryptor *d = NULL;
        collect_fail_sink_reset();
        assert_int_equal(envelope_decryptor_new(tu.lib, &o, count_sink, NULL, &d, &e), ENVELOPE_OK);
        s = envelope_decryptor_update(d, msg, cuts[i], &e);
        if (s == ENVELOPE_OK)
            s = envelope_decryptor_final(d, &e);
        assert_int_not_equal(s, ENVELOPE_OK);
        /* Only whole verified frames may have been released. */
        assert_int_equal(sink_bytes % F, 0);
        envelope_decryptor_free(d);
    }
    /* Appending anything after the final frame fails too. */
    uint8_t *longer = malloc(mlen + 1);
    memcpy(longer, msg, mlen);
    longer[mlen] = 0;
    assert_int_equal(envelope_opener_open(op, longer, mlen + 1, out, mlen, &olen, &e),
                     ENVELOPE_ERR_TRAILING_DATA);
    assert_true(all_zero(out, mlen));
    free(longer);
    free(out);
    envelope_opener_free(op);
    OPENSSL_free(msg);
    free(pt);
}

static void test_frame_swaps(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    size_t len = 3 * F;
    uint8_t *pt = tu_pattern(len, 5), *m1 = NULL, *m2 = NULL, *out = NULL;
    size_t l1, l2, olen;
    envelope_err e;
    tu_seal(a, 1, NULL, F, pt, len, &m1, &l1);
    tu_seal(a, 1, NULL, F, pt, len, &m2, &l2);
    env_header h;
    assert_int_equal(env_header_parse(m1, l1, &h, NULL, &e), ENVELOPE_OK);
    size_t frame = 1 + F + 16, f0 = h.total_len;
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    /* reorder frames 1 and 2 */
    uint8_t *tmp = malloc(frame);
    memcpy(tmp, m1 + f0, frame);
    memmove(m1 + f0, m1 + f0 + frame, frame);
    memcpy(m1 + f0 + frame, tmp, frame);
    assert_int_equal(envelope_open(tu.lib, &o, m1, l1, &out, &olen, NULL, &e), ENVELOPE_ERR_AUTH);
    memcpy(m1 + f0 + frame, m1 + f0, frame);
    memcpy(m1 + f0, tmp, frame); /* restored */
    assert_int_equal(envelope_open(tu.lib, &o, m1, l1, &out, &olen, NULL, &e), ENVELOPE_OK);
    envelope_buffer_free(out, olen);
    /* a frame from another message (same KEK, same position) */
    memcpy(m1 + f0 + frame, m2 + f0 + frame, frame);
    assert_int_equal(envelope_open(tu.lib, &o, m1, l1, &out, &olen, NULL, &e), ENVELOPE_ERR_AUTH);
    assert_null(out);
    free(tmp);
    OPENSSL_free(m1);
    OPENSSL_free(m2);
    free(pt);
}

static void test_edk_from_other_message(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    static const char *const kv[] = {"tenant=acme", NULL};
    uint8_t *m1 = NULL, *m2 = NULL, *out = NULL;
    size_t l1, l2, olen;
    envelope_err e;
    tu_seal(a, 1, kv, F, (const uint8_t *)"first", 5, &m1, &l1);
    tu_seal(a, 1, kv, F, (const uint8_t *)"other", 5, &m2, &l2);
    env_header h1, h2;
    assert_int_equal(env_header_parse(m1, l1, &h1, NULL, &e), ENVELOPE_OK);
    assert_int_equal(env_header_parse(m2, l2, &h2, NULL, &e), ENVELOPE_OK);
    assert_int_equal(h1.edk_list_len, h2.edk_list_len);
    memcpy((uint8_t *)h1.edk_list, h2.edk_list, h2.edk_list_len);
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    assert_int_equal(envelope_open(tu.lib, &o, m1, l1, &out, &olen, NULL, &e), ENVELOPE_ERR_AUTH);
    assert_null(out);
    OPENSSL_free(m1);
    OPENSSL_free(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_small),
        cmocka_unit_test(test_every_byte_two_frames),
        cmocka_unit_test(test_truncations_around_frames),
        cmocka_unit_test(test_frame_swaps),
        cmocka_unit_test(test_edk_from_other_message),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
