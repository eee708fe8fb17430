/*
 * keymgmt_aes.c - KEYMGMT "ENVELOPE-AES-KEK": AES-256 KEKs held in a device.
 * Usable through our asym cipher and KEM, never exportable: there is
 * nothing to export but a reference.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "keymgmt_common.h"

static OSSL_FUNC_keymgmt_new_fn aes_new;
static OSSL_FUNC_keymgmt_load_fn aes_load;
static OSSL_FUNC_keymgmt_match_fn aes_match;
static OSSL_FUNC_keymgmt_get_params_fn aes_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn aes_gettable_params;
static OSSL_FUNC_keymgmt_query_operation_name_fn aes_query_operation_name;
static OSSL_FUNC_keymgmt_gen_init_fn aes_gen_init;

static void *aes_new(void *provctx)
{
    return NULL; /* made in the device (gen) or loaded by URI, never imported */
}

static void *aes_load(const void *reference, size_t reference_sz)
{
    return envprov_keymgmt_load(reference, reference_sz, ENVKEY_AES_KEK);
}

static int aes_match(const void *a, const void *b, int selection)
{
    const envkey *x = a, *y = b;
    return x->uri != NULL && y->uri != NULL && x->key_id_len == y->key_id_len &&
           memcmp(x->key_id, y->key_id, x->key_id_len) == 0 && strcmp(x->uri, y->uri) == 0;
}

static int aes_get_params(void *keydata, OSSL_PARAM params[])
{
    envkey *k = keydata;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, 256))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, 256))
        return 0;
    /* EVP_PKEY_get_size sizes pkeyutl's and CMS's buffers: the largest blob. */
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, 4 + 1 + 16 + 2 + ENVELOPE_MAX_WRAP_PLAINTEXT + 16))
        return 0;
    return envprov_keymgmt_get_common_params(k, params);
}

static const OSSL_PARAM *aes_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(ENVELOPE_PKEY_PARAM_URI, NULL, 0),
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_KEY_ID, NULL, 0),
        OSSL_PARAM_END,
    };
    return gettable;
}

static const char *aes_query_operation_name(int operation_id)
{
    switch (operation_id) {
    case OSSL_OP_ASYM_CIPHER:
    case OSSL_OP_KEM: return ENVPROV_OPNAME_AES;
    default: return NULL;
    }
}

static void *aes_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return envprov_gen_init(provctx, selection, params, ENVKEY_AES_KEK);
}

const OSSL_DISPATCH envprov_aes_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))aes_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))envprov_keymgmt_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))aes_load},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))envprov_keymgmt_dup},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))envprov_keymgmt_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))aes_match},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))aes_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))aes_gettable_params},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))aes_query_operation_name},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))aes_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))envprov_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))envprov_gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))envprov_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))envprov_gen_cleanup},
    {0, NULL},
};
