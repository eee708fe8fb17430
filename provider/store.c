/*
 * store.c - the STORE of every backend's scheme, and "SCHEME-list".
 *
 * open() finds the backend serving the URI and does nothing else; the
 * search runs at the first load/eof (store_common.c), after OpenSSL has
 * set the loader's parameters (ENVELOPE_STORE_PARAM_FROM_MESSAGE), so a
 * wrong PIN or a missing key is reported by the first OSSL_STORE_load
 * with a specific reason.
 *
 * "SCHEME-list:..." lists a whole home without opening a key (the
 * backend's list(), e.g. a TPM's persistent handles read from their public
 * areas): OSSL_STORE_INFO_NAME objects whose name is the URI to use and
 * whose description says what the key is.
 *
 * "SCHEME-check:..." is `envelope kek check`: the backend's check() reads
 * each key the URI names without using it, and each KEK comes back as an
 * OSSL_STORE_INFO_NAME whose name is its reference and whose description
 * is its findings in the text form of include/envelope/provider.h
 * (ENVELOPE_CHECK_STORE_SUFFIX).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "breaker.h"
#include "store_common.h"

static OSSL_FUNC_store_open_fn store_open;

static int find(envprov_ctx *pc, const char *uri, int from_message, envprov_store *s)
{
    void *client = NULL;
    const envcore_backend *be = envprov_backend_for(pc, uri, &client);
    if (be == NULL)
        return ENVCORE_R_BAD_URI;
    envprov_breaker_ticket ticket;
    int r = envprov_breaker_enter(pc->breaker, uri, &ticket);
    if (r != ENVCORE_R_OK)
        return r;
    r = be->open(client, uri, from_message ? ENVCORE_OPEN_FROM_MESSAGE : 0, envprov_store_add, s);
    envprov_breaker_leave(pc->breaker, uri, &ticket, r);
    return r;
}

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    void *client = NULL;
    ERR_set_mark();
    const envcore_backend *be = uri != NULL ? envprov_backend_for(pc, uri, &client) : NULL;
    ERR_pop_to_mark(); /* not ours: OpenSSL tries the next loader quietly */
    if (be == NULL || !envprov_config_ok(pc))
        return NULL;
    envprov_check_order(pc);
    return envprov_store_new(pc, uri, find);
}

const OSSL_DISPATCH envprov_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    ENVPROV_STORE_COMMON_DISPATCH,
    {0, NULL},
};

/* ---- SCHEME-list: ------------------------------------------------------ */

typedef struct {
    struct {
        char *uri, *desc;
    } * e;
    size_t n, next;
} list_store;

static int list_collect(const char *uri, const char *desc, void *arg)
{
    list_store *ls = arg;
    void *grown = realloc(ls->e, (ls->n + 1) * sizeof(*ls->e));
    if (grown == NULL)
        return 1;
    ls->e = grown;
    ls->e[ls->n].uri = strdup(uri);
    ls->e[ls->n].desc = strdup(desc != NULL ? desc : "");
    if (ls->e[ls->n].uri == NULL || ls->e[ls->n].desc == NULL) {
        free(ls->e[ls->n].uri);
        free(ls->e[ls->n].desc);
        return 1;
    }
    ls->n++;
    return 0;
}

static OSSL_FUNC_store_open_fn list_open;
static OSSL_FUNC_store_open_fn check_open;
static OSSL_FUNC_store_load_fn list_load;
static OSSL_FUNC_store_eof_fn list_eof;
static OSSL_FUNC_store_close_fn list_close;
static OSSL_FUNC_store_set_ctx_params_fn list_set_ctx_params;

/* "tpm2-list:..." -> the backend of "tpm2:..." (home: that URI), or NULL. */
static const envcore_backend *home_of(envprov_ctx *pc, const char *uri, const char *suffix,
                                      char *home, size_t size, void **client)
{
    const char *colon = uri != NULL ? strchr(uri, ':') : NULL;
    size_t sl = strlen(suffix);
    if (colon == NULL || (size_t)(colon - uri) <= sl || strncasecmp(colon - sl, suffix, sl) != 0 ||
        strlen(uri) - sl >= size || !envprov_config_ok(pc))
        return NULL;
    snprintf(home, size, "%.*s%s", (int)(colon - uri - sl), uri, colon);
    return envprov_backend_for(pc, home, client);
}

static void *list_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    char home[512];
    void *client = NULL;
    const envcore_backend *be = home_of(pc, uri, ENVPROV_LIST_SUFFIX, home, sizeof(home), &client);
    if (be == NULL || be->list == NULL)
        return NULL;
    list_store *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return NULL;
    if (be->list(client, home, list_collect, ls) != ENVCORE_R_OK) {
        list_close(ls);
        return NULL;
    }
    return ls;
}

/* One KEK's findings, as a name (its reference) and a description. */
static int check_collect(const char *uri, const envcore_findings *f, void *arg)
{
    char desc[ENVCORE_KIND_MAX + ENVCORE_FINDINGS_MAX * (ENVCORE_FINDING_DETAIL + 32) + 128];
    if (envcore_findings_encode(f, desc, sizeof(desc)) == 0) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "findings of \"%.200s\" do not fit", uri);
        return ENVCORE_R_INTERNAL;
    }
    if (list_collect(uri, desc, arg) != 0) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return ENVCORE_R_INTERNAL;
    }
    return ENVCORE_R_OK;
}

static void *check_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    char home[ENVELOPE_MAX_CHECK_URI + 1];
    void *client = NULL;
    const envcore_backend *be = home_of(pc, uri, ENVELOPE_CHECK_STORE_SUFFIX, home, sizeof(home),
                                        &client);
    if (be == NULL || be->check == NULL)
        return NULL; /* OpenSSL says "unregistered scheme"; the library says more */
    list_store *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return NULL;
    /* A home that is down fails here with its own reason (the breaker is for
     * the data path: a check is one look, asked for by a person). */
    if (be->check(client, home, check_collect, ls) != ENVCORE_R_OK) {
        list_close(ls);
        return NULL;
    }
    return ls;
}

static int list_load(void *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                     OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    list_store *ls = ctx;
    int type = OSSL_OBJECT_NAME;
    if (ls->next >= ls->n)
        return 0;
    size_t i = ls->next++;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA, ls->e[i].uri, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, ls->e[i].desc, 0),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(p, object_cbarg);
}

static int list_eof(void *ctx)
{
    list_store *ls = ctx;
    return ls->next >= ls->n;
}

static int list_close(void *ctx)
{
    list_store *ls = ctx;
    if (ls == NULL)
        return 1;
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->e[i].uri);
        free(ls->e[i].desc);
    }
    free(ls->e);
    free(ls);
    return 1;
}

static int list_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
    return 1; /* nothing to select: every entry is a name */
}

const OSSL_DISPATCH envprov_check_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))check_open},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))list_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))list_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))list_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))list_close},
    {0, NULL},
};

const OSSL_DISPATCH envprov_list_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))list_open},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))list_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))list_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))list_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))list_close},
    {0, NULL},
};
