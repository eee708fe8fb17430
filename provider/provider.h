/*
 * provider.h - the envelope provider's context, configuration and the
 * dispatch tables of its operations (each declared once, here).
 */
#ifndef ENVPROV_PROVIDER_H
#define ENVPROV_PROVIDER_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/types.h>

#include "envelope/provider.h"
#include "backend.h"
#include "errors.h"

/* Names of the settings read from the provider's openssl.cnf section. */
#define ENVPROV_CONF_PKCS11_MODULE "pkcs11-module"
#define ENVPROV_CONF_PKCS11_PIN_SOURCE "pkcs11-pin-source"
#define ENVPROV_CONF_RSA_PKCS1_V15 "rsa-pkcs1-v15"
#define ENVPROV_CONF_ALLOW_EXTRACTABLE "allow-extractable-kek"
#define ENVPROV_CONF_TPM2_TCTI "tpm2-tcti"
#define ENVPROV_CONF_TPM2_SRK_NAME "tpm2-srk-name"
#define ENVPROV_CONF_TPM2_PIN_SOURCE "tpm2-pin-source"
#define ENVPROV_CONF_PKCS11_TOKENS "pkcs11-tokens"
#define ENVPROV_CONF_TPM2_HANDLES "tpm2-handles"

typedef struct envprov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;   /* the caller's library context (child of core) */
    /* A private library context with only OpenSSL's default provider, for
     * the software halves of wraps (RSA-OAEP with a public key, HKDF,
     * AES-GCM). It never sees our own provider, so nothing recurses. */
    OSSL_LIB_CTX *swctx;
    OSSL_PROVIDER *swdefault; /* our reference to "default" in swctx */

    /* configuration (strings owned here; NULL when not set) */
    char *pkcs11_modules;   /* comma-separated module paths */
    char *pkcs11_pin_source;
    int rsa_pkcs1_v15;      /* 1 = allowed (default), 0 = refused */
    int allow_extractable;  /* 0 = refuse extractable keys as KEKs (default) */
    char *tpm2_tcti;
    char *tpm2_srk_name;
    char *tpm2_pin_source;
    /* pkcs11-tokens and tpm2-handles, parsed at init: where the configured
     * PINs may go and what a message may name (docs/PROVIDER.md) */
    struct hsm_token_list *pkcs11_tokens;
    struct envtpm_handle_list *tpm2_handles;
    char *config_error;     /* why a setting could not be read, or NULL */

    struct hsm_ctx *hsm;    /* PKCS#11 client, created lazily */
    struct envtpm_ctx *tpm; /* TPM client, created lazily */
} envprov_ctx;

/* The provider's one context, for code reached without a ctx argument
 * (KEYMGMT load of a store reference). One per loaded provider instance. */
envprov_ctx *envprov_ctx_get(void);

/* The PKCS#11 client, created on first use (NULL on allocation failure). */
struct hsm_ctx *envprov_hsm(envprov_ctx *pc);
/* 1 if the configuration was read; else raises ENVPROV_R_BAD_CONFIG with
 * the setting's message and returns 0. Every key operation starts here. */
int envprov_config_ok(const envprov_ctx *pc);
/* Warns once if a plain "RSA" fetch resolves to us (activated before default). */
void envprov_check_order(envprov_ctx *pc);
/* Remembers the core's error functions (errors.c). */
void envprov_errors_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in);

/* Dispatch tables (one file per OpenSSL operation). */
extern const OSSL_DISPATCH envprov_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_aes_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_rsa_asym_cipher_functions[];
/* AEAD-only keys (AES KEKs, TPM EC KEKs): wrap and unwrap, nothing else */
extern const OSSL_DISPATCH envprov_aead_asym_cipher_functions[];
extern const OSSL_DISPATCH envprov_kem_functions[];
extern const OSSL_DISPATCH envprov_pkcs11_store_functions[];
extern const OSSL_DISPATCH envprov_kek_encoder_functions[]; /* AES KEKs: refuses, says why */

/* Algorithm names. RSA keys answer to OpenSSL's RSA names (see
 * include/envelope/provider.h); operations get names of their own so that a
 * fetch by name can only ever reach the implementation meant for our keys. */
#define ENVPROV_NAMES_RSA ENVELOPE_KEYTYPE_RSA ":RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define ENVPROV_NAMES_AES_KEK "ENVELOPE-AES-KEK"
#define ENVPROV_OPNAME_RSA "ENVELOPE-RSA"
#define ENVPROV_OPNAME_AES "ENVELOPE-AES-KEK"
#define ENVPROV_PROPS "provider=envelope"

#endif
