/*
 * hsm.h - the provider's PKCS#11 client.
 *
 * Why raw PKCS#11 and not libp11: libp11 (0.4.12) has no secret-key objects
 * and no wrap/unwrap API, so AES KEKs cannot be reached through it. We use
 * p11-kit for what it does well (the PKCS#11 header, RFC 7512 URI parsing,
 * module loading) and call the module's function list ourselves, every call
 * through one wrapper (hsm_call.c) that logs it and maps its return code.
 *
 * Threads: every function here is thread-safe. Fork: each entry point checks
 * the pid and re-initialises the module in a child before use.
 * Teardown: see hsm_module.c for the ordering rules at process exit.
 */
#ifndef ENVELOPE_HSM_H
#define ENVELOPE_HSM_H

#include <stddef.h>

#include "backend.h"

struct hsm_ctx;

typedef struct {
    const char *modules;          /* comma-separated module paths (pkcs11-module) */
    const char *pin_source;       /* default pin-source (file:PATH | env:NAME), or NULL */
    int allow_extractable;        /* accept extractable / non-sensitive keys as KEKs */
} hsm_config;

/* Creates the client; loads nothing until first use. */
struct hsm_ctx *hsm_ctx_new(const hsm_config *cfg);
/* Releases sessions and modules (see hsm_module.c for exit ordering). */
void hsm_ctx_free(struct hsm_ctx *h);

/* Object classes a URI may ask for (type=...). */
enum hsm_obj_type { HSM_TYPE_ANY = 0, HSM_TYPE_SECRET, HSM_TYPE_PRIVATE, HSM_TYPE_PUBLIC };

/*
 * Finds the keys a pkcs11: URI names and hands each to cb as an envkey (the
 * callee takes its own reference). For an RSA key pair only the private key
 * is reported unless type=public was asked. Returns ENVPROV_R_OK, or a reason
 * already raised (ENVPROV_R_OBJECT_NOT_FOUND when nothing matched).
 * `swctx` is the library context the public halves are built in.
 */
typedef int (*hsm_key_cb)(envkey *key, void *arg);
int hsm_find_keys(struct hsm_ctx *h, OSSL_LIB_CTX *swctx, const char *uri,
                  hsm_key_cb cb, void *arg);

/* Creates a KEK on the token the URI names (token, object label, optional
 * id). kind ENVKEY_AES_KEK (AES-256) or ENVKEY_RSA (bits >= 2048). Least
 * privilege: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE and
 * only encrypt/decrypt. Refuses if an object with that label or id exists. */
int hsm_generate_key(struct hsm_ctx *h, OSSL_LIB_CTX *swctx, const char *uri,
                     envkey_kind kind, int bits, envkey **out);

/* True when the URI's scheme is pkcs11: (case-insensitive). */
int hsm_is_pkcs11_uri(const char *uri);

#endif
