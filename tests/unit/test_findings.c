/*
 * test_findings.c - core/findings.c, the text form a backend's check hands
 * the library (include/envelope/provider.h ENVELOPE_CHECK_STORE_SUFFIX),
 * and tpm/tpm_check.c's judgement of public areas (no TPM needed): the
 * template `envelope kek create` uses has no finding, each attribute taken
 * away or added gives its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "findings.h"
#include "tpm_int.h"

static void encode_kind_and_lines(void **state)
{
    (void)state;
    envcore_findings f;
    char out[1024];
    envcore_findings_init(&f, "aes-256");
    assert_int_equal(envcore_findings_encode(&f, out, sizeof(out)), 7);
    assert_string_equal(out, "aes-256");
    envcore_findings_add(&f, ENVCORE_F_EXTRACTABLE, "CKA_EXTRACTABLE is %s", "true");
    envcore_findings_add(&f, ENVCORE_F_USAGE, "CKA_SIGN");
    size_t n = envcore_findings_encode(&f, out, sizeof(out));
    assert_string_equal(out,
                        "aes-256\nextractable\tCKA_EXTRACTABLE is true\nextra-usage\tCKA_SIGN");
    assert_int_equal(n, strlen(out));
}

/* A label from a token must not add lines or fields, nor reach a terminal. */
static void controls_are_replaced(void **state)
{
    (void)state;
    envcore_findings f;
    char out[512];
    envcore_findings_init(&f, "rsa\t2048\n");
    envcore_findings_add(&f, ENVCORE_F_USAGE, "label \"%s\"", "a\nb\tc\x1b[31m\x7f");
    envcore_findings_encode(&f, out, sizeof(out));
    assert_string_equal(out, "rsa?2048?\nextra-usage\tlabel \"a?b?c?[31m?\"");
}

static void too_small_is_zero(void **state)
{
    (void)state;
    envcore_findings f;
    char out[16];
    envcore_findings_init(&f, "aes-256");
    envcore_findings_add(&f, ENVCORE_F_USAGE, "a detail longer than the buffer");
    assert_int_equal(envcore_findings_encode(&f, out, sizeof(out)), 0);
    assert_int_equal(envcore_findings_encode(&f, out, 7), 0); /* the kind needs 8 */
}

static void overflow_is_said(void **state)
{
    (void)state;
    envcore_findings f;
    static char out[ENVCORE_FINDINGS_MAX * (ENVCORE_FINDING_DETAIL + 32) + 256];
    envcore_findings_init(&f, "aes-256");
    for (int i = 0; i < ENVCORE_FINDINGS_MAX + 3; i++)
        envcore_findings_add(&f, ENVCORE_F_USAGE, "finding %d", i);
    assert_int_equal(f.n, ENVCORE_FINDINGS_MAX);
    assert_true(f.truncated);
    assert_true(envcore_findings_encode(&f, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "\nmore-findings\t"));
    assert_null(strstr(out, "finding 16"));
}

static void long_detail_is_cut(void **state)
{
    (void)state;
    envcore_findings f;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    envcore_findings_init(&f, "aes-256");
    envcore_findings_add(&f, ENVCORE_F_USAGE, "%s", big);
    assert_int_equal(strlen(f.f[0].detail), ENVCORE_FINDING_DETAIL - 1);
}

static int has(const envcore_findings *f, const char *code, const char *text)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].code, code) == 0 && strstr(f->f[i].detail, text) != NULL)
            return 1;
    return 0;
}

static void tpm_template_is_clean(void **state)
{
    (void)state;
    TPM2B_PUBLIC t;
    envcore_findings f;
    for (int policy = 0; policy < 2; policy++)
        for (int auth = 0; auth < 2; auth++) {
            envtpm_kek_template(ENVTPM_KEY_EC_P256, policy, auth, &t);
            envtpm_check_public(&t.publicArea, &f);
            assert_string_equal(f.kind, "ec-p256");
            assert_int_equal(f.n, 0);
            envtpm_kek_template(ENVTPM_KEY_RSA_2048, policy, auth, &t);
            envtpm_check_public(&t.publicArea, &f);
            assert_string_equal(f.kind, "rsa-2048");
            assert_int_equal(f.n, 0);
        }
}

static void tpm_each_weakness(void **state)
{
    (void)state;
    TPM2B_PUBLIC t;
    envcore_findings f;
    envtpm_kek_template(ENVTPM_KEY_EC_P256, 0, 0, &t);
    t.publicArea.objectAttributes &= ~(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT);
    envtpm_check_public(&t.publicArea, &f);
    assert_int_equal(f.n, 2);
    assert_true(has(&f, ENVCORE_F_NOT_FIXED, "fixedTPM is clear"));
    assert_true(has(&f, ENVCORE_F_NOT_FIXED, "fixedParent is clear"));

    envtpm_kek_template(ENVTPM_KEY_EC_P256, 0, 0, &t);
    t.publicArea.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
    t.publicArea.objectAttributes &= ~TPMA_OBJECT_SENSITIVEDATAORIGIN;
    envtpm_check_public(&t.publicArea, &f);
    assert_int_equal(f.n, 2);
    assert_true(has(&f, ENVCORE_F_USAGE, "sign is set"));
    assert_true(has(&f, ENVCORE_F_ONCE_EXTRACTABLE, "sensitiveDataOrigin is clear"));

    envtpm_kek_template(ENVTPM_KEY_RSA_2048, 0, 0, &t);
    t.publicArea.objectAttributes |= TPMA_OBJECT_RESTRICTED;
    t.publicArea.parameters.rsaDetail.keyBits = 1024;
    envtpm_check_public(&t.publicArea, &f);
    assert_string_equal(f.kind, "rsa-1024");
    assert_true(has(&f, ENVCORE_F_USAGE, "restricted is set"));
    assert_true(has(&f, ENVCORE_F_WEAK_SIZE, "RSA-1024"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_kind_and_lines), cmocka_unit_test(controls_are_replaced),
        cmocka_unit_test(too_small_is_zero),     cmocka_unit_test(overflow_is_said),
        cmocka_unit_test(long_detail_is_cut),    cmocka_unit_test(tpm_template_is_clean),
        cmocka_unit_test(tpm_each_weakness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
