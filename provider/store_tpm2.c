/*
 * store_tpm2.c - STORE for the tpm2: scheme (URI grammar: docs/TPM.md),
 * the provider's lazily created TPM client, and KEK creation at tpm2: URIs.
 *
 * As with pkcs11:, the key is opened at the first OSSL_STORE_load/eof (a
 * missing key, a refused SRK or an unreachable TPM is reported there with
 * its own reason); loading, references and export are store_common.c's.
 *
 * "tpm2-list:" is a STORE of its own, apart from tpm2:'s: it lists the
 * TPM's persistent keys as OSSL_STORE_INFO_NAME objects (name = the URI to
 * use, description = what the key is), reading public areas only
 * (envtpm_list): no key is opened, no auth value offered.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

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

/* ---- tpm2-list: ------------------------------------------------------- */

typedef struct {
    envtpm_list_entry *e;
    size_t n, next;
} tpm_list_store;

static int list_collect(void *arg, const envtpm_list_entry *e)
{
    tpm_list_store *ls = arg;
    envtpm_list_entry *grown = realloc(ls->e, (ls->n + 1) * sizeof(*ls->e));

    if (grown == NULL)
        return 1;
    ls->e = grown;
    ls->e[ls->n++] = *e;
    return 0;
}

static OSSL_FUNC_store_open_fn list_open;
static OSSL_FUNC_store_load_fn list_load;
static OSSL_FUNC_store_eof_fn list_eof;
static OSSL_FUNC_store_close_fn list_close;
static OSSL_FUNC_store_set_ctx_params_fn list_set_ctx_params;

static void *list_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    struct envtpm_ctx *t;
    tpm_list_store *ls;

    if (uri == NULL || strcmp(uri, "tpm2-list:") != 0) {
        ENVPROV_RAISE(ENVPROV_R_BAD_URI, "tpm2-list: takes no attributes (got \"%.80s\")",
                      uri != NULL ? uri : "");
        return NULL;
    }
    t = envprov_tpm(pc);
    ls = t != NULL ? calloc(1, sizeof(*ls)) : NULL;
    if (ls == NULL)
        return NULL;
    if (envtpm_list(t, list_collect, ls) != ENVPROV_R_OK) {
        list_close(ls);
        return NULL;
    }
    return ls;
}

static int list_load(void *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                     OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    tpm_list_store *ls = ctx;
    int type = OSSL_OBJECT_NAME;
    OSSL_PARAM p[4];
    envtpm_list_entry *e;

    if (ls->next >= ls->n)
        return 0;
    e = &ls->e[ls->next++];
    p[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA, e->uri, 0);
    p[2] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, e->desc, 0);
    p[3] = OSSL_PARAM_construct_end();
    return object_cb(p, object_cbarg);
}

static int list_eof(void *ctx)
{
    tpm_list_store *ls = ctx;
    return ls->next >= ls->n;
}

static int list_close(void *ctx)
{
    tpm_list_store *ls = ctx;
    if (ls != NULL) {
        free(ls->e);
        free(ls);
    }
    return 1;
}

static int list_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
    return 1; /* nothing to select: every entry is a name */
}

const OSSL_DISPATCH envprov_tpm2_list_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))list_open},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))list_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))list_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))list_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))list_close},
    {0, NULL},
};
