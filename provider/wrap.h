/*
 * wrap.h - AEAD key wrap with any envelope key: the logic shared by the
 * asym-cipher ("aad" param) and KEM operations. See wrapblob.h for the
 * blob and include/envelope/provider.h for the caller's view.
 */
#ifndef ENVPROV_WRAP_H
#define ENVPROV_WRAP_H

#include "provider.h"

/* Largest blob a wrap of `inlen` bytes with this key can produce. */
size_t envprov_wrap_size(const envkey *k, size_t inlen);

int envprov_wrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                 const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                 size_t outsize) __attribute__((warn_unused_result));

/* On any failure the output buffer is wiped and one uniform reason is
 * raised for every authentication problem. */
int envprov_unwrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                   size_t outsize) __attribute__((warn_unused_result));

/* Software RSA encryption with the key's public half (provider's own
 * library context). label may be NULL. */
int envprov_rsa_public_encrypt(envprov_ctx *pc, const envkey *k, const envkey_rsa_params *p,
                               const unsigned char *in, size_t inlen, unsigned char *out,
                               size_t *outlen, size_t outsize);

#endif
