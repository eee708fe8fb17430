/*
 * test_tpm_uri.c - the TPM backend's parsers and code mapping, no TPM
 * needed: tpm2: URIs, PCR selections, OAEP label rule, TSS2 key files
 * (malformed inputs), TSS2_RC -> reason mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "tpm_int.h"
#include "test_err.h"

static void uri_handle_ok(void **state)
{
    envtpm_uri u;
    char *pub;

    assert_int_equal(envtpm_uri_parse("tpm2:handle=0x81000101", &u), ENVCORE_R_OK);
    assert_true(u.has_handle);
    assert_int_equal(u.handle, 0x81000101u);
    assert_null(u.file);
    pub = envtpm_uri_public(&u);
    assert_string_equal(pub, "tpm2:handle=0x81000101");
    free(pub);
    envtpm_uri_clear(&u);
}

static void uri_file_pcrs_pin(void **state)
{
    envtpm_uri u;
    char *pub;

    assert_int_equal(envtpm_uri_parse("tpm2:file=/tmp/a%3Bb.pem;pcrs=sha256:0,7;pin-source=file:/p",
                                      &u),
                     ENVCORE_R_OK);
    assert_false(u.has_handle);
    assert_string_equal(u.file, "/tmp/a;b.pem");
    assert_string_equal(u.pcrs, "sha256:0,7");
    assert_string_equal(u.pin_source, "file:/p");
    pub = envtpm_uri_public(&u);
    /* no pin-source in the public form; ';' re-encoded */
    assert_string_equal(pub, "tpm2:file=/tmp/a%3Bb.pem;pcrs=sha256:0,7");
    free(pub);
    envtpm_uri_clear(&u);
}

static void uri_rejects(void **state)
{
    static const char *bad[] = {
        NULL,
        "",
        "tpm2:",
        "pkcs11:object=x",
        "tpm2:handle=0x81000001", /* the SRK */
        "tpm2:handle=0x80000000", /* transient */
        "tpm2:handle=0x81800000", /* platform range */
        "tpm2:handle=81000101",   /* no 0x */
        "tpm2:handle=0x8100010",  /* 7 digits */
        "tpm2:handle=0x8100010g",
        "tpm2:handle=0x81000101;handle=0x81000102",
        "tpm2:handle=0x81000101;file=/x",  /* both */
        "tpm2:pcrs=sha256:0",              /* neither */
        "tpm2:handle=0x81000101;object=x", /* unknown attribute */
        "tpm2:handle=0x81000101;",         /* trailing ; */
        "tpm2:handle",                     /* no = */
        "tpm2:file=",                      /* empty */
        "tpm2:file=/a%",                   /* truncated escape */
        "tpm2:file=/a%zz",
        "tpm2:file=/a%00b", /* NUL */
        "tpm2:file=/a\tb",  /* control */
        "tpm2:handle=0x81000101;pcrs=md5:0",
        "tpm2:handle=0x81000101;pcrs=sha256:24",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        envtpm_uri u;
        test_err_clear();
        if (envtpm_uri_parse(bad[i], &u) != ENVCORE_R_BAD_URI)
            fail_msg("accepted: %s", bad[i] != NULL ? bad[i] : "(null)");
        assert_int_equal(test_err_reason(), ENVCORE_R_BAD_URI);
        assert_false(u.has_handle);
        assert_null(u.file);
    }
}

static void uri_too_long(void **state)
{
    char *s = malloc(ENVTPM_MAX_URI + 16);
    envtpm_uri u;

    assert_non_null(s);
    memcpy(s, "tpm2:file=/", 11);
    memset(s + 11, 'a', ENVTPM_MAX_URI);
    s[11 + ENVTPM_MAX_URI] = '\0';
    assert_int_equal(envtpm_uri_parse(s, &u), ENVCORE_R_BAD_URI);
    free(s);
}

static void pcrs_parse(void **state)
{
    TPML_PCR_SELECTION sel;

    assert_int_equal(envtpm_pcrs_parse("sha256:0,7", &sel), ENVCORE_R_OK);
    assert_int_equal(sel.count, 1);
    assert_int_equal(sel.pcrSelections[0].hash, TPM2_ALG_SHA256);
    assert_int_equal(sel.pcrSelections[0].sizeofSelect, 3);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[0], 0x81);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[1], 0);
    assert_int_equal(envtpm_pcrs_parse("sha1:23", &sel), ENVCORE_R_OK);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[2], 0x80);

    assert_int_equal(envtpm_pcrs_parse("sha256:", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:0,", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:0,0", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:07", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:1000", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:-1", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("0,7", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha3:0", &sel), ENVCORE_R_BAD_ARGUMENT);
    assert_int_equal(envtpm_pcrs_parse("sha256:0 ,7", &sel), ENVCORE_R_BAD_ARGUMENT);
}

