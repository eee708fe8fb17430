/*
 * store_pkcs11.c - STORE for the pkcs11: scheme (RFC 7512).
 *
 * OSSL_STORE_open("pkcs11:token=prod;object=payments-v1;type=secret-key")
 * finds the keys at open time, so a wrong PIN or a missing object is
 * reported by OSSL_STORE_open itself with a specific reason; loading,
 * references and export are store_common.c's.
 */
#include "hsm.h"
#include "store_common.h"

static OSSL_FUNC_store_open_fn store_open;

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    if (!hsm_is_pkcs11_uri(uri))
        return NULL;
    envprov_check_order(pc);
    struct hsm_ctx *h = envprov_hsm(pc);
    envprov_store *s = h != NULL ? envprov_store_new(pc) : NULL;
    if (s == NULL)
        return NULL;
    if (hsm_find_keys(h, pc->swctx, uri, envprov_store_add, s) != ENVPROV_R_OK) {
        envprov_store_close(s);
        return NULL;
    }
    return s;
}

const OSSL_DISPATCH envprov_pkcs11_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    ENVPROV_STORE_COMMON_DISPATCH,
    {0, NULL},
};
