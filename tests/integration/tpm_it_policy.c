/*
 * tpm_it_policy.c - PCR policies and auth values: extend a PCR and unwrap
 * is refused with ENVCORE_R_PCR_POLICY_NOT_SATISFIED; a wrong auth value is
 * refused with ENVCORE_R_PIN_INCORRECT (at most two wrong tries per TPM:
 * swtpm locks out after three, TPM2_PT_MAX_AUTH_FAIL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tpm_int.h" /* envtpm_handle_listed */
#include "tpm_it.h"

static void write_pin(const char *name, const char *value)
{
    FILE *f = fopen(it_path(name), "w");
    assert_non_null(f);
    fputs(value, f);
    fclose(f);
    assert_int_equal(chmod(it_path(name), 0600), 0); /* others' PIN files are refused */
}

static void pcr_policy(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *eh, *rf, *ef, *plain, *k = NULL;
    char uri_rf[4200], uri_ef[4200];
    int i;

    snprintf(uri_rf, sizeof(uri_rf), "tpm2:file=%s", it_path("rsa-pcr.pem"));
    snprintf(uri_ef, sizeof(uri_ef), "tpm2:file=%s", it_path("ec-pcr.pem"));
    it_create(t, "tpm2:handle=0x81000201", ENVTPM_KEY_EC_P256, "sha256:0,7", NULL);
    it_create(t, uri_rf, ENVTPM_KEY_RSA_2048, "sha256:7", NULL);
    it_create(t, uri_ef, ENVTPM_KEY_EC_P256, "sha256:0,7", NULL);
    it_create(t, "tpm2:handle=0x81000202", ENVTPM_KEY_EC_P256, NULL, NULL);

    /* a policy-only key at a handle needs its PCR selection in the URI */
    test_err_clear();
    assert_int_equal(envtpm_key_open(t, "tpm2:handle=0x81000201", &k), ENVCORE_R_BAD_URI);
    assert_null(k);
    /* a file key carries its policy; a different pcrs= is refused */
    {
        char bad[4300];
        snprintf(bad, sizeof(bad), "%s;pcrs=sha256:0", uri_ef);
        assert_int_equal(envtpm_key_open(t, bad, &k), ENVCORE_R_BAD_URI);
    }
    eh = it_open(t, "tpm2:handle=0x81000201;pcrs=sha256:0,7");
    assert_string_equal(envtpm_key_uri(eh), "tpm2:handle=0x81000201;pcrs=sha256:0,7");
    rf = it_open(t, uri_rf);
    ef = it_open(t, uri_ef);
    plain = it_open(t, "tpm2:handle=0x81000202");
    it_ec_roundtrip(eh);
    it_rsa_roundtrip(rf);
    it_ec_roundtrip(ef);
    /* the key file holds its policy as a TPM2_PolicyPCR (0x17F) entry */
    it_sh("openssl asn1parse -in '%s' | grep -q 'INTEGER *:017F'", it_path("ec-pcr.pem"));

    /* a wrong PCR selection on the handle URI does not open a back door */
    k = it_open(t, "tpm2:handle=0x81000201;pcrs=sha256:0");
    assert_int_equal(it_ec_try(k), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
    envtpm_key_free(k);

    it_sh(
        "tpm2_pcrextend 7:sha256=0000000000000000000000000000000000000000000000000000000000000001");

    /* several times: a failed policy session must be flushed (3 slots) */
    for (i = 0; i < 4; i++) {
        test_err_clear();
        assert_int_equal(it_ec_try(eh), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
        assert_int_equal(test_err_reason(), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
        assert_non_null(strstr(test_err_message(), "PCR policy not satisfied"));
        assert_int_equal(it_rsa_try(rf), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
        assert_int_equal(it_ec_try(ef), ENVCORE_R_PCR_POLICY_NOT_SATISFIED);
    }
    /* keys without a policy are unaffected, and the session still works */
    it_ec_roundtrip(plain);
    /* a key created now binds the new PCR values */
    it_create(t, "tpm2:handle=0x81000203", ENVTPM_KEY_EC_P256, "sha256:0,7", NULL);
    k = it_open(t, "tpm2:handle=0x81000203;pcrs=sha256:0,7");
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    envtpm_key_free(eh);
    envtpm_key_free(rf);
    envtpm_key_free(ef);
    envtpm_key_free(plain);
    envtpm_ctx_free(t);
}

static void auth_value(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k = NULL;
    char uri[4400], base[4200];
    envtpm_create_params p = {.type = ENVTPM_KEY_EC_P256};

    write_pin("pin", "s3cret-pin\n");
    write_pin("wrong", "s3cret-pim\n");
    write_pin("long", "0123456789abcdef0123456789abcdef0");
    snprintf(uri, sizeof(uri), "file:%s", it_path("pin"));
    it_create(t, "tpm2:handle=0x81000301", ENVTPM_KEY_EC_P256, NULL, uri);
    /* an auth value longer than a SHA-256 digest is refused, not cut */
    snprintf(uri, sizeof(uri), "file:%s", it_path("long"));
    p.pin_source = uri;
    assert_int_equal(envtpm_key_create(t, "tpm2:handle=0x81000302", &p), ENVCORE_R_BAD_ARGUMENT);

    snprintf(uri, sizeof(uri), "tpm2:handle=0x81000301;pin-source=file:%s", it_path("pin"));
    k = it_open(t, uri);
    assert_string_equal(envtpm_key_uri(k), "tpm2:handle=0x81000301"); /* no secret source */
    it_ec_roundtrip(k);
    envtpm_key_free(k);

    /* wrong auth value (one try): refused with PIN_INCORRECT */
    snprintf(uri, sizeof(uri), "tpm2:handle=0x81000301;pin-source=file:%s", it_path("wrong"));
    k = it_open(t, uri);
    test_err_clear();
    assert_int_equal(it_ec_try(k), ENVCORE_R_PIN_INCORRECT);
    assert_null(strstr(test_err_message(), "s3cret"));
    envtpm_key_free(k);
    /* the right value (from env:NAME this time) still works: one failure
     * so far, under the lockout threshold */
    setenv("ENVTPM_IT_PIN", "s3cret-pin", 1);
    k = it_open(t, "tpm2:handle=0x81000301;pin-source=env:ENVTPM_IT_PIN");
    it_ec_roundtrip(k);
    envtpm_key_free(k);

    /* file key with auth value + PCR policy: PolicyPCR + PolicyAuthValue */
    snprintf(base, sizeof(base), "tpm2:file=%s", it_path("rsa-auth.pem"));
    snprintf(uri, sizeof(uri), "file:%s", it_path("pin"));
    it_create(t, base, ENVTPM_KEY_RSA_2048, "sha256:0", uri);
    /* its file says the key has an auth value: without a source, refused */
    assert_int_equal(envtpm_key_open(t, base, &k), ENVCORE_R_PIN_MISSING);
    snprintf(uri, sizeof(uri), "%s;pin-source=file:%s", base, it_path("pin"));
    k = it_open(t, uri);
    it_rsa_roundtrip(k);
    envtpm_key_free(k);
    snprintf(uri, sizeof(uri), "%s;pin-source=file:%s", base, it_path("wrong"));
    k = it_open(t, uri);
    assert_int_equal(it_rsa_try(k), ENVCORE_R_PIN_INCORRECT);
    envtpm_key_free(k);
    /* unset variable */
    unsetenv("ENVTPM_IT_PIN");
    assert_int_equal(envtpm_key_open(t, "tpm2:handle=0x81000301;pin-source=env:ENVTPM_IT_PIN", &k),
                     ENVCORE_R_PIN_MISSING);
    envtpm_ctx_free(t);
}

/* The provider-wide pin source (tpm2-pin-source) goes only to the handles
 * tpm2-handles lists, and there only to keys that have an auth value,
 * decided from the key: a PCR-only key gets no PolicyAuthValue and an
 * empty-auth key not the PIN as HMAC key. Adds no wrong-auth try (the
 * earlier tests used two of swtpm's three). */
static void default_pin_source(void **state)
{
    envtpm_config cfg = {0};
    struct envtpm_ctx *t = NULL, *plain;
    struct envtpm_key *k = NULL;
    struct envtpm_handle_list *all = NULL, *others = NULL;
    char src[4200];

    snprintf(src, sizeof(src), "file:%s", it_path("pin"));
    assert_int_equal(envtpm_handle_list_parse("0x81000203, 0x81000202,0x81000301 , 0x81000303", src,
                                              &all),
                     ENVCORE_R_OK);
    assert_int_equal(envtpm_handle_list_parse("0x81000202", src, &others), ENVCORE_R_OK);

    /* the pin source is offered to no unlisted key: a DA-protected key
     * that may have an auth value is refused up front, not tried empty */
    cfg.pin_source = src;
    cfg.handles = others;
    assert_int_equal(envtpm_ctx_new(&cfg, &t), ENVCORE_R_OK);
    test_err_clear();
    assert_int_equal(envtpm_key_open(t, "tpm2:handle=0x81000301", &k), ENVCORE_R_PIN_MISSING);
    assert_null(k);
    /* a message may name only listed handles, never a file or a pin source */
    assert_int_equal(envtpm_key_open_ex(t, "tpm2:handle=0x81000301", ENVTPM_OPEN_FROM_MESSAGE, &k),
                     ENVCORE_R_REFERENCE_NOT_ALLOWED);
    assert_int_equal(envtpm_key_open_ex(t, "tpm2:handle=0x81000202;pin-source=file:/etc/passwd",
                                        ENVTPM_OPEN_FROM_MESSAGE, &k),
                     ENVCORE_R_REFERENCE_NOT_ALLOWED);
    assert_int_equal(envtpm_key_open_ex(t, "tpm2:file=/etc/passwd", ENVTPM_OPEN_FROM_MESSAGE, &k),
                     ENVCORE_R_REFERENCE_NOT_ALLOWED);
    assert_null(k);
    assert_int_equal(envtpm_key_open_ex(t, "tpm2:handle=0x81000202", ENVTPM_OPEN_FROM_MESSAGE, &k),
                     ENVCORE_R_OK);
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    k = NULL;
    envtpm_ctx_free(t);
    t = NULL;

    cfg.handles = all;
    assert_int_equal(envtpm_ctx_new(&cfg, &t), ENVCORE_R_OK);
    /* PCR-only handle key (created after the extend in pcr_policy) */
    k = it_open(t, "tpm2:handle=0x81000203;pcrs=sha256:0,7");
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    /* empty-auth (noDA) handle key */
    k = it_open(t, "tpm2:handle=0x81000202");
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    /* a key with an auth value gets the default source */
    k = it_open(t, "tpm2:handle=0x81000301");
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    /* PCR + auth value at a handle: PolicyAuthValue found from its
     * authPolicy, the PIN from the default source */
    it_create(t, "tpm2:handle=0x81000303", ENVTPM_KEY_EC_P256, "sha256:0", src);
    k = it_open(t, "tpm2:handle=0x81000303;pcrs=sha256:0");
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    envtpm_ctx_free(t);

    /* without any pin source that key is refused up front, not tried */
    plain = it_ctx(NULL);
    k = NULL;
    test_err_clear();
    assert_int_equal(envtpm_key_open(plain, "tpm2:handle=0x81000303;pcrs=sha256:0", &k),
                     ENVCORE_R_PIN_MISSING);
    assert_null(k);
    envtpm_ctx_free(plain);
    envtpm_handle_list_free(all);
    envtpm_handle_list_free(others);
}

/* tpm2-handles is checked when it is read: a typo fails loudly. */
static void handle_list_syntax(void **state)
{
    static const char *const bad[] = {
        "0x81000001",                           /* the SRK */
        "0x80000001",                           /* not persistent */
        "0x81000101,",                          /* trailing comma */
        "0x81000101,,0x81000102",               /* empty entry */
        "0x81000101, 0x81000101",               /* twice */
        "tpm2:file=/k.pem",                     /* not a handle */
        "tpm2:handle=0x81000101;pcrs=sha256:0", /* policy belongs to the key URI */
        "handle=0x81000101",
    };
    struct envtpm_handle_list *l = NULL;
    const char *src = NULL;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_err_clear();
        assert_int_equal(envtpm_handle_list_parse(bad[i], NULL, &l), ENVCORE_R_BAD_CONFIG);
        assert_null(l);
    }
    assert_int_equal(envtpm_handle_list_parse(" 0x81000101 , tpm2:handle=0x81000102;"
                                              "pin-source=env:X",
                                              "file:/d", &l),
                     ENVCORE_R_OK);
    assert_true(envtpm_handle_listed(l, 0x81000101u, &src));
    assert_string_equal(src, "file:/d");
    assert_true(envtpm_handle_listed(l, 0x81000102u, &src));
    assert_string_equal(src, "env:X");
    assert_false(envtpm_handle_listed(l, 0x81000103u, &src));
    assert_null(src);
    envtpm_handle_list_free(l);
    assert_int_equal(envtpm_handle_list_parse(NULL, "file:/d", &l), ENVCORE_R_OK);
    assert_false(envtpm_handle_listed(l, 0x81000101u, &src));
    envtpm_handle_list_free(l);
}

const struct CMUnitTest it_policy_tests[] = {
    cmocka_unit_test(pcr_policy),
    cmocka_unit_test(auth_value),
    cmocka_unit_test(default_pin_source),
    cmocka_unit_test(handle_list_syntax),
};
const size_t it_policy_count = sizeof(it_policy_tests) / sizeof(it_policy_tests[0]);
