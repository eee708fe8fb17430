/*
 * test_lib_bytes.c - the bounded reader and writer never step outside
 * their buffers and report how much input a short read needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bytes.h"

static void test_reader(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7};
    env_rd r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    env_rd_init(&r, b, sizeof(b));
    assert_true(env_rd_u8(&r, &u8));
    assert_int_equal(u8, 1);
    assert_true(env_rd_u16(&r, &u16));
    assert_int_equal(u16, 0x0203);
    assert_true(env_rd_u32(&r, &u32));
    assert_int_equal(u32, 0x04050607);
    assert_int_equal(env_rd_left(&r), 0);
    assert_false(env_rd_u8(&r, &u8));
    assert_int_equal(r.need, 8);
    /* once short, always short */
    assert_null(env_rd_bytes(&r, 0));
    env_rd_init(&r, b, 3);
    assert_null(env_rd_bytes(&r, SIZE_MAX));
    assert_int_equal(r.off, 0);
    env_rd_init(&r, b, 3);
    assert_true(env_rd_u16(&r, &u16));
    assert_false(env_rd_u32(&r, &u32));
    assert_int_equal(r.need, 6);
}

static void test_writer(void **state)
{
    (void)state;
    uint8_t b[5] = {0};
    env_wr w;
    env_wr_init(&w, b, 4);
    env_wr_u16(&w, 0xABCD);
    env_wr_u8(&w, 1);
    assert_false(w.overflow);
    env_wr_u16(&w, 0x1234);
    assert_true(w.overflow);
    assert_int_equal(b[4], 0); /* nothing past cap */
    assert_int_equal(b[0], 0xAB);
    assert_int_equal(w.off, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reader),
                                       cmocka_unit_test(test_writer)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
