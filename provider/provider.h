/*
 * provider.h - the envelope provider's context, configuration and the
 * dispatch tables of its operations (each declared once, here).
 *
 * The provider names no backend: the homes of keys come from the backend
 * table (backends.h, generated from the backends the build registered), and
 * every STORE, key generation and published algorithm follows from it
 * (docs/ARCHITECTURE.md).
 */
#ifndef ENVPROV_PROVIDER_H
#define ENVPROV_PROVIDER_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/types.h>

#include "backend.h"
#include "envelope/provider.h"
#include "envkey.h"
#include "errors.h"

/* The provider's own settings (the backends declare theirs). */
#define ENVPROV_CONF_RSA_PKCS1_V15 "rsa-pkcs1-v15"
#define ENVPROV_CONF_CACHE_TTL "cache-ttl"           /* 0 turns the unwrap cache off */
#define ENVPROV_CONF_CACHE_CAPACITY "cache-capacity" /* entries */
/* settings for libenvelope, passed as written (ENVELOPE_PROV_PARAM_*) */
#define ENVPROV_CONF_KEK_PREFERENCE "kek-preference"
/* alias names, for programs whose configuration the provider cannot read */
#define ENVPROV_CONF_KEK_ALIASES "kek-aliases"
/* DEK reuse, for libenvelope (ENVELOPE_PROV_PARAM_DEK_*); validated here */
#define ENVPROV_CONF_DEK_REUSE_MESSAGES "dek-reuse-messages"
#define ENVPROV_CONF_DEK_REUSE_BYTES "dek-reuse-bytes"
#define ENVPROV_CONF_DEK_REUSE_SECONDS "dek-reuse-seconds"
#define ENVPROV_DEK_REUSE_SECONDS_DEFAULT 300u
#define ENVPROV_CONF_DEK_PARTITION_KEY "dek-partition-key"
#define ENVPROV_CACHE_TTL_DEFAULT_MS 60000u
#define ENVPROV_CACHE_CAPACITY_DEFAULT 10000u

/* The most backends one build registers. */
#define ENVPROV_MAX_BACKENDS 8

typedef struct envprov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx; /* the caller's library context (child of core) */
    /* A private library context with only OpenSSL's default provider, for
     * the software halves of wraps (RSA-OAEP with a public key, HKDF,
     * AES-GCM). It never sees our own provider, so nothing recurses. */
    OSSL_LIB_CTX *swctx;
    OSSL_PROVIDER *swdefault; /* our reference to "default" in swctx */

    envcore_settings *settings; /* the openssl.cnf section, as read */
    int rsa_pkcs1_v15;          /* 1 = allowed (default), 0 = refused */
    char *config_error;         /* why a setting could not be read, or NULL */
    /* the unwrap cache (dek_cache.h); NULL when cache-ttl = 0 */
    struct envprov_dek_cache *cache;
    /* DEK reuse for KEM encapsulate (kem_reuse.h); NULL when off */
    struct envprov_kem_reuse *kem_reuse;
    struct envprov_aliases *aliases; /* kek.NAME settings (kek_alias.h), or NULL */
    struct envprov_breaker *breaker; /* breaker.h; NULL when breaker-window = 0 */
    struct envprov_audit *audit;     /* audit.h; NULL when audit-log is unset */
    struct envprov_alarm *alarm;     /* alarm.h; NULL when unwrap-alarm is unset */
    EVP_MD *cache_md;                /* SHA-256 in swctx, for entry names: fetched once */
    /* random per provider instance, first in every entry name: names (and
     * so buckets and shards) cannot be chosen from outside */
    unsigned char cache_salt[32];
    uint64_t cache_ttl_ms;
    size_t cache_capacity;

    /* one client per backend of the table, created at init (they touch no
     * device until a key is used); NULL where the configuration failed */
    size_t nbackends;
    const envcore_backend *backends[ENVPROV_MAX_BACKENDS];
    void *clients[ENVPROV_MAX_BACKENDS];

    unsigned kinds; /* ENVCORE_KIND of every kind some backend holds */
    /* algorithm tables built from what the backends hold (provider_algs.c) */
    OSSL_ALGORITHM *keymgmt_algs, *asym_algs, *kem_algs, *store_algs;
    char *store_names; /* storage for the "SCHEME-list" and "SCHEME-check" names */
} envprov_ctx;

