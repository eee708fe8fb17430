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
 * refused with "the key is held by the token; it can't be exported" on the
 * error queue (never: it does not leave its home). */
int envprov_keymgmt_export_public(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg);
/* "token" or "TPM": where k lives, for messages. */
const char *envprov_key_home(const envkey *k);

/* Public keys imported from another provider. OpenSSL compares keys of two
 * providers (EVP_PKEY_eq, X509_check_private_key) by exporting one into the
 * other's key manager, trying ours first when ours is the second key's;
 * a NULL from new() there is reported as "malloc failure" and left on the
 * error queue even when the other direction then succeeds. So new() makes
 * an empty key, and import() fills it with a public key only (`type` "RSA"
 * or "EC"; the public parameters are copied, nothing else): a public-only
 * key with no device behind it (has_private 0, no backend ops), which can
 * be compared and encrypted to, never used to decrypt. Importing a private
 * key is refused. */
void *envprov_keymgmt_new_empty(envkey_kind kind);
int envprov_keymgmt_import_public(void *keydata, int selection, const OSSL_PARAM params[],
                                  const char *type, const char *const *names);
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
