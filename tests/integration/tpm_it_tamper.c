/*
 * tpm_it_tamper.c - responses altered on the way back from the TPM (the
 * fault injector tests/fault/tcti_fault.c in front of the scenario's swtpm,
 * armed with ENVELOPE_FAULT_TCTI): the unwrap session run by tpm_hsess.c
 * must refuse an answer whose HMAC does not check - a flipped HMAC bit, or a
 * flipped bit of the encrypted Z or DEK, which would otherwise decrypt to a
 * wrong secret - re-establish the session once and retry, and never loop;
 * and a TPM_RC_NONCE answer must get a new session, the old one flushed.
 */
#include <stdlib.h>
#include <string.h>

#include "tpm_it.h"

#define CC_ZGEN "154"
#define CC_RSA "159"

static void arm(const char *what, const char *cc, int first, int count)
{
    char spec[64];

    snprintf(spec, sizeof(spec), "%s:%s:%d:%d", what, cc, first, count);
    assert_int_equal(setenv("ENVELOPE_FAULT_TCTI", spec, 1), 0);
}

static void disarm(void)
{
    assert_int_equal(unsetenv("ENVELOPE_FAULT_TCTI"), 0);
}

/* One altered response: refused, one new session, the retry succeeds with
 * the right secret. */
static void once(const char *what, const char *cc, int rsa)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    char uri[4200];
    struct envtpm_key *k;

    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("rsa.pem"));
    k = it_open(t, rsa ? uri : "tpm2:handle=0x81000101");
    if (rsa)
        it_rsa_roundtrip(k);
    else
        it_ec_roundtrip(k);
    assert_int_equal(envtpm_session_starts(t), 1);
    arm(what, cc, 1, 1);
    if (rsa)
        it_rsa_roundtrip(k); /* the DEK must match */
    else
        it_ec_roundtrip(k); /* Z must match the software side's */
    disarm();
    assert_int_equal(envtpm_reconnects(t), 1);
    assert_int_equal(envtpm_session_starts(t), 2);
    assert_int_equal(envtpm_session_commands(t), 1);
    envtpm_key_free(k);
    envtpm_ctx_free(t);
}

static void setup_keys(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    char uri[4200];

    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("rsa.pem"));
    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, uri, ENVTPM_KEY_RSA_2048, NULL, NULL);
    envtpm_ctx_free(t);
}

static void ec_hmac_flipped(void **state)
{
    once("rsp-hmac", CC_ZGEN, 0);
}

static void ec_ciphertext_flipped(void **state)
{
    once("rsp-param", CC_ZGEN, 0);
}

static void rsa_ciphertext_flipped(void **state)
{
    once("rsp-param", CC_RSA, 1);
}

/* The TPM ran the command but the answer says TPM_RC_NONCE: our nonces
 * are out of step. The session is flushed (it is still ours), a new one
 * started, the unwrap retried once and right; the TPM holds one session. */
static void nonce_error_new_session(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k = it_open(t, "tpm2:handle=0x81000101");

    it_ec_roundtrip(k);
    arm("rc-nonce", CC_ZGEN, 1, 1);
    it_ec_roundtrip(k);
    disarm();
    assert_int_equal(envtpm_reconnects(t), 1);
    assert_int_equal(envtpm_session_starts(t), 2);
    it_ec_roundtrip(k);
    assert_int_equal(envtpm_session_commands(t), 2);
    it_sh("test \"$(tpm2_getcap handles-loaded-session | grep -c '^- ')\" = 1");
    envtpm_key_free(k);
    envtpm_ctx_free(t);
    it_sh("test -z \"$(tpm2_getcap handles-loaded-session)\"");
}

/* Altered every time: the unwrap fails after exactly one retry, with the
 * output wiped; the next one, unaltered, works in a new session. */
static void persistent_tamper_no_loop(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k = it_open(t, "tpm2:handle=0x81000101");
    unsigned char peer[65], zsw[32], z[64], zero[64] = {0};
    size_t zlen = 0;

    it_ec_roundtrip(k);
    arm("rsp-hmac", CC_ZGEN, 1, 1000);
    it_sw_ecdh(envtpm_key_public(k), peer, zsw);
    memset(z, 0xaa, sizeof(z));
    test_err_clear();
    assert_int_equal(envtpm_ecdh_zgen(k, peer, sizeof(peer), z, &zlen, sizeof(z)),
                     ENVCORE_R_BACKEND_UNAVAILABLE);
    assert_memory_equal(z, zero, sizeof(z));
    assert_int_equal(envtpm_reconnects(t), 1); /* one retry, no loop */
    disarm();
    it_ec_roundtrip(k);
    assert_int_equal(envtpm_reconnects(t), 1);
    /* first, the retry's, and the one after the poisoned connection */
    assert_int_equal(envtpm_session_starts(t), 3);
    envtpm_key_free(k);
    envtpm_ctx_free(t);
}

const struct CMUnitTest it_tamper_tests[] = {
    cmocka_unit_test(setup_keys),
    cmocka_unit_test(ec_hmac_flipped),
    cmocka_unit_test(ec_ciphertext_flipped),
    cmocka_unit_test(rsa_ciphertext_flipped),
    cmocka_unit_test(nonce_error_new_session),
    cmocka_unit_test(persistent_tamper_no_loop),
};
const size_t it_tamper_count = sizeof(it_tamper_tests) / sizeof(it_tamper_tests[0]);
