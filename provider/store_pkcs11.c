/*
 * store_pkcs11.c - STORE for the pkcs11: scheme (RFC 7512).
 *
 * open() only checks the scheme; the search (token, login, objects) runs
 * at the first load/eof (store_common.c), so a wrong PIN or a missing
 * object is reported by the first OSSL_STORE_load with a specific reason.
 * Loading, references and export are store_common.c's.
 */
#include "hsm.h"
#include "store_common.h"

static OSSL_FUNC_store_open_fn store_open;

static int find(envprov_ctx *pc, const char *uri, int from_message, envprov_store *s)
{
    struct hsm_ctx *h = envprov_hsm(pc);
    if (h == NULL)
        return ENVPROV_R_INTERNAL;
    return hsm_find_keys(h, pc->swctx, uri, from_message ? HSM_FIND_FROM_MESSAGE : 0,
                         envprov_store_add, s);
}

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    if (!hsm_is_pkcs11_uri(uri))
        return NULL;
    if (!envprov_config_ok(pc))
        return NULL;
    envprov_check_order(pc);
    return envprov_store_new(pc, uri, find);
}

const OSSL_DISPATCH envprov_pkcs11_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    ENVPROV_STORE_COMMON_DISPATCH,
    {0, NULL},
};
