/*
 * kek_alias.h - KEK aliases, versions and retirement from the provider's
 * openssl.cnf section (docs/PROVIDER.md, "KEK aliases and rotation"):
 *
 *   kek.payments          = pkcs11:token=prod;object=payments-v3
 *   kek.payments.previous = pkcs11:token=prod;object=payments-v2, pkcs11:...v1
 *   kek.payments.retired  = pkcs11:token=prod;object=payments-v0
 *
 * "alias:payments" opens the current key, then the previous ones, then the
 * retired ones (OSSL_STORE returns them in that order). New wraps are made
 * only under a current key; a retired key unwraps only with an explicit,
 * logged override (ENVELOPE_PKEY_PARAM_ALLOW_RETIRED). A key is matched to
 * an entry by its reference: every attribute the entry names must be in
 * the key's canonical URI with the same (percent-decoded) value, so a
 * retired key stays retired however it is reached (by alias, by URI, by a
 * message's reference).
 */
#ifndef ENVPROV_KEK_ALIAS_H
#define ENVPROV_KEK_ALIAS_H

#include <stddef.h>

#include "provider.h"

#define ENVPROV_ALIAS_PREFIX "kek."
#define ENVPROV_ALIAS_SCHEME "alias"
#define ENVPROV_MAX_ALIASES 32
#define ENVPROV_MAX_ALIAS_URIS 16 /* per alias, all roles together */

typedef enum {
    ENVPROV_ROLE_NONE = 0, /* not named by any alias */
    ENVPROV_ROLE_CURRENT,
    ENVPROV_ROLE_PREVIOUS,
    ENVPROV_ROLE_RETIRED,
} envprov_alias_role;

/* 1 if `key` has the form of an alias setting (kek.NAME, kek.NAME.previous,
 * kek.NAME.retired; NAME of [A-Za-z0-9_-], 1..64). */
int envprov_alias_key_ok(const char *key);

/* Builds pc->aliases from the settings named keys[0..n) (values from the
 * core). ENVCORE_R_OK, or ENVCORE_R_BAD_CONFIG raised naming the setting. */
int envprov_aliases_build(envprov_ctx *pc, const char *const *keys, const char *const *values,
                          size_t n);
void envprov_aliases_free(envprov_ctx *pc);

/* The role of k among the aliases (the first entry that names it), and
 * which alias (NULL if none). */
envprov_alias_role envprov_alias_role_of(const envprov_ctx *pc, const envkey *k,
                                         const char **alias);

/* The URIs of alias `name` in store order (current, previous..., retired...)
 * or 0 if there is no such alias. */
size_t envprov_alias_uris(const envprov_ctx *pc, const char *name, const char **uris, size_t max);

/* The STORE of "alias:NAME" (store.c's dispatch, another find). */
extern const OSSL_DISPATCH envprov_alias_store_functions[];

#endif
