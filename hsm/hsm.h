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

#include <openssl/types.h>

#include "backend.h"
#include "envkey.h"

struct hsm_ctx;
struct hsm_token_list;

typedef struct {
    const char *modules;    /* comma-separated module paths (pkcs11-module) */
    const char *pin_source; /* pkcs11-pin-source (file:PATH | env:NAME), or NULL */
    /* pkcs11-tokens, parsed (hsm_token_list_parse): the only tokens a
     * configured PIN is offered to and a message may name. Not copied: it
     * must outlive the context. */
    const struct hsm_token_list *tokens;
    int allow_extractable; /* accept extractable / non-sensitive keys as KEKs */
    OSSL_LIB_CTX *swctx;   /* where the public halves are built (not owned) */
} hsm_config;

/*
 * Parses pkcs11-tokens (docs/PROVIDER.md, "PINs and tokens"): entries are
 * token labels or pkcs11: token URIs with an optional pin-source; entries
 * without one get default_pin_source. NULL or "" is an empty list. On a
 * malformed entry raises ENVCORE_R_BAD_CONFIG naming it. Touches no device.
 */
int hsm_token_list_parse(const char *conf, const char *default_pin_source,
                         struct hsm_token_list **out);
void hsm_token_list_free(struct hsm_token_list *l);

/* Creates the client; loads nothing until first use. */
struct hsm_ctx *hsm_ctx_new(const hsm_config *cfg);
/* Releases sessions and modules (see hsm_module.c for exit ordering). */
void hsm_ctx_free(struct hsm_ctx *h);

/* Object classes a URI may ask for (type=...). */
enum hsm_obj_type { HSM_TYPE_ANY = 0, HSM_TYPE_SECRET, HSM_TYPE_PRIVATE, HSM_TYPE_PUBLIC };

/*
 * Finds the keys a pkcs11: URI names and hands each to cb as an envkey (the
 * callee takes its own reference). For an RSA key pair only the private key
 * is reported unless type=public was asked. Returns ENVCORE_R_OK, or a reason
 * already raised (ENVCORE_R_OBJECT_NOT_FOUND when nothing matched).
 */
typedef int (*hsm_key_cb)(envkey *key, void *arg);
/* flags: the URI was read from a message. Only tokens in pkcs11-tokens are
 * searched, and a URI with pin-source, pin-value or module attributes is
 * refused; what is not allowed fails with ENVCORE_R_REFERENCE_NOT_ALLOWED
 * before any login. A listed token that is absent fails like any other
 * reference: ENVCORE_R_TOKEN_UNKNOWN if this process never saw it,
 * ENVCORE_R_TOKEN_NOT_PRESENT (an outage) if it was here and has gone. */
#define HSM_FIND_FROM_MESSAGE 1u
int hsm_find_keys(struct hsm_ctx *h, const char *uri, unsigned flags, hsm_key_cb cb, void *arg);

/* `envelope kek check`: the same search as hsm_find_keys (the caller's
 * URI, never a message's), but each AES or RSA key is only read and its
 * weaknesses handed to cb (hsm_check.c); a token that asks for no PIN is
 * reported as an entry of its own. Keys are never refused here. */
int hsm_check_keys(struct hsm_ctx *h, const char *uri, envcore_check_cb *cb, void *arg);

/* Creates a KEK on the token the URI names (token, object label, optional
 * id). kind ENVKEY_AES_KEK (AES-256) or ENVKEY_RSA (bits >= 2048). Least
 * privilege: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE and
 * only encrypt/decrypt. Refuses if an object with that label or id exists. */
int hsm_generate_key(struct hsm_ctx *h, const char *uri, envkey_kind kind, int bits, envkey **out);

/* True when the URI's scheme is pkcs11: (case-insensitive). */
int hsm_is_pkcs11_uri(const char *uri);

#endif
