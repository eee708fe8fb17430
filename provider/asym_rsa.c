/*
 * asym_rsa.c - ASYM_CIPHER "ENVELOPE-RSA": RSA with the private half in a
 * device.
 *
 * Without the "aad" parameter this behaves as OpenSSL's own RSA cipher,
 * with its parameter names and defaults (pad-mode PKCS#1 v1.5, OAEP digest
 * SHA-1, MGF1 = OAEP digest, empty label), because EVP_SealInit/OpenInit
 * and CMS rely on them. Decryption happens in the device with exactly those
 * parameters or not at all: if the token cannot do a form, the caller is
 * told so ("mechanism not supported by token"); we never decrypt raw and
 * strip padding on the host.
 *
 * With "aad" set, encrypt/decrypt are the provider's AEAD wrap (wrap.c).
 *
 * PKCS#1 v1.5 can be refused by configuration (rsa-pkcs1-v15 = no): every
 * v1.5 decryption is a potential Bleichenbacher oracle (docs/SECURITY.md).
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "alarm.h"
#include "audit.h"
#include "params.h"
#include "provider.h"
#include "rsa_form_check.h"
#include "rsa_forms.h"
#include "wrap.h"

typedef struct {
    envprov_ctx *pc;
    envkey *key;
    int padding;
    int oaep_md, mgf1_md; /* NIDs; mgf1_md 0 = same as oaep_md */
    unsigned char *label;
    size_t label_len;
    unsigned char aad[ENVELOPE_MAX_AAD];
    size_t aad_len;
    envprov_call_opts call; /* per-call cache TTL, retired-key override */
    int aad_set;
} rsa_ctx;

static OSSL_FUNC_asym_cipher_newctx_fn rsa_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn rsa_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn rsa_dupctx;
static OSSL_FUNC_asym_cipher_encrypt_init_fn rsa_encrypt_init;
static OSSL_FUNC_asym_cipher_encrypt_fn rsa_encrypt;
static OSSL_FUNC_asym_cipher_decrypt_init_fn rsa_decrypt_init;
static OSSL_FUNC_asym_cipher_decrypt_fn rsa_decrypt;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn rsa_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn rsa_gettable_ctx_params;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn rsa_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn rsa_settable_ctx_params;

static void *rsa_newctx(void *provctx)
{
    rsa_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->pc = provctx;
    return c;
}

static void rsa_freectx(void *vctx)
{
    rsa_ctx *c = vctx;
    if (c == NULL)
        return;
    envkey_free(c->key);
    OPENSSL_free(c->label);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static void *rsa_dupctx(void *vctx)
{
    rsa_ctx *c = vctx, *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *c;
    d->label = NULL;
    if (c->label_len > 0 && (d->label = OPENSSL_memdup(c->label, c->label_len)) == NULL) {
        free(d);
        return NULL;
    }
    envkey_up(d->key);
    return d;
}

static int rsa_init(rsa_ctx *c, void *key, const OSSL_PARAM params[])
{
    envkey *k = key;
    if (k == NULL || k->kind != ENVKEY_RSA)
        return 0;
    envkey_free(c->key);
    c->key = envkey_up(k);
    c->padding = RSA_PKCS1_PADDING; /* OpenSSL's default */
    c->oaep_md = NID_sha1;
    c->mgf1_md = 0;
    OPENSSL_free(c->label);
    c->label = NULL;
    c->label_len = 0;
    c->aad_set = 0;
    c->aad_len = 0;
    c->call = ENVPROV_CALL_OPTS_DEFAULT;
    return rsa_set_ctx_params(c, params);
}

static int rsa_encrypt_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return rsa_init(vctx, key, params);
}

static int rsa_decrypt_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return rsa_init(vctx, key, params);
}

