/*
 * tpm_entry.c - the TPM 2.0 client as a backend (core/backend.h): EC P-256
 * and RSA-2048 KEKs under the SRK, named by tpm2: URIs (docs/TPM.md).
 *
 * Settings (docs/TPM.md "Provider configuration"): tpm2-tcti,
 * tpm2-srk-name, tpm2-pin-source, tpm2-handles.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envtpm.h"
#include "settings.h"

struct tpm_client {
    struct envtpm_ctx *t;
    struct envtpm_handle_list *handles;
};

static const char *const settings[] = {"tpm2-tcti", "tpm2-srk-name", "tpm2-pin-source",
                                       "tpm2-handles", NULL};

static void client_free(void *client)
{
    struct tpm_client *c = client;
    if (c == NULL)
        return;
    envtpm_ctx_free(c->t);
    envtpm_handle_list_free(c->handles);
    free(c);
}

static int client_new(const envcore_settings *cfg, OSSL_LIB_CTX *swctx, void **out)
{
    struct tpm_client *c = calloc(1, sizeof(*c));
    int r;
    *out = NULL;
    if (c == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    const char *pin = envcore_setting(cfg, "tpm2-pin-source");
    if ((r = envtpm_handle_list_parse(envcore_setting(cfg, "tpm2-handles"), pin, &c->handles)) !=
        ENVCORE_R_OK) {
        client_free(c);
        return r;
    }
    /* opens nothing: the TPM is reached on first use */
    envtpm_config tc = {envcore_setting(cfg, "tpm2-tcti"), envcore_setting(cfg, "tpm2-srk-name"),
                        pin, swctx, c->handles};
    if ((r = envtpm_ctx_new(&tc, &c->t)) != ENVCORE_R_OK) {
        client_free(c);
        return r;
    }
    *out = c;
    return ENVCORE_R_OK;
}

static int probe(const char *uri)
{
    return uri != NULL && strncasecmp(uri, "tpm2:", 5) == 0;
}

static int open_keys(void *client, const char *uri, unsigned flags, envcore_key_cb *cb, void *arg)
{
    struct tpm_client *c = client;
    envkey *k = NULL;
    int r = envtpm_open_key(c->t, uri,
                            (flags & ENVCORE_OPEN_FROM_MESSAGE) ? ENVTPM_OPEN_FROM_MESSAGE : 0, &k);
    if (r == ENVCORE_R_OK)
        r = cb(k, arg);
    envkey_free(k); /* the callee holds its own reference */
    return r;
}

static int generate(void *client, const char *uri, envkey_kind kind, int bits, envkey **out)
{
    struct tpm_client *c = client;
    envtpm_create_params p = {0};
    int r;

    *out = NULL;
    if (kind == ENVKEY_RSA && bits != 0 && bits != 2048) {
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "TPM RSA KEKs are 2048 bits (what TPMs implement); asked for %d", bits);
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    if (kind != ENVKEY_RSA && kind != ENVKEY_EC_P256) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "a TPM KEK is ec-p256 or rsa-2048; AES KEKs live on a PKCS#11 token");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    p.type = kind == ENVKEY_EC_P256 ? ENVTPM_KEY_EC_P256 : ENVTPM_KEY_RSA_2048;
    if ((r = envtpm_key_create(c->t, uri, &p)) != ENVCORE_R_OK)
        return r;
    return envtpm_open_key(c->t, uri, 0, out);
}

struct list_arg {
    envcore_name_cb *cb;
    void *arg;
};

static int list_one(void *varg, const envtpm_list_entry *e)
{
    struct list_arg *a = varg;
    return a->cb(e->uri, e->desc, a->arg);
}

static int list(void *client, const char *uri, envcore_name_cb *cb, void *arg)
{
    struct tpm_client *c = client;
    struct list_arg a = {cb, arg};
    if (uri != NULL && strcasecmp(uri, "tpm2:") != 0) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "listing a TPM takes the URI \"tpm2:\" alone (got "
                      "\"%.80s\")",
                      uri);
        return ENVCORE_R_BAD_URI;
    }
    return envtpm_list(c->t, list_one, &a);
}

static int check(void *client, const char *uri, envcore_check_cb *cb, void *arg)
{
    struct tpm_client *c = client;
    return envtpm_check(c->t, uri, cb, arg);
}

const envcore_backend envelope_backend_tpm2 = {
    .scheme = "tpm2",
    .description = "TPM 2.0 keys (tpm2:handle=|file=)",
    .kinds = ENVCORE_KIND(ENVKEY_RSA) | ENVCORE_KIND(ENVKEY_EC_P256),
    .settings = settings,
    .client_new = client_new,
    .client_free = client_free,
    .probe = probe,
    .open = open_keys,
    .generate = generate,
    .list = list,
    .check = check,
};
