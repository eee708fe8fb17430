/*
 * hsm_entry.c - the PKCS#11 client as a backend (core/backend.h): keys on
 * any PKCS#11 token of the configured modules (an HSM, SoftHSM2, the
 * envelope KMS bridge), named by pkcs11: URIs (RFC 7512).
 *
 * Settings (docs/PROVIDER.md): pkcs11-module, pkcs11-pin-source,
 * pkcs11-tokens, allow-extractable-kek.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hsm.h"
#include "hsm_internal.h"
#include "settings.h"

struct hsm_client {
    struct hsm_ctx *h;
    struct hsm_token_list *tokens;
    OSSL_LIB_CTX *swctx;
};

static const char *const settings[] = {"pkcs11-module", "pkcs11-pin-source", "pkcs11-tokens",
                                       "allow-extractable-kek", NULL};

/* Every entry point runs inside the fork gate (hsm_fork.c). */
static void client_free(void *client)
{
    struct hsm_client *c = client;
    if (c == NULL)
        return;
    hsm_gate_enter();
    hsm_ctx_free(c->h);
    hsm_gate_leave();
    hsm_token_list_free(c->tokens);
    free(c);
}

static int client_new(const envcore_settings *cfg, OSSL_LIB_CTX *swctx, void **out)
{
    struct hsm_client *c = calloc(1, sizeof(*c));
    int allow = 0, r;
    *out = NULL;
    if (c == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory creating the PKCS#11 client");
        return ENVCORE_R_INTERNAL;
    }
    c->swctx = swctx;
    const char *pin = envcore_setting(cfg, "pkcs11-pin-source");
    if ((r = envcore_setting_bool(cfg, "allow-extractable-kek", 0, &allow)) != ENVCORE_R_OK ||
        (r = hsm_token_list_parse(envcore_setting(cfg, "pkcs11-tokens"), pin, &c->tokens)) !=
            ENVCORE_R_OK) {
        client_free(c);
        return r;
    }
    hsm_config hc = {envcore_setting(cfg, "pkcs11-module"), pin, c->tokens, allow, swctx};
    hsm_gate_enter();
    c->h = hsm_ctx_new(&hc);
    hsm_gate_leave();
    if (c->h == NULL) {
        client_free(c);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory creating the PKCS#11 client");
        return ENVCORE_R_INTERNAL;
    }
    *out = c;
    return ENVCORE_R_OK;
}

static int probe(const char *uri)
{
    return hsm_is_pkcs11_uri(uri);
}

static int open_keys(void *client, const char *uri, unsigned flags, envcore_key_cb *cb, void *arg)
{
    struct hsm_client *c = client;
    hsm_gate_enter();
    int r = hsm_find_keys(c->h, uri,
                          (flags & ENVCORE_OPEN_FROM_MESSAGE) ? HSM_FIND_FROM_MESSAGE : 0, cb, arg);
    hsm_gate_leave();
    return r;
}

static int check(void *client, const char *uri, envcore_check_cb *cb, void *arg)
{
    struct hsm_client *c = client;
    return hsm_check_keys(c->h, uri, cb, arg);
}

static int generate(void *client, const char *uri, envkey_kind kind, int bits, envkey **out)
{
    struct hsm_client *c = client;
    *out = NULL;
    if (kind != ENVKEY_AES_KEK && kind != ENVKEY_RSA) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "a PKCS#11 KEK is aes-256 or RSA (rsa-3072); EC KEKs are made in a TPM");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    /* RSA-3072 by default: the smallest size the security docs recommend */
    hsm_gate_enter();
    int r = hsm_generate_key(c->h, uri, kind,
                             kind != ENVKEY_RSA ? 256
                             : bits != 0        ? bits
                                                : 3072,
                             out);
    hsm_gate_leave();
    return r;
}

const envcore_backend envelope_backend_pkcs11 = {
    .scheme = "pkcs11",
    .description = "PKCS#11 tokens (RFC 7512 URIs)",
    .kinds = ENVCORE_KIND(ENVKEY_AES_KEK) | ENVCORE_KIND(ENVKEY_RSA),
    .settings = settings,
    .client_new = client_new,
    .client_free = client_free,
    .probe = probe,
    .open = open_keys,
    .generate = generate,
    .list = NULL, /* a pkcs11: URI without object= lists the keys through open() */
    .check = check,
};
