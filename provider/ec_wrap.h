/*
 * ec_wrap.h - AEAD wrap to an EC P-256 KEK whose private half is in a
 * device (a TPM: the backend's ecdh_zgen op).
 *
 * Wrap (software only, no device): ephemeral P-256 key e; Z = x(e * KEK);
 * K = HKDF-SHA-256(ikm Z, salt = E || KEK point, info = ENVPROV_EC_INFO);
 * AES-256-GCM under K with a random 96-bit IV and AAD = blob header ||
 * caller's AAD. Unwrap: Z from the device's ZGen(E), same derivation, GCM
 * decrypt; any failure is one "authentication failed". The blob is kind 3
 * of the wrapped-key blob (wrapblob.h, docs/WRAP-BLOB.md). A fresh key per
 * wrap makes the IV's randomness a second line only.
 */
#ifndef ENVPROV_EC_WRAP_H
#define ENVPROV_EC_WRAP_H

#include <stddef.h>

#include "provider.h"
#include "wrapblob.h"

#define ENVPROV_EC_BLOB_MAX (WRAPBLOB_EC_HEADER_LEN + 2 + ENVELOPE_MAX_WRAP_PLAINTEXT + 16)
#define ENVPROV_EC_INFO "envelope/v1 ecdh-p256 hkdf-sha256 aes-256-gcm"

size_t envprov_ec_wrap_size(size_t inlen);
int envprov_ec_wrap(envprov_ctx *pc, const envkey *k, const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                    size_t outsize) __attribute__((warn_unused_result));
int envprov_ec_unwrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                      const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                      size_t outsize) __attribute__((warn_unused_result));

#endif