static int check_padding(rsa_ctx *c, int decrypting)
{
    /* The policy is about decryption: a v1.5 decryption is the oracle. */
    if (decrypting && c->padding == RSA_PKCS1_PADDING && !c->pc->rsa_pkcs1_v15) {
        ENVCORE_RAISE(ENVCORE_R_POLICY_REFUSED,
                      "refused by policy: RSA PKCS#1 v1.5 is disabled (rsa-pkcs1-v15 = no); "
                      "use RSA-OAEP (e.g. -keyopt rsa_padding_mode:oaep)");
        return 0;
    }
    if (c->padding != RSA_PKCS1_PADDING && c->padding != RSA_PKCS1_OAEP_PADDING) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "only PKCS#1 v1.5 and OAEP padding are offered for device RSA keys");
        return 0;
    }
    return 1;
}

static void params_of(const rsa_ctx *c, envkey_rsa_params *p)
{
    p->padding = c->padding;
    p->oaep_md = c->oaep_md;
    p->mgf1_md = c->mgf1_md ? c->mgf1_md : c->oaep_md;
    p->label = c->label;
    p->label_len = c->label_len;
}

static int rsa_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    rsa_ctx *c = vctx;
    if (c->aad_set) {
        if (out == NULL) {
            *outlen = envprov_wrap_size(c->key, inlen);
            return 1;
        }
        return envprov_wrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen, outsize) ==
               ENVCORE_R_OK;
    }
    if (!check_padding(c, 0))
        return 0;
    size_t modlen = (size_t)(c->key->bits + 7) / 8;
    if (out == NULL) {
        *outlen = modlen;
        return 1;
    }
    envkey_rsa_params p;
    params_of(c, &p);
    envprov_audit_span sp;
    envprov_audit_begin(c->pc->audit, &sp);
    int r = envprov_audit_gate(c->pc->audit);
    if (r == ENVCORE_R_OK)
        r = envprov_rsa_public_encrypt(c->pc, c->key, &p, in, inlen, out, outlen, outsize);
    envprov_audit_event(c->pc->audit, &sp, ENVPROV_AUDIT_OP_WRAP, c->key, NULL, 0, r,
                        ENVPROV_AUDIT_CACHE_NA, 0, 0, 0);
    return r == ENVCORE_R_OK;
}

/* Plain RSA decryption in the device (CMS key transport, pkeyutl): an
 * unwrap like any other for the retired check, the alarms and the audit. */
static int plain_decrypt(rsa_ctx *c, unsigned char *out, size_t *outlen, size_t outsize,
                         const unsigned char *in, size_t inlen)
{
    /* plain RSA (CMS key transport, pkeyutl) too: a retired KEK stays retired */
    int r = envprov_check_retired(c->pc, c->key, &c->call);
    if (r == ENVCORE_R_OK)
        r = envprov_alarm_unwrap(c->pc, c->key);
    if (r != ENVCORE_R_OK)
        return r;
    envkey_rsa_params p;
    params_of(c, &p);
    if (p.padding == RSA_PKCS1_OAEP_PADDING) {
        int form = envprov_rsa_form_ok(c->pc, c->key, &p);
        if (form < 0)
            return ENVCORE_R_BACKEND_UNAVAILABLE;
        if (form == 0) {
            ENVCORE_RAISE(
                ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                "mechanism not supported by token: RSA-OAEP with %s, MGF1-%s%s (SoftHSM2 "
                "2.6 decrypts only SHA-1 without a label); nothing was decrypted on the host",
                OBJ_nid2sn(p.oaep_md), OBJ_nid2sn(p.mgf1_md), p.label_len ? " and a label" : "");
            return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
        }
    }
    return c->key->ops->rsa_decrypt(c->key->be, &p, in, inlen, out, outlen, outsize);
}

