/*
 * backend.h - the one seam between the provider and the homes of keys.
 *
 * A backend is a folder (hsm/, tpm/, ...) that fills one envcore_backend
 * and registers it in the build's backend list (envelope_register_backend in CMake,
 * docs/ARCHITECTURE.md "Adding a backend"). The provider never names a
 * backend: it loops over the table for its STOREs (one per scheme), key
 * generation, the algorithms it publishes and teardown. A backend knows
 * nothing of the provider: it includes core/ headers only.
 *
 * Keys are envkeys (envkey.h) whose ops run in the backend. Every function
 * returns ENVCORE_R_OK or a reason it has already raised (errors.h).
 * Clients are thread-safe and fork-safe (each backend's own business).
 */
#ifndef ENVELOPE_CORE_BACKEND_H
#define ENVELOPE_CORE_BACKEND_H

#include <openssl/types.h>

#include "envkey.h"
#include "findings.h"

/* The provider's settings (openssl.cnf section), by name: NULL if unset. */
typedef struct envcore_settings envcore_settings;
const char *envcore_setting(const envcore_settings *s, const char *name);

/* The URI was read from a message, not named by the caller
 * (ENVELOPE_STORE_PARAM_FROM_MESSAGE): open only what the configuration
 * lets a message name, raising ENVCORE_R_REFERENCE_NOT_ALLOWED for the
 * rest before any login, TPM command or key use. */
#define ENVCORE_OPEN_FROM_MESSAGE 1u

/* Hands each key found to the caller, which takes its own reference. */
typedef int envcore_key_cb(envkey *k, void *arg);
/* Hands one entry of a listing: the URI to use and what the key is. */
typedef int envcore_name_cb(const char *uri, const char *description, void *arg);
/* Hands the findings of one KEK (`uri`: its reference, without secrets). */
typedef int envcore_check_cb(const char *uri, const envcore_findings *f, void *arg);

typedef struct envcore_backend {
    const char *scheme;          /* URI scheme it serves: "pkcs11", "tpm2" */
    const char *description;     /* for the STORE algorithm: what keys live there */
    unsigned kinds;              /* ENVCORE_KIND(k) for every envkey_kind it holds */
    const char *const *settings; /* the setting names it reads, NULL-terminated */

    /* A client from the settings: parses and checks them (a malformed
     * value raises ENVCORE_R_BAD_CONFIG naming it), touches no device.
     * swctx: the library context public halves are built in. */
    int (*client_new)(const envcore_settings *cfg, OSSL_LIB_CTX *swctx, void **client);
    void (*client_free)(void *client);

    /* 1 if this backend serves the URI (its scheme, case-insensitive). */
    int (*probe)(const char *uri);
    /* Finds the keys the URI names; flags: ENVCORE_OPEN_FROM_MESSAGE. */
    int (*open)(void *client, const char *uri, unsigned flags, envcore_key_cb *cb, void *arg);
    /* Creates a KEK of `kind` (bits for RSA) inside the home the URI names
     * and returns it opened. NULL if the backend cannot create keys. */
    int (*generate)(void *client, const char *uri, envkey_kind kind, int bits, envkey **out);
    /* Optional: what a whole home holds, without opening any key (no auth
     * offered), for `envelope kek list SCHEME:`. The provider serves it as
     * the STORE "SCHEME-list". NULL if keys list through open(). */
    int (*list)(void *client, const char *uri, envcore_name_cb *cb, void *arg);
    /* Optional: every weakness of each KEK the URI names, judged against
     * what `generate` makes (`envelope kek check`), served as the STORE
     * "SCHEME-check". Opens keys for reading their attributes only (it
     * logs in where keys are private) and never uses them, so keys
     * `open` would refuse are reported, not refused. NULL if the backend
     * cannot tell. */
    int (*check)(void *client, const char *uri, envcore_check_cb *cb, void *arg);
} envcore_backend;

#define ENVCORE_KIND(k) (1u << (unsigned)(k))

#endif
