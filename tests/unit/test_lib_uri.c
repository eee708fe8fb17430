/*
 * test_lib_uri.c - references recorded in messages carry no secrets, and
 * references read from messages never choose modules, PINs or files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void strip(const char *in, const char *want)
{
    char out[ENVELOPE_MAX_KEK_URI + 1];
    envelope_err e;
    assert_int_equal(env_uri_strip(in, out, sizeof(out), &e), ENVELOPE_OK);
    assert_string_equal(out, want);
}

/* What a message records is printable ASCII: a reference with UTF-8 or a
 * space is percent-encoded, never written as bytes no decoder accepts. */
static void test_printable(void **state)
{
    (void)state;
    char ref[ENVELOPE_MAX_KEK_URI + 1];
    envelope_err e;
    strcpy(ref, "file:/keys/cl\xc3\xa9 1.pem");
    assert_int_equal(env_uri_printable(ref, sizeof(ref), &e), ENVELOPE_OK);
    assert_string_equal(ref, "file:/keys/cl%C3%A9%201.pem");
    strcpy(ref, "pkcs11:token=prod;object=a%20b"); /* already printable: unchanged */
    assert_int_equal(env_uri_printable(ref, sizeof(ref), &e), ENVELOPE_OK);
    assert_string_equal(ref, "pkcs11:token=prod;object=a%20b");
    /* too long once encoded: refused, not cut */
    memset(ref, '\xe9', 400);
    ref[400] = '\0';
    assert_int_equal(env_uri_printable(ref, sizeof(ref), &e), ENVELOPE_ERR_ARGUMENT);
    char small[8];
    strcpy(small, "a b c");
    assert_int_equal(env_uri_printable(small, sizeof(small), &e), ENVELOPE_ERR_ARGUMENT);
}

static void test_strip(void **state)
{
    (void)state;
    strip("file:/k/kek.pem", "file:/k/kek.pem");
    strip("/k/kek.pem?x=1", "/k/kek.pem");
    strip("pkcs11:token=prod;object=kek;pin-value=1234", "pkcs11:token=prod;object=kek");
    strip("pkcs11:pin-source=file:/p;token=t;module-path=/x.so;object=o?pin-value=9&module-name=m",
          "pkcs11:token=t;object=o");
    strip("pkcs11:PIN-VALUE=1;object=o", "pkcs11:object=o");
    strip("tpm2:handle=0x81000002?pin=secret", "tpm2:handle=0x81000002");
}

static envelope_status check(const char *uri)
{
    char out[ENVELOPE_MAX_KEK_URI + 1];
    envelope_err e;
    return env_uri_check_untrusted((const uint8_t *)uri, strlen(uri), out, sizeof(out), &e);
}

static void test_untrusted(void **state)
{
    (void)state;
    assert_int_equal(check("pkcs11:token=prod;object=kek;id=%01"), ENVELOPE_OK);
    assert_int_equal(check("tpm2:handle=0x81000002"), ENVELOPE_OK);
    assert_int_equal(check("tpm2:handle=0x81000101;pcrs=sha256:0,7"), ENVELOPE_OK);
    assert_int_equal(check("pkcs11:token=envtest;id=%74%17;object=demo-aes;type=secret-key"),
                     ENVELOPE_OK);
    static const char *const refused[] = {
        /* OpenSSL's file: loader would take these as relative paths */
        "pkcs11:evil/k.pem",
        "tpm2:x/k.pem",
        /* a message may name a key, never a file or how to reach it */
        "tpm2:file=/etc/passwd",
        "tpm2:handle=0x81000101;file=/tmp/k.pem",
        "pkcs11:token=prod;object=k;slot-id=0",
        "pkcs11:token=prod;object=k;library-manufacturer=x",
        "pkcs11:token=prod?object=k",
        /* names no key: would match the first one */
        "pkcs11:",
        "pkcs11:token=prod",
        "tpm2:pcrs=sha256:0",
        "kms:key=abc", /* no such scheme: KMS keys are pkcs11: URIs via the bridge */
        "file:/etc/kek.pem",
        "/etc/kek.pem",
        "kek.pem",
        "http://evil/kek",
        "pkcs11:module-path=/tmp/evil.so;object=k",
        "pkcs11:object=k;module-name=evil",
        "pkcs11:object=k?pin-value=1234",
        "pkcs11:object=k;pin-source=file:/etc/shadow",
        "pkcs11:object=k;%70in-source=file:/etc/shadow",
        "pkcs11:object=k;module%2Dpath=/tmp/x.so",
        "pkcs11:object=k;MODULE-PATH=/tmp/x.so",
        "pkcs11:object=k%00",
        "pkcs11:object=a b",
        "pkcs11:object=\x01",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (check(refused[i]) != ENVELOPE_ERR_KEK_REF_REFUSED)
            fail_msg("accepted untrusted reference \"%s\"", refused[i]);
    /* "pin" inside an ordinary value is not an attribute name */
    assert_int_equal(check("pkcs11:object=pin-value-rotation"), ENVELOPE_OK);
    uint8_t high[] = {'p', 'k', 'c', 's', '1', '1', ':', 0xC3, 0xA9};
    char out[64];
    envelope_err e;
    assert_int_equal(env_uri_check_untrusted(high, sizeof(high), out, sizeof(out), &e),
                     ENVELOPE_ERR_KEK_REF_REFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_strip),
                                       cmocka_unit_test(test_untrusted),
                                       cmocka_unit_test(test_printable)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
