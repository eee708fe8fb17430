/*
 * tpm_it_restart.c - the TPM goes away under a running program: swtpm is
 * killed (SIGKILL, no orderly shutdown) and started again on the same
 * state; the next unwrap must reconnect, re-establish the salted session
 * and succeed without restarting the program. A dead TPM is a clear
 * "backend unavailable", and recovery follows once it is back.
 */
#include <stdlib.h>

#include "tpm_it.h"

static void restart_recovers(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec, *rsa;
    char uri[4200];
    int round;

    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("rsa.pem"));
    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, uri, ENVTPM_KEY_RSA_2048, NULL, NULL);
    ec = it_open(t, "tpm2:handle=0x81000101");
    rsa = it_open(t, uri);
    it_ec_roundtrip(ec);
    it_rsa_roundtrip(rsa);
    assert_int_equal(envtpm_reconnects(t), 0);
    for (round = 1; round <= 2; round++) {
        it_sh("%s", getenv("TPM_IT_RESTART"));
        it_ec_roundtrip(ec);
        it_rsa_roundtrip(rsa);
        assert_int_equal(envtpm_reconnects(t), (unsigned)round);
    }
    /* RSA first this time */
    it_sh("%s", getenv("TPM_IT_RESTART"));
    it_rsa_roundtrip(rsa);
    it_ec_roundtrip(ec);
    assert_int_equal(envtpm_reconnects(t), 3);
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t);
}

/* The long-lived session across a TPM reset: the unwrap after the restart
 * fails on the dead session once, re-establishes exactly one new session
 * (one reconnect) and succeeds; the unwraps before and after each ran in
 * their connection's one session. */
static void restart_between_two_unwraps(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec = it_open(t, "tpm2:handle=0x81000101");

    it_ec_roundtrip(ec);
    it_ec_roundtrip(ec);
    assert_int_equal(envtpm_session_starts(t), 1);
    assert_int_equal(envtpm_session_commands(t), 2);
    it_sh("%s", getenv("TPM_IT_RESTART"));
    it_ec_roundtrip(ec);
    assert_int_equal(envtpm_reconnects(t), 1);
    assert_int_equal(envtpm_session_starts(t), 2);
    assert_int_equal(envtpm_session_commands(t), 1);
    it_ec_roundtrip(ec);
    assert_int_equal(envtpm_reconnects(t), 1);
    assert_int_equal(envtpm_session_starts(t), 2);
    assert_int_equal(envtpm_session_commands(t), 2);
    envtpm_key_free(ec);
    envtpm_ctx_free(t);
}

static void dead_then_back(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec = it_open(t, "tpm2:handle=0x81000101");

    it_ec_roundtrip(ec);
    it_sh("%s", getenv("TPM_IT_KILL"));
    test_err_clear();
    assert_int_equal(it_ec_try(ec), ENVCORE_R_BACKEND_UNAVAILABLE);
    assert_int_equal(it_ec_try(ec), ENVCORE_R_BACKEND_UNAVAILABLE);
    it_sh("%s", getenv("TPM_IT_START"));
    it_ec_roundtrip(ec);
    envtpm_key_free(ec);
    envtpm_ctx_free(t);
}

const struct CMUnitTest it_restart_tests[] = {
    cmocka_unit_test(restart_recovers),
    cmocka_unit_test(restart_between_two_unwraps),
    cmocka_unit_test(dead_then_back),
};
const size_t it_restart_count = sizeof(it_restart_tests) / sizeof(it_restart_tests[0]);
