/* Unit tests for hsm/hsm_tokens.c (pkcs11-tokens): which token a
 * configured PIN may go to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "hsm_internal.h"

static CK_TOKEN_INFO token(const char *label, const char *serial)
{
    CK_TOKEN_INFO t;
    memset(&t, ' ', sizeof(t));
    memcpy(t.label, label, strlen(label));
    memcpy(t.serialNumber, serial, strlen(serial));
    return t;
}

static void parse_and_match(void **state)
{
    (void)state;
    struct hsm_token_list *l = NULL;
    /* a bare label keeps its inner spaces (p11-kit would drop them) */
    assert_int_equal(hsm_token_list_parse("YubiKey PIV #123", NULL, &l), ENVCORE_R_OK);
    CK_TOKEN_INFO yk = token("YubiKey PIV #123", "9"), yk_squeezed = token("YubiKeyPIV#123", "9");
    assert_non_null(hsm_token_list_match(l, &yk));
    assert_null(hsm_token_list_match(l, &yk_squeezed));
    hsm_token_list_free(l);
    l = NULL;
    assert_int_equal(
        hsm_token_list_parse(" prod , my%20hsm,pkcs11:token=kms?pin-source=env:KMS_PIN,"
                             "pkcs11:token=hw;serial=ABC123",
                             "file:/etc/envelope/pin", &l),
        ENVCORE_R_OK);
    CK_TOKEN_INFO prod = token("prod", "1"), spaced = token("my hsm", "2"), kms = token("kms", "3"),
                  hw = token("hw", "ABC123"), hw_copy = token("hw", "EVIL"),
                  other = token("other", "4");
    const struct hsm_token_binding *b = hsm_token_list_match(l, &prod);
    assert_non_null(b);
    assert_string_equal(hsm_token_binding_pin_source(b), "file:/etc/envelope/pin");
    assert_non_null(hsm_token_list_match(l, &spaced)); /* percent-decoded like a URI */
    b = hsm_token_list_match(l, &kms);
    assert_non_null(b);
    assert_string_equal(hsm_token_binding_pin_source(b), "env:KMS_PIN"); /* its own source */
    assert_non_null(hsm_token_list_match(l, &hw));
    /* a token that copies the label but not the serial gets nothing */
    assert_null(hsm_token_list_match(l, &hw_copy));
    assert_null(hsm_token_list_match(l, &other));
    assert_null(hsm_token_binding_pin_source(NULL));
    assert_false(hsm_token_list_empty(l));
    hsm_token_list_free(l);

    /* no list: nothing is bound, whatever pkcs11-pin-source says */
    assert_int_equal(hsm_token_list_parse(NULL, "file:/p", &l), ENVCORE_R_OK);
    assert_true(hsm_token_list_empty(l));
    assert_null(hsm_token_list_match(l, &prod));
    hsm_token_list_free(l);
    /* a listed token without any source: bound, but to no PIN */
    assert_int_equal(hsm_token_list_parse("prod", NULL, &l), ENVCORE_R_OK);
    b = hsm_token_list_match(l, &prod);
    assert_non_null(b);
    assert_null(hsm_token_binding_pin_source(b));
    hsm_token_list_free(l);
}

static void malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "prod,",                               /* trailing comma */
        "prod,,kms",                           /* empty entry */
        "pkcs11:",                             /* names no token */
        "pkcs11:model=SoftHSM%20v2",           /* still no token identity */
        "pkcs11:token=prod;object=kek",        /* objects do not belong here */
        "pkcs11:token=prod?pin-value=1234",    /* a PIN in openssl.cnf */
        "pkcs11:token=prod?module-path=/x.so", /* modules are pkcs11-module */
        "pkcs11:token=prod;colour=blue",       /* unknown attribute */
        "pro;d",                               /* bare label with a separator */
        "pkcs11:token=my token",               /* a space a URI parser drops */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hsm_token_list *l = (struct hsm_token_list *)1;
        ERR_clear_error();
        assert_int_equal(hsm_token_list_parse(bad[i], "file:/p", &l), ENVCORE_R_BAD_CONFIG);
        assert_null(l);
        assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), ENVCORE_R_BAD_CONFIG);
    }
    ERR_clear_error();
}

static void names_absent(void **state)
{
    (void)state;
    struct hsm_token_list *l = NULL;
    assert_int_equal(hsm_token_list_parse("prod, gone", NULL, &l), ENVCORE_R_OK);
    CK_TOKEN_INFO prod = token("prod", "1");
    const struct hsm_token_binding *present[] = {hsm_token_list_match(l, &prod)};
    assert_non_null(present[0]);
    P11KitUri *u = p11_kit_uri_new();
    /* a listed token that is absent: an outage */
    assert_int_equal(p11_kit_uri_parse("pkcs11:token=gone;object=k", P11_KIT_URI_FOR_ANY, u),
                     P11_KIT_URI_OK);
    assert_true(hsm_token_list_names_absent(l, u, present, 1));
    /* a listed token that is present, decorated so that it matches nothing:
     * not an outage (it would fake one) */
    assert_int_equal(p11_kit_uri_parse("pkcs11:token=prod;serial=bogus;object=k",
                                       P11_KIT_URI_FOR_ANY, u),
                     P11_KIT_URI_OK);
    assert_false(hsm_token_list_names_absent(l, u, present, 1));
    assert_int_equal(p11_kit_uri_parse("pkcs11:token=prod;model=bogus;object=k",
                                       P11_KIT_URI_FOR_ANY, u),
                     P11_KIT_URI_OK);
    assert_false(hsm_token_list_names_absent(l, u, present, 1));
    /* the message's own invention, and no token named at all */
    assert_int_equal(p11_kit_uri_parse("pkcs11:token=nosuch;object=k", P11_KIT_URI_FOR_ANY, u),
                     P11_KIT_URI_OK);
    assert_false(hsm_token_list_names_absent(l, u, present, 1));
    assert_int_equal(p11_kit_uri_parse("pkcs11:object=k", P11_KIT_URI_FOR_ANY, u), P11_KIT_URI_OK);
    assert_false(hsm_token_list_names_absent(l, u, present, 1));
    p11_kit_uri_free(u);
    hsm_token_list_free(l);
}

static void slot_or_library(void **state)
{
    (void)state;
    static const char *const yes[] = {"pkcs11:slot-id=99999;object=k",
                                      "pkcs11:slot-description=x",
                                      "pkcs11:slot-manufacturer=x",
                                      "pkcs11:library-description=x",
                                      "pkcs11:library-manufacturer=x",
                                      "pkcs11:library-version=1.0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        P11KitUri *v = p11_kit_uri_new();
        assert_int_equal(p11_kit_uri_parse(yes[i], P11_KIT_URI_FOR_ANY, v), P11_KIT_URI_OK);
        assert_true(hsm_uri_names_slot_or_library(v));
        p11_kit_uri_free(v);
    }
    P11KitUri *u = p11_kit_uri_new();
    assert_int_equal(
        p11_kit_uri_parse(
            "pkcs11:token=a;manufacturer=b;serial=c;model=d;object=k;id=%01;type=secret-key",
            P11_KIT_URI_FOR_ANY, u),
        P11_KIT_URI_OK);
    assert_false(hsm_uri_names_slot_or_library(u));
    p11_kit_uri_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_match),
        cmocka_unit_test(malformed),
        cmocka_unit_test(names_absent),
        cmocka_unit_test(slot_or_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
