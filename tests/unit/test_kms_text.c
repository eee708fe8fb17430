/*
 * test_kms_text.c - kms_text.h: well-formed UTF-8 (RFC 3629 §4) and the
 * Unique Identifier rule behind CKA_ID lookups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kms_text.h"

#define OK(s) assert_true(kms_utf8_valid(s, sizeof(s) - 1))
#define BAD(s) assert_false(kms_utf8_valid(s, sizeof(s) - 1))

static void test_utf8(void **state)
{
    (void)state;
    OK("");
    OK("kek-a");
    OK("cl\xc3\xa9");                   /* é */
    OK("\xe2\x82\xac");                 /* € */
    OK("\xf0\x9f\x94\x91");             /* U+1F511 */
    OK("\xef\xbf\xbf\xf4\x8f\xbf\xbf"); /* U+FFFF, U+10FFFF */
    BAD("cl\xe9");                      /* latin-1 é */
    BAD("\xc3");                        /* cut short */
    BAD("\xe2\x82");
    BAD("\x80");     /* lone continuation */
    BAD("\xc0\xaf"); /* overlong '/' */
    BAD("\xc1\xbf");
    BAD("\xe0\x80\xaf");     /* overlong 3-byte */
    BAD("\xf0\x80\x80\xaf"); /* overlong 4-byte */
    BAD("\xed\xa0\x80");     /* surrogate U+D800 */
    BAD("\xf4\x90\x80\x80"); /* U+110000 */
    BAD("\xf5\x80\x80\x80");
    BAD("\xff");
    BAD("a\0b");     /* NUL */
    BAD("\xc3\x28"); /* bad continuation */
}

static void test_uid(void **state)
{
    (void)state;
    assert_true(kms_uid_ok("1", 1, 128));
    assert_true(kms_uid_ok("f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 36, 128));
    assert_true(kms_uid_ok("cl\xc3\xa9", 4, 128));
    assert_false(kms_uid_ok("", 0, 128));
    assert_false(kms_uid_ok("12345", 5, 4));
    assert_false(kms_uid_ok("a\tb", 3, 128));
    assert_false(kms_uid_ok("a\x7f", 2, 128));
    /* what the provider's keygen probes for: random binary bytes */
    assert_false(
        kms_uid_ok("\xf7\x10\x80\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 16, 128));
    assert_true(kms_text_has_non_ascii("cl\xc3\xa9", 4));
    assert_false(kms_text_has_non_ascii("kek-a", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_uid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
