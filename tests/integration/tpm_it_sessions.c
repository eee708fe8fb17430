/*
 * tpm_it_sessions.c - the context's one salted HMAC session (docs/TPM.md,
 * "Sessions"): started once, carries every unwrap of an HMAC-authorised
 * key, never leaks a session handle. The TPM's own count is the judge:
 * tpm2-tools' `tpm2_getcap handles-loaded-session` / `handles-saved-session`
 * against the scenario's swtpm (TPM2TOOLS_TCTI, set by tpm_run.sh), which
 * has no resource manager, so every session any client left behind shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpm_it.h"

/* 10,000 unwraps in both builds: ≈ 11 s in the normal build and ≈ 14 s in
 * the ASan+UBSan build on swtpm (2 cores shared with other jobs), well
 * inside the test's 300 s timeout even on a slower, loaded CI machine. */
#define IT_UNWRAPS 10000
#define IT_RSA_EVERY 8 /* every 8th unwrap is an RSA one, with a file key */

/* Handles of one kind the TPM reports ("- 0x02000000" lines). */
static int count_handles(const char *kind)
{
    char cmd[128], line[256];
    FILE *p;
    int n = 0;

    snprintf(cmd, sizeof(cmd), "tpm2_getcap %s", kind);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p) != NULL)
        if (strncmp(line, "- 0x", 4) == 0)
            n++;
    assert_int_equal(pclose(p), 0);
    return n;
}

static void one_session_no_growth(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *ec, *rsa;
    char uri[4200];
    int i, loaded, saved;

    snprintf(uri, sizeof(uri), "tpm2:file=%s", it_path("rsa.pem"));
    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, uri, ENVTPM_KEY_RSA_2048, NULL, NULL);
    ec = it_open(t, "tpm2:handle=0x81000101");
    rsa = it_open(t, uri);
    it_ec_roundtrip(ec);
    it_rsa_roundtrip(rsa);
    /* ours, and nothing else: the per-operation sessions of the lookups
     * and of key creation were flushed when those operations ended */
    loaded = count_handles("handles-loaded-session");
    saved = count_handles("handles-saved-session");
    assert_int_equal(loaded, 1);
    assert_int_equal(saved, 0);
    assert_int_equal(envtpm_session_starts(t), 1);
    assert_int_equal(envtpm_session_commands(t), 2);

    for (i = 0; i < IT_UNWRAPS; i++) {
        if (i % IT_RSA_EVERY == 0)
            it_rsa_roundtrip(rsa);
        else
            it_ec_roundtrip(ec);
    }
    /* every unwrap went through the one session, nonces rolling, and the
     * TPM still holds that one session and no transient object */
    assert_int_equal(envtpm_session_starts(t), 1);
    assert_int_equal(envtpm_reconnects(t), 0);
    assert_int_equal(envtpm_session_commands(t), 2 + IT_UNWRAPS);
    assert_int_equal(count_handles("handles-loaded-session"), loaded);
    assert_int_equal(count_handles("handles-saved-session"), saved);
    assert_int_equal(count_handles("handles-transient"), 0);
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_ctx_free(t); /* flushes it */
    assert_int_equal(count_handles("handles-loaded-session"), 0);
    assert_int_equal(count_handles("handles-saved-session"), 0);
}

/* A second context (another provider instance in the same process) has a
 * session of its own; both are flushed by their own teardown. */
static void two_contexts_two_sessions(void **state)
{
    struct envtpm_ctx *a = it_ctx(NULL), *b = it_ctx(NULL);
    struct envtpm_key *ka = it_open(a, "tpm2:handle=0x81000101");
    struct envtpm_key *kb = it_open(b, "tpm2:handle=0x81000101");

    it_ec_roundtrip(ka);
    it_ec_roundtrip(kb);
    it_ec_roundtrip(ka);
    assert_int_equal(count_handles("handles-loaded-session"), 2);
    assert_int_equal(envtpm_session_commands(a), 2);
    assert_int_equal(envtpm_session_commands(b), 1);
    envtpm_key_free(ka);
    envtpm_ctx_free(a);
    assert_int_equal(count_handles("handles-loaded-session"), 1);
    it_ec_roundtrip(kb);
    envtpm_key_free(kb);
    envtpm_ctx_free(b);
    assert_int_equal(count_handles("handles-loaded-session"), 0);
}

const struct CMUnitTest it_sessions_tests[] = {
    cmocka_unit_test(one_session_no_growth),
    cmocka_unit_test(two_contexts_two_sessions),
};
const size_t it_sessions_count = sizeof(it_sessions_tests) / sizeof(it_sessions_tests[0]);
