/*
 * wrap.h - AEAD key wrap with any envelope key: the logic shared by the
 * asym-cipher ("aad" param) and KEM operations. See wrapblob.h for the
 * blob and include/envelope/provider.h for the caller's view.
 */
#ifndef ENVPROV_WRAP_H
#define ENVPROV_WRAP_H

#include <stdint.h>

#include "provider.h"

/* Largest blob a wrap of `inlen` bytes with this key can produce. */
size_t envprov_wrap_size(const envkey *k, size_t inlen);

/* rewrap: the caller's ENVELOPE_PKEY_PARAM_PURPOSE says so (the audit
 * records op "rewrap" instead of "wrap"). */
int envprov_wrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                 const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                 size_t outsize, int rewrap) __attribute__((warn_unused_result));

/* On any failure the output buffer is wiped and one uniform reason is
 * raised for every authentication problem. Through the provider's unwrap
 * cache (unwrap_cached.c, dek_cache.h): o->cache_ttl_ms caps this call's
 * entry lifetime (UINT64_MAX: the configured cache-ttl; 0: bypass). A
 * retired key (kek_alias.h) is refused unless o->allow_retired. */
typedef struct {
    uint64_t cache_ttl_ms; /* ENVELOPE_PKEY_PARAM_CACHE_TTL; UINT64_MAX: as configured */
    int allow_retired;     /* ENVELOPE_PKEY_PARAM_ALLOW_RETIRED (logged when used) */
    int rewrap;            /* ENVELOPE_PKEY_PARAM_PURPOSE = "rewrap": audited as a rewrap */
} envprov_call_opts;
#define ENVPROV_CALL_OPTS_DEFAULT ((envprov_call_opts){UINT64_MAX, 0, 0})

int envprov_unwrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                   size_t outsize, const envprov_call_opts *o) __attribute__((warn_unused_result));
/* The unwrap cache's counters into params (ENVELOPE_PROV_PARAM_CACHE_*). */
int envprov_cache_get_params(envprov_ctx *pc, OSSL_PARAM params[]);
/* ENVCORE_R_OK unless k is a retired KEK (kek_alias.h) and o does not
 * allow it (raised: ENVCORE_R_KEK_RETIRED); an allowed use is syslog'd.
 * Every private-key operation of the provider starts with it. */
int envprov_check_retired(envprov_ctx *pc, const envkey *k, const envprov_call_opts *o);
/* The same, always asking the key's home (wrap.c). */
int envprov_unwrap_direct(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                          size_t outsize) __attribute__((warn_unused_result));

/* Software RSA encryption with the key's public half (provider's own
 * library context). label may be NULL. */
int envprov_rsa_public_encrypt(envprov_ctx *pc, const envkey *k, const envkey_rsa_params *p,
                               const unsigned char *in, size_t inlen, unsigned char *out,
                               size_t *outlen, size_t outsize);

#endif
