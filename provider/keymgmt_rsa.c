/*
 * keymgmt_rsa.c - KEYMGMT "RSA" for RSA keys whose private half lives in a
 * device.
 *
 * Public parts export (so OpenSSL's default provider can encrypt to the key,
 * encode it, and compare it with a certificate); a request that includes
 * the private key is refused, with a reason on the error queue, so no other
 * provider is ever handed a "private" key that is really public-only. A
 * public key imports (only for comparisons: keymgmt_common.h). Operations
 * are fetched by names of our own (query_operation_name), so a fetch for
 * our key can only reach our implementations, whatever order providers
 * were loaded in.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "keymgmt_common.h"

static OSSL_FUNC_keymgmt_new_fn rsa_new;
static OSSL_FUNC_keymgmt_load_fn rsa_load;
static OSSL_FUNC_keymgmt_import_fn rsa_import;
static OSSL_FUNC_keymgmt_import_types_fn rsa_import_types;
static OSSL_FUNC_keymgmt_get_params_fn rsa_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn rsa_gettable_params;
static OSSL_FUNC_keymgmt_export_types_fn rsa_export_types;
static OSSL_FUNC_keymgmt_query_operation_name_fn rsa_query_operation_name;
static OSSL_FUNC_keymgmt_gen_init_fn rsa_gen_init;

static void *rsa_new(void *provctx)
{
    /* Device keys come from load or gen; an empty key is only ever filled
     * with a public key by rsa_import. */
    return envprov_keymgmt_new_empty(ENVKEY_RSA);
}

static void *rsa_load(const void *reference, size_t reference_sz)
{
    return envprov_keymgmt_load(reference, reference_sz, ENVKEY_RSA);
}

static const char *const rsa_public_names[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, NULL};

static int rsa_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    return envprov_keymgmt_import_public(keydata, selection, params, "RSA", rsa_public_names);
}

static int rsa_get_params(void *keydata, OSSL_PARAM params[])
{
    envkey *k = keydata;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, k->bits))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, EVP_PKEY_get_security_bits(k->pub)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, (k->bits + 7) / 8))
        return 0;
    if (OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_N) != NULL ||
        OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_E) != NULL) {
        /* Public components are answered by the public half. */
        if (!EVP_PKEY_get_params(k->pub, params))
            return 0;
    }
    return envprov_keymgmt_get_common_params(k, params);
}

static const OSSL_PARAM *rsa_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_utf8_string(ENVELOPE_PKEY_PARAM_URI, NULL, 0),
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_KEY_ID, NULL, 0),
        OSSL_PARAM_END,
    };
    return gettable;
}

static const OSSL_PARAM *rsa_export_types(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL : types;
}

static const OSSL_PARAM *rsa_import_types(int selection)
{
    return rsa_export_types(selection);
}

static const char *rsa_query_operation_name(int operation_id)
{
    switch (operation_id) {
    case OSSL_OP_ASYM_CIPHER:
    case OSSL_OP_KEM: return ENVPROV_OPNAME_RSA;
    default: return NULL; /* a KEK does not sign */
    }
}

static void *rsa_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return envprov_gen_init(provctx, selection, params, ENVKEY_RSA);
}

const OSSL_DISPATCH envprov_rsa_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))envprov_keymgmt_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))rsa_load},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))envprov_keymgmt_dup},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))envprov_keymgmt_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))envprov_keymgmt_match_public},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))rsa_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))envprov_keymgmt_export_public},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))rsa_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_import_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))rsa_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))envprov_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))envprov_gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))envprov_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))envprov_gen_cleanup},
    {0, NULL},
};
