/*
 * store_tpm2.c - STORE for the tpm2: scheme (URI grammar: docs/TPM.md),
 * the provider's lazily created TPM client, and KEK creation at tpm2: URIs.
 *
 * As with pkcs11:, the key is opened at the first OSSL_STORE_load/eof (a
 * missing key, a refused SRK or an unreachable TPM is reported there with
 * its own reason); loading, references and export are store_common.c's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "envtpm.h"
#include "store_common.h"
#include "tpm2_prov.h"

static pthread_mutex_t tpm_lock = PTHREAD_MUTEX_INITIALIZER;

int envprov_is_tpm2_uri(const char *uri)
{
    return uri != NULL && strncmp(uri, "tpm2:", 5) == 0;
}

struct envtpm_ctx *envprov_tpm(envprov_ctx *pc)
{
    struct envtpm_ctx *t;

    pthread_mutex_lock(&tpm_lock);
    if (pc->tpm == NULL) {
        envtpm_config cfg = { pc->tpm2_tcti, pc->tpm2_srk_name, pc->tpm2_pin_source, pc->swctx,
                              pc->tpm2_handles };
        if (envtpm_ctx_new(&cfg, &pc->tpm) != ENVPROV_R_OK)
            pc->tpm = NULL;
    }
    t = pc->tpm;
    pthread_mutex_unlock(&tpm_lock);
    return t;
}

void envprov_tpm_free(envprov_ctx *pc)
{
    pthread_mutex_lock(&tpm_lock);
    envtpm_ctx_free(pc->tpm);
    pc->tpm = NULL;
    pthread_mutex_unlock(&tpm_lock);
}

envkey *envprov_tpm_generate(envprov_ctx *pc, envkey_kind kind, const char *uri, int bits)
{
    struct envtpm_ctx *t = envprov_tpm(pc);
    envtpm_create_params p = { 0 };
    envkey *k = NULL;

    if (t == NULL)
        return NULL;
    if (kind == ENVKEY_RSA && bits != 2048) {
        ENVPROV_RAISE(ENVPROV_R_MECHANISM_NOT_SUPPORTED,
                      "TPM RSA KEKs are 2048 bits (what TPMs implement); asked for %d", bits);
        return NULL;
    }
    p.type = kind == ENVKEY_EC_P256 ? ENVTPM_KEY_EC_P256 : ENVTPM_KEY_RSA_2048;
    if (envtpm_key_create(t, uri, &p) != ENVPROV_R_OK ||
        envtpm_open_key(t, uri, 0, &k) != ENVPROV_R_OK)
        return NULL;
    envprov_debug("keygen: created %s", k->uri);
    return k;
}

static OSSL_FUNC_store_open_fn store_open;

static int find(envprov_ctx *pc, const char *uri, int from_message, envprov_store *s)
{
    struct envtpm_ctx *t = envprov_tpm(pc);
    envkey *k = NULL;
    int r;

    if (t == NULL)
        return ENVPROV_R_BACKEND_UNAVAILABLE; /* raised by envprov_tpm */
    r = envtpm_open_key(t, uri, from_message ? ENVTPM_OPEN_FROM_MESSAGE : 0, &k);
    if (r == ENVPROV_R_OK)
        r = envprov_store_add(k, s);
    envkey_free(k); /* the store holds its own reference */
    return r;
}

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    if (!envprov_is_tpm2_uri(uri))
        return NULL;
    if (!envprov_config_ok(pc))
        return NULL;
    envprov_check_order(pc);
    return envprov_store_new(pc, uri, find);
}

const OSSL_DISPATCH envprov_tpm2_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    ENVPROV_STORE_COMMON_DISPATCH,
    {0, NULL},
};
