/*
 * store_common.h - what every STORE of the provider shares: a loader that
 * runs its scheme's search at the first load()/eof(), holds the keys found
 * and hands each to OpenSSL as a reference our KEYMGMT load() takes back
 * (OSSL_OBJECT_PARAM_REFERENCE).
 *
 * export_object refuses keys with a private half: OpenSSL first offers a
 * reference to the KEYMGMT it fetched by name (for "RSA" or "EC", usually
 * the default provider's); refusing makes it fall back to our own KEYMGMT
 * instead of building a software key that lacks its private half.
 */
#ifndef ENVPROV_STORE_COMMON_H
#define ENVPROV_STORE_COMMON_H

#include <openssl/core_dispatch.h>

#include "provider.h"

typedef struct envprov_store envprov_store;

/*
 * A scheme's search: adds every key `uri` names with envprov_store_add, or
 * raises a reason and returns it. `from_message` is
 * ENVELOPE_STORE_PARAM_FROM_MESSAGE: the URI was read from a message, so
 * only what the configuration lets a message name may be opened.
 */
typedef int envprov_store_find_fn(envprov_ctx *pc, const char *uri, int from_message,
                                  envprov_store *s);

/* A store for `uri` (copied) whose search runs at the first load()/eof(). */
envprov_store *envprov_store_new(envprov_ctx *pc, const char *uri, envprov_store_find_fn *find);
/* Adds a key (the store takes its own reference); an envelope reason.
 * Its signature is hsm_key_cb's, so a finder can call it directly. */
int envprov_store_add(envkey *k, void *store);

OSSL_FUNC_store_settable_ctx_params_fn envprov_store_settable_ctx_params;
OSSL_FUNC_store_set_ctx_params_fn envprov_store_set_ctx_params;
OSSL_FUNC_store_load_fn envprov_store_load;
OSSL_FUNC_store_eof_fn envprov_store_eof;
OSSL_FUNC_store_close_fn envprov_store_close;
OSSL_FUNC_store_export_object_fn envprov_store_export_object;

/* The dispatch entries after a scheme's own OSSL_FUNC_STORE_OPEN. */
#define ENVPROV_STORE_COMMON_DISPATCH                                                              \
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))envprov_store_settable_ctx_params},      \
        {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))envprov_store_set_ctx_params},            \
        {OSSL_FUNC_STORE_LOAD, (void (*)(void))envprov_store_load},                                \
        {OSSL_FUNC_STORE_EOF, (void (*)(void))envprov_store_eof},                                  \
        {OSSL_FUNC_STORE_CLOSE, (void (*)(void))envprov_store_close},                              \
    {                                                                                              \
        OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))envprov_store_export_object                 \
    }

#endif
