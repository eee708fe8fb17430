/*
 * test_tpm_srk.c - the SRK checks (envtpm_srk_verify), no TPM needed: the
 * pin and the TOFU name are compared with the name of the public area held
 * in the SRK's ESYS_TR (the key the session salt is encrypted to), and a
 * second ReadPublic that answers with another key is refused even when that
 * other key is the pinned one (the interposer that answers the lookup with
 * its own key and the check with the real one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tpm_int.h"
#include "test_err.h"

typedef struct {
    TPM2B_PUBLIC real, evil;
    unsigned char real_name[ENVTPM_MAX_NAME], evil_name[ENVTPM_MAX_NAME];
    size_t real_len, evil_len;
    TPM2B_NAME real_reported, evil_reported;
} srks;

static void make(TPM2B_PUBLIC *p, unsigned char fill, unsigned char *name, size_t *len,
                 TPM2B_NAME *reported)
{
    envtpm_srk_template(p);
    p->publicArea.unique.ecc.x.size = 32;
    memset(p->publicArea.unique.ecc.x.buffer, fill, 32);
    p->publicArea.unique.ecc.y.size = 32;
    memset(p->publicArea.unique.ecc.y.buffer, fill ^ 0x5a, 32);
    assert_int_equal(envtpm_public_name(&p->publicArea, name, len), ENVCORE_R_OK);
    assert_int_equal(*len, 34);
    reported->size = (UINT16)*len;
    memcpy(reported->name, name, *len);
}

static void setup_srks(srks *s)
{
    memset(s, 0, sizeof(*s));
    make(&s->real, 0x11, s->real_name, &s->real_len, &s->real_reported);
    make(&s->evil, 0x22, s->evil_name, &s->evil_len, &s->evil_reported);
}

static void consistent_reads_pass(void **state)
{
    srks s;

    setup_srks(&s);
    /* no pin and first use */
    assert_int_equal(envtpm_srk_verify(NULL, 0, 0, s.real_name, s.real_len, &s.real.publicArea,
                                       &s.real_reported),
                     ENVCORE_R_OK);
    /* pinned, and the handle holds the pinned key */
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len, 1, s.real_name, s.real_len,
                                       &s.real.publicArea, &s.real_reported),
                     ENVCORE_R_OK);
}

static void pinned_mismatch_refused(void **state)
{
    srks s;

    setup_srks(&s);
    test_err_clear();
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len, 1, s.evil_name, s.evil_len,
                                       &s.evil.publicArea, &s.evil_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "pinned"));
    /* a pin of another length never matches */
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len - 1, 1, s.real_name, s.real_len,
                                       &s.real.publicArea, &s.real_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
}

/* The attack of the review: the lookup (whose public area ESYS stores and
 * encrypts the salt to) was answered with the interposer's key, the check's
 * ReadPublic with the real, pinned one. The pin matches the second answer
 * but not the handle: refused. */
static void handle_name_is_what_counts(void **state)
{
    srks s;

    setup_srks(&s);
    test_err_clear();
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len, 1, s.evil_name, s.evil_len,
                                       &s.real.publicArea, &s.real_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "two reads"));
    /* the same without a pin: the two answers must still agree */
    assert_int_equal(envtpm_srk_verify(NULL, 0, 0, s.evil_name, s.evil_len, &s.real.publicArea,
                                       &s.real_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
}

static void tofu_name_kept(void **state)
{
    srks s;

    setup_srks(&s);
    test_err_clear();
    /* reconnect finds another (consistent, well-formed) SRK than first use */
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len, 0, s.evil_name, s.evil_len,
                                       &s.evil.publicArea, &s.evil_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "first connected"));
    assert_int_equal(envtpm_srk_verify(s.real_name, s.real_len, 0, s.real_name, s.real_len,
                                       &s.real.publicArea, &s.real_reported),
                     ENVCORE_R_OK);
}

static void reported_name_and_attributes(void **state)
{
    srks s;

    setup_srks(&s);
    /* the TPM's name for the area is not the hash of the area */
    assert_int_equal(envtpm_srk_verify(NULL, 0, 0, s.real_name, s.real_len, &s.real.publicArea,
                                       &s.evil_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
    assert_int_equal(envtpm_srk_verify(NULL, 0, 0, s.real_name, s.real_len, &s.real.publicArea,
                                       NULL),
                     ENVCORE_R_KEY_NOT_SAFE);
    /* not a storage key (not restricted); names made consistent */
    s.real.publicArea.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
    assert_int_equal(envtpm_public_name(&s.real.publicArea, s.real_name, &s.real_len),
                     ENVCORE_R_OK);
    memcpy(s.real_reported.name, s.real_name, s.real_len);
    test_err_clear();
    assert_int_equal(envtpm_srk_verify(NULL, 0, 0, s.real_name, s.real_len, &s.real.publicArea,
                                       &s.real_reported),
                     ENVCORE_R_KEY_NOT_SAFE);
    assert_non_null(strstr(test_err_message(), "not a storage key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consistent_reads_pass),        cmocka_unit_test(pinned_mismatch_refused),
        cmocka_unit_test(handle_name_is_what_counts),   cmocka_unit_test(tofu_name_kept),
        cmocka_unit_test(reported_name_and_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
