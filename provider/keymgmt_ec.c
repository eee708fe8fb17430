/*
 * keymgmt_ec.c - KEYMGMT "EC" for P-256 KEKs whose private half is in a
 * TPM. The public half exports (so software can wrap to it, encode it,
 * compare it with a certificate); a request including the private key is
 * refused, with a reason on the error queue. A P-256 public key imports
 * (only for comparisons: keymgmt_common.h). Operations are fetched by our own name (ENVELOPE-EC), so a fetch
 * for our key reaches only our implementations. Generation creates the key
 * in the TPM at a tpm2: URI (ENVELOPE_GEN_PARAM_URI).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "ec_wrap.h"
#include "keymgmt_common.h"
#include "provider.h"

static OSSL_FUNC_keymgmt_new_fn ec_new;
static OSSL_FUNC_keymgmt_load_fn ec_load;
static OSSL_FUNC_keymgmt_import_fn ec_import;
static OSSL_FUNC_keymgmt_import_types_fn ec_import_types;
static OSSL_FUNC_keymgmt_get_params_fn ec_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn ec_gettable_params;
static OSSL_FUNC_keymgmt_export_types_fn ec_export_types;
static OSSL_FUNC_keymgmt_query_operation_name_fn ec_query_operation_name;
static OSSL_FUNC_keymgmt_gen_init_fn ec_gen_init;

static void *ec_new(void *provctx)
{
    /* TPM keys come from load or gen; an empty key is only ever filled
     * with a public key by ec_import (comparisons: keymgmt_common.h). */
    return envprov_keymgmt_new_empty(ENVKEY_EC_P256);
}

static void *ec_load(const void *reference, size_t reference_sz)
{
    return envprov_keymgmt_load(reference, reference_sz, ENVKEY_EC_P256);
}

static const char *const ec_public_names[] = {OSSL_PKEY_PARAM_GROUP_NAME, OSSL_PKEY_PARAM_PUB_KEY,
                                              NULL};

static int ec_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    const OSSL_PARAM *g = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
    const char *grp = NULL;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) &&
        !(selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) &&
        (g == NULL || !OSSL_PARAM_get_utf8_string_ptr(g, &grp) ||
         (strcmp(grp, "P-256") != 0 && strcmp(grp, "prime256v1") != 0)))
        return 0; /* not a P-256 key: not comparable with ours */
    return envprov_keymgmt_import_public(keydata, selection, params, "EC", ec_public_names);
}

static int ec_get_params(void *keydata, OSSL_PARAM params[])
{
    envkey *k = keydata;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, 256))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, 128))
        return 0;
    /* EVP_PKEY_get_size: the largest wrapped blob, what callers allocate */
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, (int)ENVPROV_EC_BLOB_MAX))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, "prime256v1"))
        return 0;
    if (OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY) != NULL ||
        OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY) != NULL) {
        OSSL_PARAM *q;
        for (q = params; q->key != NULL; q++) {
            if (strcmp(q->key, OSSL_PKEY_PARAM_PUB_KEY) == 0 ||
                strcmp(q->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY) == 0) {
                OSSL_PARAM one[2] = {*q, OSSL_PARAM_END};
                one[0].key = OSSL_PKEY_PARAM_PUB_KEY;
                if (!EVP_PKEY_get_params(k->pub, one))
                    return 0;
                q->return_size = one[0].return_size;
            }
        }
    }
    return envprov_keymgmt_get_common_params(k, params);
}

static const OSSL_PARAM *ec_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_utf8_string(ENVELOPE_PKEY_PARAM_URI, NULL, 0),
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_KEY_ID, NULL, 0),
        OSSL_PARAM_END,
    };
    return gettable;
}

static const OSSL_PARAM *ec_export_types(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL : types;
}

static const OSSL_PARAM *ec_import_types(int selection)
{
    return ec_export_types(selection);
}

static const char *ec_query_operation_name(int operation_id)
{
    switch (operation_id) {
    case OSSL_OP_ASYM_CIPHER:
    case OSSL_OP_KEM: return ENVPROV_OPNAME_EC;
    default: return NULL; /* a KEK neither signs nor does raw key exchange */
    }
}

static void *ec_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return envprov_gen_init(provctx, selection, params, ENVKEY_EC_P256);
}

const OSSL_DISPATCH envprov_ec_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))envprov_keymgmt_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ec_load},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))envprov_keymgmt_dup},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))envprov_keymgmt_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))envprov_keymgmt_match_public},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))ec_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ec_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))envprov_keymgmt_export_public},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_export_types},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))ec_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_import_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_query_operation_name},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))ec_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))envprov_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))envprov_gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))envprov_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))envprov_gen_cleanup},
    {0, NULL},
};
