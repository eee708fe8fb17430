/*
 * envkey.h - the KEK object every component shares: what the provider's
 * OpenSSL operations (keymgmt, asym cipher, KEM, store) hold, and the ops
 * through which its home (a backend: core/backend.h) does the private-key
 * work. An operation never calls a vendor API; it calls the ops of the key
 * it was given.
 *
 * Ownership: an envkey is reference counted (envkey_up/envkey_free). The
 * backend handle is owned by the key and freed through ops->free when the
 * last reference goes. All ops are thread-safe (the backend locks). A key
 * with ops == NULL is a public half only (imported, or a STORE's public
 * view): it encrypts and compares, never decrypts.
 *
 * Return convention for ops: ENVCORE_R_OK (0) or a reason (errors.h); the
 * op has already raised the error with a specific message when it fails.
 */
#ifndef ENVELOPE_CORE_ENVKEY_H
#define ENVELOPE_CORE_ENVKEY_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "errors.h"
#include "rsa_forms.h"

typedef enum {
    ENVKEY_AES_KEK = 1, /* symmetric AEAD KEK, never leaves its home */
    ENVKEY_RSA = 2,     /* RSA key pair; private half never leaves its home */
    ENVKEY_EC_P256 = 3, /* EC P-256 key pair for ECDH (TPM) */
} envkey_kind;

typedef struct {
    int padding; /* RSA_PKCS1_PADDING or RSA_PKCS1_OAEP_PADDING */
    int oaep_md; /* NID of the OAEP hash */
    int mgf1_md; /* NID of the MGF1 hash */
    const unsigned char *label;
    size_t label_len;
} envkey_rsa_params;

/* How a backend's AEAD returned its IV (real tokens differ: docs/PROVIDER.md,
 * "GCM IVs"). */
typedef struct {
    unsigned char iv[16];
    size_t iv_len;
} envkey_aead_iv;

typedef struct envkey_backend_ops {
    const char *name; /* "pkcs11", "tpm2": appears in logs and audit */
    const char *home; /* what error messages call the key's home: "token", "TPM" */

    /* RSA: 1 if the device can do this form in hardware, 0 if not, -1 if
     * it could not be asked (error raised). */
    int (*rsa_supports)(void *be, const envkey_rsa_params *p);
    int (*rsa_decrypt)(void *be, const envkey_rsa_params *p, const unsigned char *in, size_t inlen,
                       unsigned char *out, size_t *outlen, size_t outsize);

    /* AES-GCM in the device. On encrypt `iv` is the IV to use, or iv_len 0
     * to let the device choose; on return it holds the IV actually used.
     * out = ciphertext || 16-byte tag. */
    int (*aead_encrypt)(void *be, envkey_aead_iv *iv, const unsigned char *aad, size_t aadlen,
                        const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                        size_t outsize);
    int (*aead_decrypt)(void *be, const envkey_aead_iv *iv, const unsigned char *aad, size_t aadlen,
                        const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                        size_t outsize);

    /* AES KEK in a cloud KMS that makes its own opaque ciphertext (IV and
     * tag inside; docs/WRAP-BLOB.md kind 4). opaque: 1 if key be wraps that
     * way (then aead_* are not used for it). NULL for backends without such
     * keys. The AAD is bound by the KMS. out: at most outsize bytes. */
    int (*opaque)(void *be);
    int (*opaque_encrypt)(void *be, const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                          size_t outsize);
    int (*opaque_decrypt)(void *be, const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                          size_t outsize);

    /* ECDH: the shared x-coordinate for `peer` (uncompressed SEC1 point). */
    int (*ecdh_zgen)(void *be, const unsigned char *peer, size_t peerlen, unsigned char *z,
                     size_t *zlen, size_t zsize);

    void (*free)(void *be);
} envkey_backend_ops;

typedef struct envkey {
    int refs; /* atomic, see envkey_up */
    envkey_kind kind;
    const envkey_backend_ops *ops;
    void *be;  /* the backend's handle */
    char *uri; /* reference without secrets (ENVELOPE_PKEY_PARAM_URI) */
    unsigned char key_id[64];
    size_t key_id_len;
    int bits;        /* RSA modulus bits, 256 for AES and P-256 */
    int has_private; /* 0 for a public-only object */
    /* Public half in the provider's own library context (RSA, EC), used for
     * software wraps and for export; NULL for AES. */
    EVP_PKEY *pub;
    /* RSA forms this key's device was seen to decrypt correctly, by a round
     * trip (provider/rsa_form_check.c) */
    envcore_rsa_forms rsa_forms;
    /* For the provider's unwrap cache (provider/dek_cache.h): what tells
     * this key's home apart from another with the same key id (a token's
     * manufacturer, model and serial, hashed; empty where key_id is
     * already a cryptographic name, as a TPM key's is), and whether every
     * unwrap must reach the home (a TPM key with a PCR policy: the policy
     * is checked per use, so a cached DEK would outlive a PCR change). */
    unsigned char home_id[32];
    size_t home_id_len;
    int no_cache;
} envkey;

envkey *envkey_new(envkey_kind kind, const envkey_backend_ops *ops, void *be);
envkey *envkey_up(envkey *k);
void envkey_free(envkey *k);

#endif
