/*
 * lib_test_util.h - shared fixtures for the libenvelope unit tests: two
 * software RSA KEKs (3072 and 2048 bits) generated into a private temp
 * folder and opened through OpenSSL's file: store, as a user would.
 */
#ifndef LIB_TEST_UTIL_H
#define LIB_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "envelope/envelope.h"

typedef struct tu_env {
    char dir[256];
    char pem1[320], pem2[320], pub1[320], ec[320];
    envelope_lib *lib;
    envelope_kek *k1, *k2, *pub1k;
} tu_env;

extern tu_env tu;

/* cmocka group setup/teardown filling `tu`. */
int tu_setup(void **state);
int tu_teardown(void **state);

/* Deterministic plaintext of n bytes (caller frees with free()). */
uint8_t *tu_pattern(size_t n, unsigned seed);

/* One-shot seal with the given KEKs and "k=v" pairs (NULL-terminated). */
void tu_seal(envelope_kek **keks, size_t n, const char *const *kv, size_t fs, const uint8_t *pt,
             size_t len, uint8_t **msg, size_t *mlen);
envelope_context *tu_context(const char *const *kv);

#endif
