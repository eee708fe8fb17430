/*
 * test_lib_kek_check.c - the library's reading of a check STORE's answer
 * (lib/kek_check.c, env_kek_check_parse): what the provider writes is
 * read back; anything else, from a provider of another version or a
 * hostile one, is refused rather than half-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static int parse(const char *text, envelope_kek_check_info *ci, envelope_kek_finding *f, char *buf,
                 size_t size)
{
    snprintf(buf, size, "%s", text);
    memset(ci, 0, sizeof(*ci));
    return env_kek_check_parse(buf, ci, f);
}

static void clean_and_weak(void **state)
{
    (void)state;
    envelope_kek_check_info ci;
    envelope_kek_finding f[ENVELOPE_MAX_KEK_FINDINGS];
    char buf[512];
    assert_true(parse("aes-256", &ci, f, buf, sizeof(buf)));
    assert_string_equal(ci.kind, "aes-256");
    assert_int_equal(ci.nfindings, 0);
    assert_true(parse("rsa-2048\nweak-size\tRSA-2048: below 3072 bits\nextra-usage\tCKA_SIGN is "
                      "true",
                      &ci, f, buf, sizeof(buf)));
    assert_string_equal(ci.kind, "rsa-2048");
    assert_int_equal(ci.nfindings, 2);
    assert_string_equal(ci.findings[0].code, "weak-size");
    assert_string_equal(ci.findings[0].detail, "RSA-2048: below 3072 bits");
    assert_string_equal(ci.findings[1].code, "extra-usage");
    assert_string_equal(ci.findings[1].detail, "CKA_SIGN is true");
}

static void refused_forms(void **state)
{
    (void)state;
    envelope_kek_check_info ci;
    envelope_kek_finding f[ENVELOPE_MAX_KEK_FINDINGS];
    char buf[4096];
    static const char *const bad[] = {
        "",                            /* no kind */
        "aes\t256",                    /* a tab in the kind */
        "aes-256\n",                   /* an empty finding line */
        "aes-256\nextractable",        /* no tab */
        "aes-256\n\tno code",          /* empty code */
        "aes-256\nExtractable\tx",     /* a code outside [a-z0-9-] */
        "aes-256\nextra usage\tx",     /* a space in the code */
        "aes-256\nextract\xc3\xa9\tx", /* non-ASCII in the code */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(parse(bad[i], &ci, f, buf, sizeof(buf)));
    /* at most ENVELOPE_MAX_KEK_FINDINGS lines */
    char many[4096] = "aes-256";
    size_t o = strlen(many);
    for (int i = 0; i < ENVELOPE_MAX_KEK_FINDINGS; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "\nextra-usage\tx");
    assert_true(parse(many, &ci, f, buf, sizeof(buf)));
    assert_int_equal(ci.nfindings, ENVELOPE_MAX_KEK_FINDINGS);
    snprintf(many + o, sizeof(many) - o, "\nextra-usage\tone too many");
    assert_false(parse(many, &ci, f, buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_and_weak),
        cmocka_unit_test(refused_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
