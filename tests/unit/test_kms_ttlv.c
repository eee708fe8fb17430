/*
 * test_kms_ttlv.c - KMIP 1.4 §9.1 TTLV writer and bounded reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ttlv.h"

/* KMIP 1.4 §9.1.2 example: Integer 8 -> 42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00 */
static void test_spec_examples(void **state)
{
    uint8_t buf[64];
    ttlv_w w;
    ttlv_w_init(&w, buf, sizeof(buf));
    ttlv_w_int(&w, 0x420020, 8);
    static const uint8_t want_int[] = {0x42, 0x00, 0x20, 0x02, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 0};
    assert_false(w.err);
    assert_int_equal(w.len, sizeof(want_int));
    assert_memory_equal(buf, want_int, sizeof(want_int));

    /* Text String "Hello World" -> length 11, padded to 16 (§9.1.2). */
    ttlv_w_init(&w, buf, sizeof(buf));
    ttlv_w_text(&w, 0x420020, "Hello World", 11);
    static const uint8_t want_text[] = {0x42, 0x00, 0x20, 0x07, 0,   0,   0,   0x0b,
                                        'H',  'e',  'l',  'l',  'o', ' ', 'W', 'o',
                                        'r',  'l',  'd',  0,    0,   0,   0,   0};
    assert_int_equal(w.len, sizeof(want_text));
    assert_memory_equal(buf, want_text, sizeof(want_text));

    /* Structure with an Enumeration 254 and an Integer 255 (§9.1.2). */
    ttlv_w_init(&w, buf, sizeof(buf));
    size_t s = ttlv_w_begin(&w, 0x420020);
    ttlv_w_enum(&w, 0x420004, 254);
    ttlv_w_int(&w, 0x420005, 255);
    ttlv_w_end(&w, s);
    static const uint8_t want_struct[] = {0x42, 0x00, 0x20, 0x01, 0, 0, 0, 0x20,
                                          0x42, 0x00, 0x04, 0x05, 0, 0, 0, 4,
                                          0,    0,    0,    0xfe, 0, 0, 0, 0,
                                          0x42, 0x00, 0x05, 0x02, 0, 0, 0, 4,
                                          0,    0,    0,    0xff, 0, 0, 0, 0};
    assert_int_equal(w.len, sizeof(want_struct));
    assert_memory_equal(buf, want_struct, sizeof(want_struct));

    ttlv_r r, in;
    ttlv_r_init(&r, buf, w.len);
    assert_int_equal(ttlv_find_struct(&r, 0x420020, &in), TTLV_OK);
    uint32_t e;
    int32_t i;
    assert_int_equal(ttlv_find_enum(&in, 0x420004, &e), TTLV_OK);
    assert_int_equal(e, 254);
    assert_int_equal(ttlv_find_int(&in, 0x420005, &i), TTLV_OK);
    assert_int_equal(i, 255);
    assert_int_equal(ttlv_find_int(&in, 0x420004, &i), TTLV_ETYPE); /* enum, not int */
    assert_int_equal(ttlv_find_int(&in, 0x420099, &i), TTLV_EMISSING);
}

static void test_writer_overflow_is_sticky(void **state)
{
    uint8_t buf[24];
    ttlv_w w;
    ttlv_w_init(&w, buf, sizeof(buf));
    ttlv_w_int(&w, 0x420001, 1); /* 16 bytes */
    assert_false(w.err);
    ttlv_w_int(&w, 0x420001, 2); /* would need 32 */
    assert_true(w.err);
    size_t len = w.len;
    ttlv_w_bytes(&w, 0x420002, (const uint8_t *)"x", 1);
    assert_true(w.err);
    assert_int_equal(w.len, len);
}

