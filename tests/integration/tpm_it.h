/*
 * tpm_it.h - helpers of the TPM integration program (tpm_it): each
 * scenario drives envelope_tpm against the real swtpm that tpm_run.sh
 * started (ENVELOPE_TPM2_TCTI), with software OpenSSL as the other side.
 */
#ifndef ENVELOPE_TPM_IT_H
#define ENVELOPE_TPM_IT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "envtpm.h"
#include "errors.h"
#include "test_err.h"

/* A folder of the scenario's own (TPM_IT_DIR) + name. */
const char *it_path(const char *name);
/* The environment variable tpm_run.sh sets; fails the test if unset. */
const char *it_env(const char *name);
/* A context on the test TPM; srk_pin may be NULL. Fails the test if not. */
struct envtpm_ctx *it_ctx(const char *srk_pin);
/* Creates a key where uri says (fails the test on error). */
void it_create(struct envtpm_ctx *t, const char *uri, envtpm_key_type type, const char *pcrs,
               const char *pin_source);
struct envtpm_key *it_open(struct envtpm_ctx *t, const char *uri);
/* Runs a shell command, fails the test if it does not exit 0. */
void it_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Software half of ECDH: fresh ephemeral, z = x(e * KEK). */
void it_sw_ecdh(EVP_PKEY *kek, unsigned char peer[65], unsigned char z[32]);
/* Software RSA-OAEP-SHA256 encryption with label. */
void it_sw_oaep(EVP_PKEY *pub, const unsigned char *label, size_t labellen, const unsigned char *in,
                size_t inlen, unsigned char *out, size_t *outlen);

/* Round trips that assert success; return the reason of a TPM-side failure. */
void it_ec_roundtrip(struct envtpm_key *k);
void it_rsa_roundtrip(struct envtpm_key *k);
int it_ec_try(struct envtpm_key *k);  /* ENVCORE_R_OK if Z matched */
int it_rsa_try(struct envtpm_key *k); /* ENVCORE_R_OK if the DEK came back */

/* Scenario tables (one per file). */
extern const struct CMUnitTest it_basic_tests[];
extern const size_t it_basic_count;
extern const struct CMUnitTest it_policy_tests[];
extern const size_t it_policy_count;
extern const struct CMUnitTest it_restart_tests[];
extern const size_t it_restart_count;
extern const struct CMUnitTest it_traffic_tests[];
extern const size_t it_traffic_count;
extern const struct CMUnitTest it_interop_tests[];
extern const size_t it_interop_count;
extern const struct CMUnitTest it_engine_tests[];
extern const size_t it_engine_count;
extern const struct CMUnitTest it_sessions_tests[];
extern const size_t it_sessions_count;
extern const struct CMUnitTest it_tamper_tests[];
extern const size_t it_tamper_count;

#endif