/* The provider's one context, for code reached without a ctx argument
 * (KEYMGMT load of a store reference). One per loaded provider instance. */
envprov_ctx *envprov_ctx_get(void);

/* The backend serving a URI (its probe says yes), or NULL with
 * ENVCORE_R_BAD_URI raised naming the schemes this build serves. *client
 * is that backend's client. */
const envcore_backend *envprov_backend_for(envprov_ctx *pc, const char *uri, void **client);
/* 1 if the configuration was read; else raises ENVCORE_R_BAD_CONFIG with
 * the setting's message and returns 0. Every key operation starts here. */
int envprov_config_ok(const envprov_ctx *pc);
/* Warns once if a plain "RSA" fetch resolves to us (activated before default). */
void envprov_check_order(envprov_ctx *pc);

/* provider_config.c: reads the section into pc->settings and makes the
 * backends' clients; a setting that cannot be read becomes the sticky
 * pc->config_error (0 only on allocation failure). */
int envprov_config_read(envprov_ctx *pc, const OSSL_DISPATCH *in);
void envprov_config_free(envprov_ctx *pc);
/* settings_check.c: the first key of the provider's section (found by its
 * name prov_name in the file libcrypto reads) that is none of names[0..n)
 * nor OpenSSL's own, as a malloc'd message with a "did you mean"; NULL if
 * all are known or the section cannot be told apart from another file's.
 * The alias settings found there (kek.*: kek_alias.h), whose names the
 * core cannot list, go to *alias_keys (malloc'd strings, *nalias of them). */
char *envprov_settings_unknown(const char *prov_name, const char *const *names, size_t n,
                               const envcore_settings *got, char ***alias_keys, size_t *nalias);
/* provider_algs.c: pc's algorithm tables from the backends' kinds. */
int envprov_algs_build(envprov_ctx *pc);
void envprov_algs_free(envprov_ctx *pc);

/* Dispatch tables (one file per OpenSSL operation). */
extern const OSSL_DISPATCH envprov_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_aes_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_ec_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_rsa_asym_cipher_functions[];
/* AEAD-only keys (AES KEKs, EC KEKs): wrap and unwrap, nothing else */
extern const OSSL_DISPATCH envprov_aead_asym_cipher_functions[];
extern const OSSL_DISPATCH envprov_kem_functions[];
extern const OSSL_DISPATCH envprov_store_functions[];       /* every backend's scheme */
extern const OSSL_DISPATCH envprov_list_store_functions[];  /* "SCHEME-list": names only */
extern const OSSL_DISPATCH envprov_check_store_functions[]; /* "SCHEME-check": findings */
extern const OSSL_DISPATCH envprov_kek_encoder_functions[]; /* AES KEKs: refuses, says why */

/* Algorithm names. RSA and EC keys answer to OpenSSL's names (see
 * include/envelope/provider.h) behind a first name of our own; operations
 * get names of their own so that a fetch by name can only ever reach the
 * implementation meant for our keys. */
#define ENVPROV_NAMES_RSA ENVELOPE_KEYTYPE_RSA ":RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define ENVPROV_NAMES_EC ENVELOPE_KEYTYPE_EC ":EC:id-ecPublicKey:1.2.840.10045.2.1"
#define ENVPROV_NAMES_AES_KEK "ENVELOPE-AES-KEK"
#define ENVPROV_OPNAME_RSA "ENVELOPE-RSA"
#define ENVPROV_OPNAME_EC "ENVELOPE-EC"
#define ENVPROV_OPNAME_AES "ENVELOPE-AES-KEK"
#define ENVPROV_PROPS "provider=envelope"
/* The STORE that lists a whole home without opening keys: SCHEME + this. */
#define ENVPROV_LIST_SUFFIX "-list"

#endif
