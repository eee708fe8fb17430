/*
 * keymgmt_common.h - what the RSA and AES-KEK key managers share: loading
 * a store reference, key params, generation through the backends.
 */
#ifndef ENVPROV_KEYMGMT_COMMON_H
#define ENVPROV_KEYMGMT_COMMON_H

#include <openssl/core.h>

#include "provider.h"

/* The reference a STORE hands to OpenSSL and KEYMGMT load() gets back. */
typedef struct {
    uint64_t magic;
    envkey *key;
} envprov_keyref;
#define ENVPROV_KEYREF_MAGIC 0x454e564b45595245ULL

void *envprov_keymgmt_load(const void *reference, size_t reference_sz, envkey_kind want);
/* Keys are immutable and reference counted: dup is a new reference. */
void envprov_keymgmt_free(void *keydata);
void *envprov_keymgmt_dup(const void *keydata, int selection);
int envprov_keymgmt_has(const void *keydata, int selection);
/* Same public half (RSA, EC). */
int envprov_keymgmt_match_public(const void *a, const void *b, int selection);
/* Exports the public half; a request that includes the private key is
 * refused (never: it does not leave its home). */
int envprov_keymgmt_export_public(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg);
int envprov_keymgmt_get_common_params(const envkey *k, OSSL_PARAM params[]);

struct envprov_gen_ctx {
    envprov_ctx *pc;
    envkey_kind kind;
    char *uri;
    int bits;
    int bits_set; /* given by the caller (else the kind's default) */
};
void *envprov_gen_init(void *provctx, int selection, const OSSL_PARAM params[], envkey_kind kind);
int envprov_gen_set_params(void *genctx, const OSSL_PARAM params[]);
const OSSL_PARAM *envprov_gen_settable_params(void *genctx, void *provctx);
void *envprov_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg);
void envprov_gen_cleanup(void *genctx);

#endif
