/*
 * keymgmt_common.c - key manager pieces shared by RSA and AES-KEK keys.
 */
#include "audit.h"
#include "keymgmt_common.h"
#include "keytype_names.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

void *envprov_keymgmt_load(const void *reference, size_t reference_sz, envkey_kind want)
{
    envprov_keyref ref;
    if (reference == NULL || reference_sz != sizeof(ref))
        return NULL;
    memcpy(&ref, reference, sizeof(ref));
    if (ref.magic != ENVPROV_KEYREF_MAGIC || ref.key == NULL || ref.key->kind != want)
        return NULL;
    return envkey_up(ref.key);
}

void envprov_keymgmt_free(void *keydata)
{
    envkey_free(keydata);
}

void *envprov_keymgmt_dup(const void *keydata, int selection)
{
    return envkey_up((envkey *)keydata);
}

int envprov_keymgmt_has(const void *keydata, int selection)
{
    const envkey *k = keydata;
    if (k == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->has_private)
        return 0;
    /* an empty key (new, not yet imported) has nothing */
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && k->kind != ENVKEY_AES_KEK && k->pub == NULL)
        return 0;
    return 1;
}

const char *envprov_key_home(const envkey *k)
{
    return k->ops != NULL && k->ops->home != NULL ? k->ops->home : "device";
}

void *envprov_keymgmt_new_empty(envkey_kind kind)
{
    return envkey_new(kind, NULL, NULL);
}

int envprov_keymgmt_import_public(void *keydata, int selection, const OSSL_PARAM params[],
                                  const char *type, const char *const *names)
{
    envkey *k = keydata;
    envprov_ctx *pc = envprov_ctx_get();
    if (k == NULL || k->pub != NULL || k->ops != NULL || pc == NULL)
        return 0; /* only an empty key from new() is ever filled */
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "a private key cannot be imported into the envelope provider: its keys "
                      "are held by a token or TPM (load them by URI)");
        return 0;
    }
    if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
        return 1; /* parameters only: an RSA or P-256 key has none to keep */
    /* Copy the public parameters alone, whatever else the exporter sent. */
    OSSL_PARAM pub[4];
    size_t n = 0;
    for (size_t i = 0; names[i] != NULL && n < 3; i++) {
        const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, names[i]);
        if (p != NULL)
            pub[n++] = *p;
    }
    pub[n] = OSSL_PARAM_construct_end();
    EVP_PKEY *pk = NULL;
    /* by OID, not "RSA"/"EC": a registered ENGINE must not take the context
     * (core/keytype_names.h) */
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(pc->swctx,
                                                 strcmp(type, "EC") == 0 ? ENVELOPE_SW_EC_NAME
                                                                         : ENVELOPE_SW_RSA_NAME,
                                                 "provider=default");
    int ok = c != NULL && EVP_PKEY_fromdata_init(c) > 0 &&
             EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, pub) > 0;
    EVP_PKEY_CTX_free(c);
    if (!ok) {
        EVP_PKEY_free(pk);
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "cannot import the %s public key", type);
        return 0;
    }
    k->pub = pk;
    k->bits = EVP_PKEY_get_bits(pk);
    k->has_private = 0;
    return 1;
}

int envprov_keymgmt_match_public(const void *a, const void *b, int selection)
{
    const envkey *x = a, *y = b;
    return x->pub != NULL && y->pub != NULL && EVP_PKEY_eq(x->pub, y->pub) == 1;
}

int envprov_keymgmt_export_public(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    envkey *k = keydata;
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) {
        /* Never: the private half does not leave its home. Asked by
         * encoders (openssl pkey -text, -out, PEM_write_PrivateKey) and by
         * operations of another provider; say why on the error queue, or
         * the caller fails with nothing to show. */
        if (k->has_private)
            ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                          "the key is held by the %s; it can't be exported", envprov_key_home(k));
        else
            ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "a public key has no private part to export");
        return 0;
    }
    if (!(selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)))
        return 1;
    if (k->pub == NULL)
        return 0;
    OSSL_PARAM *params = NULL;
    if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    int ok = cb(params, cbarg);
    OSSL_PARAM_free(params);
    return ok;
}

