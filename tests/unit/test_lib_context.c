/*
 * test_lib_context.c - encryption contexts: canonical order, limits, UTF-8,
 * encoding round trip and the expected-pairs check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void test_sorted_and_unique(void **state)
{
    (void)state;
    envelope_context *c = NULL;
    envelope_err e;
    assert_int_equal(envelope_context_new(&c, &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "b", "2", &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "ab", "", &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add_kv(c, "a=1=x", &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "\xc3\xa9", "\xe2\x82\xac", &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "b", "3", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_count(c), 4);
    assert_string_equal(envelope_context_key(c, 0), "a");
    assert_string_equal(envelope_context_value(c, 0), "1=x");
    assert_string_equal(envelope_context_key(c, 1), "ab");
    assert_string_equal(envelope_context_key(c, 2), "b");
    assert_string_equal(envelope_context_key(c, 3), "\xc3\xa9");
    assert_null(envelope_context_key(c, 4));
    size_t n = env_context_encoded_len(c);
    uint8_t *enc = malloc(n);
    env_context_encode(c, enc);
    envelope_context *d = NULL;
    assert_int_equal(env_context_decode(enc, n, &d, &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_count(d), 4);
    assert_string_equal(envelope_context_get(d, "ab"), "");
    /* expected pairs */
    envelope_context *x = NULL;
    assert_int_equal(envelope_context_new(&x, &e), ENVELOPE_OK);
    assert_int_equal(env_context_check(x, enc, n, &e), ENVELOPE_OK); /* none expected */
    assert_int_equal(envelope_context_add(x, "b", "2", &e), ENVELOPE_OK);
    assert_int_equal(env_context_check(x, enc, n, &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(x, "zz", "1", &e), ENVELOPE_OK);
    assert_int_equal(env_context_check(x, enc, n, &e), ENVELOPE_ERR_CONTEXT_MISMATCH);
    envelope_context_free(x);
    /* A message's pairs out of order are a format error. */
    envelope_context_free(d);
    uint8_t bad[] = {0, 2, 0, 1, 'b', 0, 0, 0, 1, 'a', 0, 0};
    assert_int_equal(env_context_decode(bad, sizeof(bad), &d, &e), ENVELOPE_ERR_CONTEXT_ENCODING);
    assert_null(d);
    free(enc);
    envelope_context_free(d);
    envelope_context_free(c);
}

static void test_limits_and_utf8(void **state)
{
    (void)state;
    envelope_context *c = NULL;
    envelope_err e;
    char big[1100];
    assert_int_equal(envelope_context_new(&c, &e), ENVELOPE_OK);
    assert_int_equal(envelope_context_add(c, "", "v", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_add(c, "a=b", "v", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_add_kv(c, "novalue", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_add(c, "k", "\xc0\xaf", &e),
                     ENVELOPE_ERR_CONTEXT_INVALID); /* overlong */
    assert_int_equal(envelope_context_add(c, "k", "\xed\xa0\x80", &e),
                     ENVELOPE_ERR_CONTEXT_INVALID); /* surrogate */
    assert_int_equal(envelope_context_add(c, "k", "\xf4\x90\x80\x80", &e),
                     ENVELOPE_ERR_CONTEXT_INVALID);
    assert_int_equal(envelope_context_add(c, "k", "\xe2\x82", &e),
                     ENVELOPE_ERR_CONTEXT_INVALID); /* cut */
    memset(big, 'k', 256);
    big[256] = '\0';
    assert_int_equal(envelope_context_add(c, big, "", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    big[255] = '\0';
    assert_int_equal(envelope_context_add(c, big, "", &e), ENVELOPE_OK);
    memset(big, 'v', 1025);
    big[1025] = '\0';
    assert_int_equal(envelope_context_add(c, "v", big, &e), ENVELOPE_ERR_CONTEXT_INVALID);
    big[1024] = '\0';
    /* 8192 bytes encoded: fill with 1 KiB values until the total is over */
    envelope_status s = ENVELOPE_OK;
    char key[8];
    int i;
    for (i = 0; i < 20 && s == ENVELOPE_OK; i++) {
        key[0] = 'a' + (char)i, key[1] = '\0';
        s = envelope_context_add(c, key, big, &e);
    }
    assert_int_equal(s, ENVELOPE_ERR_CONTEXT_INVALID);
    assert_non_null(strstr(e.message, "8192"));
    assert_true(env_context_encoded_len(c) - 2 <= ENVELOPE_MAX_CONTEXT_BYTES);
    envelope_context_free(c);
    /* 64 pairs at most */
    assert_int_equal(envelope_context_new(&c, &e), ENVELOPE_OK);
    for (i = 0; i < 64; i++) {
        key[0] = 'A' + (char)(i / 26), key[1] = 'a' + (char)(i % 26), key[2] = '\0';
        assert_int_equal(envelope_context_add(c, key, "", &e), ENVELOPE_OK);
    }
    assert_int_equal(envelope_context_add(c, "zz", "", &e), ENVELOPE_ERR_CONTEXT_INVALID);
    envelope_context_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sorted_and_unique),
                                       cmocka_unit_test(test_limits_and_utf8)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