static void test_reader_bounds(void **state)
{
    /* Byte String claiming 16 bytes with only 8 present. */
    const uint8_t short_val[] = {0x42, 0x00, 0xc2, 0x08, 0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8};
    ttlv_r r;
    ttlv_item it;
    ttlv_r_init(&r, short_val, sizeof(short_val));
    assert_int_equal(ttlv_next(&r, &it), TTLV_EMALFORMED);
    assert_int_equal(ttlv_validate(short_val, sizeof(short_val)), TTLV_EMALFORMED);

    /* Length 0xFFFFFFFF must not wrap the padding computation. */
    const uint8_t huge[] = {0x42, 0x00, 0xc2, 0x08, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
    ttlv_r_init(&r, huge, sizeof(huge));
    assert_int_equal(ttlv_next(&r, &it), TTLV_EMALFORMED);

    /* Nor any length whose padding would wrap a 32-bit size_t. */
    for (uint32_t l = 0xFFFFFFF0u; l != 0; l++) {
        uint8_t h[16] = {
            0x42,      0x00, 0xc2, 0x08, (uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8),
            (uint8_t)l};
        ttlv_r_init(&r, h, sizeof(h));
        assert_int_equal(ttlv_next(&r, &it), TTLV_EMALFORMED);
        assert_int_equal(ttlv_validate(h, sizeof(h)), TTLV_EMALFORMED);
    }

    /* Header cut short. */
    ttlv_r_init(&r, huge, 5);
    assert_int_equal(ttlv_next(&r, &it), TTLV_EMALFORMED);

    /* Padding must fit: 3 value bytes need 8 on the wire. */
    const uint8_t nopad[] = {0x42, 0x00, 0xc2, 0x08, 0, 0, 0, 3, 1, 2, 3};
    ttlv_r_init(&r, nopad, sizeof(nopad));
    assert_int_equal(ttlv_next(&r, &it), TTLV_EMALFORMED);

    /* Integer of length 8, Boolean of value 2, unknown type 0x0B, tag 0x13xxxx. */
    const uint8_t badint[] = {0x42, 0x00, 0x01, 0x02, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t badbool[] = {0x42, 0x00, 0x01, 0x06, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2};
    const uint8_t badtype[] = {0x42, 0x00, 0x01, 0x0b, 0, 0, 0, 0};
    const uint8_t badtag[] = {0x13, 0x00, 0x01, 0x07, 0, 0, 0, 0};
    assert_int_equal(ttlv_validate(badint, sizeof(badint)), TTLV_EMALFORMED);
    assert_int_equal(ttlv_validate(badbool, sizeof(badbool)), TTLV_EMALFORMED);
    assert_int_equal(ttlv_validate(badtype, sizeof(badtype)), TTLV_EMALFORMED);
    assert_int_equal(ttlv_validate(badtag, sizeof(badtag)), TTLV_EMALFORMED);
    assert_int_equal(ttlv_validate(NULL, 0), TTLV_EMALFORMED);

    /* A structure whose child overruns the structure (but not the buffer). */
    const uint8_t overrun[] = {0x42, 0x00, 0x01, 0x01, 0, 0, 0, 8, 0x42, 0x00, 0x02, 0x08,
                               0,    0,    0,    8,    1, 2, 3, 4, 5,    6,    7,    8};
    assert_int_equal(ttlv_validate(overrun, sizeof(overrun)), TTLV_EMALFORMED);
}

static size_t nest(uint8_t *buf, size_t cap, int depth)
{
    ttlv_w w;
    size_t open[64];
    ttlv_w_init(&w, buf, cap);
    for (int i = 0; i < depth; i++)
        open[i] = ttlv_w_begin(&w, 0x420001);
    ttlv_w_int(&w, 0x420002, 7);
    for (int i = depth - 1; i >= 0; i--)
        ttlv_w_end(&w, open[i]);
    assert_false(w.err);
    return w.len;
}

static void test_depth_limit(void **state)
{
    uint8_t buf[2048];
    /* depth counts structures entered: TTLV_MAX_DEPTH is accepted, one more is not. */
    size_t n = nest(buf, sizeof(buf), TTLV_MAX_DEPTH);
    assert_int_equal(ttlv_validate(buf, n), TTLV_OK);
    n = nest(buf, sizeof(buf), TTLV_MAX_DEPTH + 1);
    assert_int_equal(ttlv_validate(buf, n), TTLV_ETOODEEP);
    n = nest(buf, sizeof(buf), 60);
    assert_int_equal(ttlv_validate(buf, n), TTLV_ETOODEEP);
}

static void test_roundtrip_types(void **state)
{
    uint8_t buf[256];
    ttlv_w w;
    ttlv_w_init(&w, buf, sizeof(buf));
    ttlv_w_long(&w, 0x420010, -5);
    ttlv_w_bool(&w, 0x420011, 1);
    ttlv_w_datetime(&w, 0x420012, 1700000000);
    ttlv_w_bytes(&w, 0x420013, (const uint8_t *)"", 0);
    ttlv_w_text(&w, 0x420014, "abc", 3);
    assert_false(w.err);
    assert_int_equal(ttlv_validate(buf, w.len), TTLV_OK);
    ttlv_r r;
    ttlv_r_init(&r, buf, w.len);
    const uint8_t *b;
    size_t bn;
    const char *s;
    size_t sn;
    assert_int_equal(ttlv_find_bytes(&r, 0x420013, &b, &bn), TTLV_OK);
    assert_int_equal(bn, 0);
    assert_int_equal(ttlv_find_text(&r, 0x420014, &s, &sn), TTLV_OK);
    assert_int_equal(sn, 3);
    assert_memory_equal(s, "abc", 3);
    assert_int_equal(ttlv_find_text(&r, 0x420013, &s, &sn), TTLV_ETYPE);
    ttlv_item it;
    int count = 0;
    while (ttlv_next(&r, &it) == TTLV_OK)
        count++;
    assert_int_equal(count, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),   cmocka_unit_test(test_writer_overflow_is_sticky),
        cmocka_unit_test(test_reader_bounds),   cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_roundtrip_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