static void label_rule(void **state)
{
    assert_true(envtpm_rsa_label_ok(NULL, 0));
    assert_true(envtpm_rsa_label_ok((const unsigned char *)"abc", 4));   /* "abc\0" */
    assert_false(envtpm_rsa_label_ok((const unsigned char *)"abc", 3));  /* no NUL */
    assert_false(envtpm_rsa_label_ok((const unsigned char *)"a\0c", 4)); /* two NULs */
    {
        unsigned char big[100];
        memset(big, 'a', sizeof(big));
        big[99] = 0;
        assert_false(envtpm_rsa_label_ok(big, sizeof(big)));
    }
}

static void keyfile_rejects(void **state)
{
    envtpm_keyfile kf;
    static const char not_pem[] = "hello";
    static const char wrong_label[] =
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
    /* SEQUENCE { OID 2.23.133.10.1.3, ... truncated } */
    static const char truncated[] =
        "-----BEGIN TSS2 PRIVATE KEY-----\nMBIGBmeBBQoBAw==\n-----END TSS2 PRIVATE KEY-----\n";
    /* SEQUENCE { OID 1.2.3 } */
    static const char wrong_oid[] =
        "-----BEGIN TSS2 PRIVATE KEY-----\nMAQGAioD\n-----END TSS2 PRIVATE KEY-----\n";

    assert_int_equal(envtpm_keyfile_parse((const unsigned char *)not_pem, strlen(not_pem), &kf),
                     ENVCORE_R_BAD_BLOB);
    assert_int_equal(envtpm_keyfile_parse((const unsigned char *)wrong_label, strlen(wrong_label),
                                          &kf),
                     ENVCORE_R_BAD_BLOB);
    assert_int_equal(envtpm_keyfile_parse((const unsigned char *)truncated, strlen(truncated), &kf),
                     ENVCORE_R_BAD_BLOB);
    assert_int_equal(envtpm_keyfile_parse((const unsigned char *)wrong_oid, strlen(wrong_oid), &kf),
                     ENVCORE_R_BAD_BLOB);
    assert_int_equal(envtpm_keyfile_parse((const unsigned char *)"", 0, &kf), ENVCORE_R_BAD_BLOB);
    ERR_clear_error();
}

static void rc_mapping(void **state)
{
    /* TPM_RC_AUTH_FAIL for session 1: 0x98e */
    assert_int_equal(envtpm_rc_reason(0x98e), ENVCORE_R_PIN_INCORRECT);
    /* TPM_RC_POLICY_FAIL session 1: 0x99d */
    assert_int_equal(envtpm_rc_reason(0x99d), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
    assert_int_equal(envtpm_rc_reason(TPM2_RC_LOCKOUT), ENVCORE_R_PIN_LOCKED);
    /* TPM_RC_HANDLE for handle 1: 0x18b */
    assert_int_equal(envtpm_rc_reason(0x18b), ENVCORE_R_OBJECT_NOT_FOUND);
    assert_int_equal(envtpm_rc_reason(TPM2_RC_INITIALIZE), ENVCORE_R_BACKEND_UNAVAILABLE);
    assert_true(envtpm_rc_retryable(TPM2_RC_INITIALIZE));
    assert_true(envtpm_rc_retryable(TSS2_TCTI_RC_IO_ERROR));
    assert_true(envtpm_rc_retryable(TPM2_RC_REFERENCE_S0));
    assert_false(envtpm_rc_retryable(0x98e)); /* never retry a wrong auth value */
    assert_false(envtpm_rc_retryable(0x99d));
    assert_false(envtpm_rc_retryable(0x18b));
    assert_int_equal(envtpm_rc_base(0x1c4), TPM2_RC_FMT1 | TPM2_RC_VALUE);
    assert_int_equal(envtpm_rc_reason(TSS2_RC_SUCCESS), ENVCORE_R_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_handle_ok),   cmocka_unit_test(uri_file_pcrs_pin),
        cmocka_unit_test(uri_rejects),     cmocka_unit_test(uri_too_long),
        cmocka_unit_test(pcrs_parse),      cmocka_unit_test(label_rule),
        cmocka_unit_test(keyfile_rejects), cmocka_unit_test(rc_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