static int rsa_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    rsa_ctx *c = vctx;
    if (c->aad_set) {
        if (out == NULL) {
            *outlen = ENVELOPE_MAX_WRAP_PLAINTEXT;
            return 1;
        }
        return envprov_unwrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen, outsize,
                              &c->call) == ENVCORE_R_OK;
    }
    if (!check_padding(c, 1))
        return 0;
    if (out == NULL) {
        *outlen = (size_t)(c->key->bits + 7) / 8;
        return 1;
    }
    if (!c->key->has_private || c->key->ops == NULL) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "a public key cannot decrypt");
        return 0;
    }
    envprov_audit_span sp;
    envprov_audit_begin(c->pc->audit, &sp);
    int r = plain_decrypt(c, out, outlen, outsize, in, inlen);
    if (r == ENVCORE_R_OK && (r = envprov_audit_gate(c->pc->audit)) != ENVCORE_R_OK)
        OPENSSL_cleanse(out, outsize);
    envprov_audit_event(c->pc->audit, &sp, ENVPROV_AUDIT_OP_UNWRAP, c->key, NULL, 0, r,
                        ENVPROV_AUDIT_CACHE_OFF, 0, 0, 0);
    return r == ENVCORE_R_OK;
}

static int md_nid(const OSSL_PARAM *p, int *nid)
{
    char name[64] = "", *s = name;
    if (!OSSL_PARAM_get_utf8_string(p, &s, sizeof(name)))
        return 0;
    int n = envcore_oaep_nid(name); /* the one table of accepted hashes */
    if (n == NID_undef) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "OAEP digest \"%s\" is not supported", name);
        return 0;
    }
    *nid = n;
    return 1;
}

static int rsa_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    rsa_ctx *c = vctx;
    const OSSL_PARAM *p;
    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
        int pad = 0;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            static const struct {
                const char *name;
                int pad;
            } modes[] = {
                {OSSL_PKEY_RSA_PAD_MODE_NONE, RSA_NO_PADDING},
                {OSSL_PKEY_RSA_PAD_MODE_PKCSV15, RSA_PKCS1_PADDING},
                {OSSL_PKEY_RSA_PAD_MODE_OAEP, RSA_PKCS1_OAEP_PADDING},
            };
            for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                if (envprov_param_is(p, modes[i].name))
                    pad = modes[i].pad;
        } else if (!OSSL_PARAM_get_int(p, &pad)) {
            return 0;
        }
        if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_OAEP_PADDING) {
            ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                          "only PKCS#1 v1.5 and OAEP padding are offered for device RSA keys");
            return 0;
        }
        c->padding = pad;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
        !md_nid(p, &c->oaep_md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
        !md_nid(p, &c->mgf1_md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL) {
        void *buf = NULL;
        size_t len = 0;
        if (!OSSL_PARAM_get_octet_string(p, &buf, 0, &len))
            return 0;
        OPENSSL_free(c->label);
        c->label = buf;
        c->label_len = len;
    }
    if (!envprov_param_call_opts(params, &c->call))
        return 0;
    if (!envprov_param_aad(params, c->aad, &c->aad_len, &c->aad_set))
        return 0;
    return 1;
}

static const OSSL_PARAM *rsa_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, NULL, 0),
        OSSL_PARAM_uint64(ENVELOPE_PKEY_PARAM_CACHE_TTL, NULL),
        OSSL_PARAM_int(ENVELOPE_PKEY_PARAM_ALLOW_RETIRED, NULL),
        OSSL_PARAM_END,
    };
    return settable;
}

static int rsa_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    rsa_ctx *c = vctx;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
        if (p->data_type == OSSL_PARAM_INTEGER) {
            if (!OSSL_PARAM_set_int(p, c->padding))
                return 0;
        } else if (!OSSL_PARAM_set_utf8_string(p, c->padding == RSA_PKCS1_OAEP_PADDING
                                                      ? OSSL_PKEY_RSA_PAD_MODE_OAEP
                                                      : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)) {
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, OBJ_nid2sn(c->oaep_md)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, OBJ_nid2sn(c->mgf1_md ? c->mgf1_md : c->oaep_md)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL &&
        !OSSL_PARAM_set_octet_ptr(p, c->label, c->label_len))
        return 0;
    return 1;
}

static const OSSL_PARAM *rsa_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
        OSSL_PARAM_END,
    };
    return gettable;
}

const OSSL_DISPATCH envprov_rsa_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rsa_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rsa_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rsa_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))rsa_encrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))rsa_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rsa_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rsa_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rsa_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_gettable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rsa_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params},
    {0, NULL},
};