int envprov_keymgmt_get_common_params(const envkey *k, OSSL_PARAM params[])
{
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, ENVELOPE_PKEY_PARAM_URI)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, k->uri ? k->uri : ""))
        return 0;
    if ((p = OSSL_PARAM_locate(params, ENVELOPE_PKEY_PARAM_KEY_ID)) != NULL &&
        !OSSL_PARAM_set_octet_string(p, k->key_id, k->key_id_len))
        return 0;
    return 1;
}

void *envprov_gen_init(void *provctx, int selection, const OSSL_PARAM params[], envkey_kind kind)
{
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0 || !envprov_config_ok(provctx))
        return NULL;
    struct envprov_gen_ctx *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->pc = provctx;
    g->kind = kind;
    g->bits = kind == ENVKEY_RSA ? 3072 : 256;
    if (!envprov_gen_set_params(g, params)) {
        envprov_gen_cleanup(g);
        return NULL;
    }
    return g;
}

int envprov_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    struct envprov_gen_ctx *g = genctx;
    const OSSL_PARAM *p;
    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, ENVELOPE_GEN_PARAM_URI)) != NULL) {
        char *s = NULL;
        if (!OSSL_PARAM_get_utf8_string(p, &s, 4096))
            return 0;
        if (g->uri != NULL)
            OPENSSL_clear_free(g->uri, strlen(g->uri)); /* may hold a pin-value */
        g->uri = s;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
        const char *grp = NULL;
        if (g->kind != ENVKEY_EC_P256 || !OSSL_PARAM_get_utf8_string_ptr(p, &grp) ||
            (strcmp(grp, "P-256") != 0 && strcmp(grp, "prime256v1") != 0)) {
            ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED, "EC KEKs are P-256 only");
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, ENVELOPE_GEN_PARAM_BITS)) != NULL) {
        size_t bits;
        if (!OSSL_PARAM_get_size_t(p, &bits) || bits > 16384)
            return 0;
        g->bits = (int)bits;
        g->bits_set = 1;
    }
    return 1;
}

const OSSL_PARAM *envprov_gen_settable_params(void *genctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(ENVELOPE_GEN_PARAM_URI, NULL, 0),
        OSSL_PARAM_size_t(ENVELOPE_GEN_PARAM_BITS, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_END,
    };
    return settable;
}

void *envprov_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    struct envprov_gen_ctx *g = genctx;
    if (g->uri == NULL) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "key generation needs the \"" ENVELOPE_GEN_PARAM_URI "\" parameter: the "
                      "URI of the key to create, e.g. pkcs11:token=prod;object=kek-1");
        return NULL;
    }
    void *client = NULL;
    const envcore_backend *be = envprov_backend_for(g->pc, g->uri, &client);
    if (be == NULL)
        return NULL;
    if (be->generate == NULL) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "keys cannot be created at %s: URIs", be->scheme);
        return NULL;
    }
    /* 0: the home's own default size (RSA-3072 on a token, 2048 in a TPM) */
    int bits = g->kind == ENVKEY_RSA && g->bits_set ? g->bits : 0;
    envkey *k = NULL;
    envprov_audit_span sp;
    envprov_audit_begin(g->pc->audit, &sp);
    int r = be->generate(client, g->uri, g->kind, bits, &k);
    /* the reference as asked for (the writer strips any PIN attribute) */
    envprov_audit_event_uri(g->pc->audit, &sp, ENVPROV_AUDIT_OP_KEK_CREATE,
                            k != NULL && k->uri != NULL ? k->uri : g->uri, be->scheme, r);
    if (r != ENVCORE_R_OK) {
        envkey_free(k);
        return NULL;
    }
    envcore_debug("keygen: created %s", k->uri != NULL ? k->uri : "a key");
    return k;
}

void envprov_gen_cleanup(void *genctx)
{
    struct envprov_gen_ctx *g = genctx;
    if (g == NULL)
        return;
    if (g->uri != NULL)
        OPENSSL_clear_free(g->uri, strlen(g->uri));
    free(g);
}
