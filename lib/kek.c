/*
 * kek.c - KEKs are URIs (the layer rule: lib/ speaks only public OpenSSL
 * APIs and never a backend). OSSL_STORE gives the EVP_PKEY; wrapping is
 * either the envelope provider's AEAD wrap (the key's encrypt context
 * accepts ENVELOPE_PKEY_PARAM_AAD) or, for a plain RSA key, RSA-OAEP with
 * SHA-256/MGF1-SHA-256 and the wrap AAD as the OAEP label (RFC 8017 §7.1).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "envelope/provider.h"
#include "internal.h"

const char *envelope_wrap_kind_name(int kind)
{
    switch (kind) {
    case ENVELOPE_WRAP_RSA_OAEP_SHA256: return "rsa-oaep-sha256";
    case ENVELOPE_WRAP_PROVIDER_AEAD: return "provider-aead";
    default: return "unknown";
    }
}

static int ctx_accepts_aad(EVP_PKEY_CTX *pctx)
{
    const OSSL_PARAM *sp = EVP_PKEY_CTX_settable_params(pctx);
    return sp != NULL && OSSL_PARAM_locate_const(sp, ENVELOPE_PKEY_PARAM_AAD) != NULL;
}

/* Decides the wrap kind from what the key's provider offers. */
static envelope_status classify(envelope_kek *k, const char *uri, envelope_err *err)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(k->lib->libctx, k->pkey, k->lib->propq);
    if (pctx == NULL)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "cannot use KEK \"%.200s\"", k->ref);
    int init = EVP_PKEY_encrypt_init(pctx) == 1;
    int aead = init && ctx_accepts_aad(pctx);
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    if (aead) {
        k->kind = ENVELOPE_WRAP_PROVIDER_AEAD;
        return ENVELOPE_OK;
    }
    if (init && EVP_PKEY_is_a(k->pkey, "RSA")) {
        if (EVP_PKEY_get_bits(k->pkey) < 2048)
            return env_fail(err, ENVELOPE_ERR_KEK_UNSUPPORTED,
                            "KEK \"%.200s\" is RSA-%d; a KEK must be RSA-2048 or larger", k->ref,
                            EVP_PKEY_get_bits(k->pkey));
        k->kind = ENVELOPE_WRAP_RSA_OAEP_SHA256;
        return ENVELOPE_OK;
    }
    return env_fail(
        err, ENVELOPE_ERR_KEK_UNSUPPORTED,
        "KEK type not supported: \"%.200s\" is a %s key; use an RSA key or an "
        "envelope provider key (pkcs11:, tpm2:; KMS keys are pkcs11: keys of the KMS bridge)",
        uri, EVP_PKEY_get0_type_name(k->pkey) ? EVP_PKEY_get0_type_name(k->pkey) : "unknown");
}

/*
 * A token key pair's public half can wrap but never unwrap: a message that
 * recorded "type=public" would name a key that cannot open it, and a
 * keyless decrypt would report tampering. The pair shares CKA_ID and label
 * (as pkcs11-tool and `envelope kek create` make them), so the message
 * records the private half; if a token holds only the public key, decrypt
 * says the key is not on the token instead.
 */
static void record_private_half(char *ref)
{
    static const char attr[] = "type=public";
    size_t alen = sizeof(attr) - 1;
    if (strncmp(ref, "pkcs11:", 7) != 0)
        return;
    char *query = strchr(ref, '?');
    for (char *p = ref + 7; (p = strstr(p, attr)) != NULL; p += alen) {
        if (query != NULL && p > query)
            return;
        if ((p[-1] == ':' || p[-1] == ';') &&
            (p[alen] == '\0' || p[alen] == ';' || p[alen] == '?')) {
            /* "public" and "private" differ in length: shift the tail */
            memmove(p + 5 + 7, p + alen, strlen(p + alen) + 1);
            memcpy(p + 5, "private", 7);
            return;
        }
    }
}

/* A software RSA key (OpenSSL's own providers) without its private
 * exponent: a public key file or a certificate. It wraps; asked to unwrap
 * it is a setup mistake, said as such rather than as tampering. Keys of
 * other providers (a token's) may hide their private parts, so they are
 * never judged by it. */
static int software_public_only(const EVP_PKEY *pkey)
{
    const OSSL_PROVIDER *p = EVP_PKEY_get0_provider(pkey);
    const char *name = p != NULL ? OSSL_PROVIDER_get0_name(p) : NULL;
    if (name == NULL ||
        (strcmp(name, "default") != 0 && strcmp(name, "base") != 0 && strcmp(name, "fips") != 0))
        return 0;
    BIGNUM *d = NULL;
    int has_d = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
    BN_clear_free(d);
    ERR_clear_error();
    return !has_d;
}

/* The reference a message records: the provider's own for its keys, else
 * the caller's URI without secrets and SHA-256(SubjectPublicKeyInfo). */
static envelope_status reference(envelope_kek *k, const char *uri, envelope_err *err)
{
    size_t ulen = 0, idlen = 0;
    if (EVP_PKEY_get_utf8_string_param(k->pkey, ENVELOPE_PKEY_PARAM_URI, k->ref, sizeof(k->ref),
                                       &ulen) == 1 &&
        ulen > 0 &&
        EVP_PKEY_get_octet_string_param(k->pkey, ENVELOPE_PKEY_PARAM_KEY_ID, k->key_id,
                                        sizeof(k->key_id), &idlen) == 1) {
        k->key_id_len = idlen;
        if (strlen(k->ref) + 1 < sizeof(k->ref)) /* room for "private" over "public" */
            record_private_half(k->ref);
        return env_uri_printable(k->ref, sizeof(k->ref), err);
    }
    ERR_clear_error();
    ENV_GUARD(env_uri_strip(uri, k->ref, sizeof(k->ref), err));
    ENV_GUARD(env_uri_printable(k->ref, sizeof(k->ref), err));
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(k->pkey, &der);
    unsigned int mdlen = 0;
    int ok = dlen > 0 &&
             EVP_Digest(der, (size_t)dlen, k->key_id, &mdlen, k->lib->sha256, NULL) == 1;
    OPENSSL_free(der);
    if (!ok)
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_UNSUPPORTED,
                             "cannot encode the public key of KEK \"%.200s\"", k->ref);
    k->key_id_len = mdlen;
    return ENVELOPE_OK;
}

/* pkcs11: and tpm2: are always the provider's, loaded or not (never a file
 * of that name); any other scheme is if the loaded envelope provider has a
 * STORE for it (a backend added to the build: docs/ARCHITECTURE.md). */
static int served_by_envelope(envelope_lib *lib, const char *uri)
{
    char scheme[64];
    if (env_uri_message_scheme(uri) || strncasecmp(uri, "alias:", 6) == 0)
        return 1; /* alias: is the envelope provider's too (kek.NAME settings) */
    if (!env_uri_scheme(uri, scheme, sizeof(scheme)))
        return 0;
    ERR_set_mark();
    OSSL_STORE_LOADER *l = OSSL_STORE_LOADER_fetch(lib->libctx, scheme,
                                                   "provider=" ENVELOPE_PROVIDER_NAME);
    ERR_pop_to_mark();
    OSSL_STORE_LOADER_free(l);
    return l != NULL;
}

/* A pkcs11: or tpm2: KEK with no envelope provider to open it is a setup
 * mistake (no OPENSSL_CONF, a provider section that is not activated, a
 * module path that does not load): said as such, before the store's
 * generic "unsupported" turns it into "no KEK for this message". */
static envelope_status need_provider(envelope_lib *lib, const char *uri, const char *shown,
                                     envelope_err *err)
{
    char scheme[64];
    if (!env_uri_scheme(uri, scheme, sizeof(scheme)) ||
        !(env_uri_message_scheme(uri) || strcasecmp(scheme, "alias") == 0))
        return ENVELOPE_OK;
    ERR_set_mark();
    OSSL_STORE_LOADER *l = OSSL_STORE_LOADER_fetch(lib->libctx, scheme,
                                                   "provider=" ENVELOPE_PROVIDER_NAME);
    ERR_pop_to_mark();
    if (l != NULL) {
        OSSL_STORE_LOADER_free(l);
        return ENVELOPE_OK;
    }
    const char *conf = secure_getenv("OPENSSL_CONF");
    return env_fail(err, ENVELOPE_ERR_CONFIG,
                    "cannot open KEK \"%.200s\": the envelope provider is not loaded "
                    "(OPENSSL_CONF %s%s%s); %s: keys need it in the OpenSSL configuration "
                    "(see docs/PROVIDER.md)",
                    shown, conf ? "is \"" : "is not set", conf ? conf : "", conf ? "\"" : "",
                    scheme);
}

#define KEK_OPEN_MAX 16

static envelope_status kek_open_n(envelope_lib *lib, const char *uri, int from_message,
                                  envelope_kek **out, size_t max, size_t *nout, envelope_err *err)
{
    if (lib == NULL || uri == NULL || out == NULL || max == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_kek_open: NULL argument");
    *nout = 0;
    if (max > KEK_OPEN_MAX)
        max = KEK_OPEN_MAX;
    for (size_t i = 0; i < max; i++)
        out[i] = NULL;
    if (strlen(uri) > ENVELOPE_MAX_KEK_URI)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK URI is longer than %d bytes",
                        ENVELOPE_MAX_KEK_URI);
    char shown[ENVELOPE_MAX_KEK_URI + 1];
    if (env_uri_strip(uri, shown, sizeof(shown), NULL) != ENVELOPE_OK)
        shown[0] = '\0';
    /* Keys of the envelope provider's schemes come only from its loaders.
     * Without the property query OpenSSL first tries its own file: loader
     * with the whole URI as a relative path, so a file named
     * "pkcs11:x/k.pem" (or "vault:a") in the current folder would be loaded
     * as the KEK. */
    ENV_GUARD(need_provider(lib, uri, shown, err));
    const char *propq = served_by_envelope(lib, uri) ? "provider=" ENVELOPE_PROVIDER_NAME
                                                     : lib->propq;
    /* A reference read from a message tells the provider so before it
     * touches a token or TPM: it then opens only what its configuration
     * lets a message name, and offers no PIN elsewhere
     * (ENVELOPE_STORE_PARAM_FROM_MESSAGE, docs/PROVIDER.md). */
    int one = 1;
    OSSL_PARAM msg_params[] = {OSSL_PARAM_int(ENVELOPE_STORE_PARAM_FROM_MESSAGE, &one),
                               OSSL_PARAM_END};
    ERR_set_mark();
    OSSL_STORE_CTX *st = OSSL_STORE_open_ex(uri, lib->libctx, propq, NULL, NULL,
                                            from_message ? msg_params : NULL, NULL, NULL);
    if (st == NULL) {
        ERR_clear_last_mark();
        /* "Check the URI" only where the URI can be the cause: not after a
         * PIN, configuration or backend reason of the provider. */
        unsigned long e = ERR_peek_last_error();
        const char *elib = e != 0 ? ERR_lib_error_string(e) : NULL;
        int r = elib != NULL && strcmp(elib, ENVELOPE_PROVIDER_NAME) == 0 ? ERR_GET_REASON(e) : 0;
        int uri_hint = r == 0 || r == ENVELOPE_PROV_R_BAD_URI ||
                       r == ENVELOPE_PROV_R_OBJECT_NOT_FOUND || r == ENVELOPE_PROV_R_TOKEN_UNKNOWN;
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND, "cannot open KEK \"%.200s\"%s", shown,
                             uri_hint ? "; check the URI (list keys with: envelope kek list URI)"
                                      : "");
    }
    EVP_PKEY *pkeys[KEK_OPEN_MAX];
    size_t np = 0;
    while (np < max && !OSSL_STORE_eof(st)) {
        EVP_PKEY *pkey = NULL;
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL)
            break;
        switch (OSSL_STORE_INFO_get_type(info)) {
        case OSSL_STORE_INFO_PKEY: pkey = OSSL_STORE_INFO_get1_PKEY(info); break;
        case OSSL_STORE_INFO_PUBKEY: pkey = OSSL_STORE_INFO_get1_PUBKEY(info); break;
        case OSSL_STORE_INFO_CERT: {
            X509 *x = OSSL_STORE_INFO_get0_CERT(info);
            pkey = x ? X509_get_pubkey(x) : NULL;
            break;
        }
        default: break;
        }
        OSSL_STORE_INFO_free(info);
        if (pkey != NULL)
            pkeys[np++] = pkey;
    }
    OSSL_STORE_close(st);
    if (np == 0) {
        ERR_clear_last_mark();
        /* The provider's loaders search at the first load: their reasons
         * (PIN, token, backend) arrive here, not at OSSL_STORE_open. */
        unsigned long e = ERR_peek_last_error();
        const char *elib = e != 0 ? ERR_lib_error_string(e) : NULL;
        int r = elib != NULL && strcmp(elib, ENVELOPE_PROVIDER_NAME) == 0 ? ERR_GET_REASON(e) : 0;
        if (r == ENVELOPE_PROV_R_PIN_INCORRECT)
            /* the PIN, not the URI; and a real token may lock after a few */
            return env_fail_ossl(err, ENVELOPE_ERR_POLICY,
                                 "cannot open KEK \"%.200s\": the token refused the PIN; fix the "
                                 "PIN the provider's pin source gives before trying again (a "
                                 "token may lock after a few wrong PINs)",
                                 shown);
        if (r != 0)
            /* the provider's message says what was missing, and where */
            return env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND, "cannot open KEK \"%.200s\"",
                                 shown);
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND,
                             "no key found at \"%.200s\"; list keys with: envelope kek list URI",
                             shown);
    }
    /* Loaders try several decoders; the ones that failed before one
     * succeeded leave errors that are not ours to report. */
    ERR_pop_to_mark();
    envelope_status s = ENVELOPE_OK;
    for (size_t i = 0; i < np; i++) {
        envelope_kek *k = s == ENVELOPE_OK ? OPENSSL_zalloc(sizeof(*k)) : NULL;
        if (k == NULL) {
            EVP_PKEY_free(pkeys[i]);
            if (s == ENVELOPE_OK)
                s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
            continue;
        }
        k->lib = lib;
        k->pkey = pkeys[i];
        s = reference(k, uri, err);
        if (s == ENVELOPE_OK)
            s = classify(k, shown, err);
        if (s == ENVELOPE_OK && k->kind == ENVELOPE_WRAP_RSA_OAEP_SHA256)
            k->public_only = software_public_only(k->pkey);
        if (s != ENVELOPE_OK)
            envelope_kek_free(k);
        else
            out[(*nout)++] = k;
    }
    if (s != ENVELOPE_OK) {
        for (size_t i = 0; i < *nout; i++) {
            envelope_kek_free(out[i]);
            out[i] = NULL;
        }
        *nout = 0;
    }
    return s;
}

static envelope_status kek_open(envelope_lib *lib, const char *uri, int from_message,
                                envelope_kek **out, envelope_err *err)
{
    size_t n = 0;
    if (out != NULL)
        *out = NULL;
    return kek_open_n(lib, uri, from_message, out, 1, &n, err);
}

envelope_status envelope_kek_open_all(envelope_lib *lib, const char *uri, envelope_kek **out,
                                      size_t max, size_t *n, envelope_err *err)
{
    env_err_clear(err);
    size_t dummy = 0;
    return kek_open_n(lib, uri, 0, out, max, n != NULL ? n : &dummy, err);
}

envelope_status envelope_kek_open(envelope_lib *lib, const char *uri, envelope_kek **out,
                                  envelope_err *err)
{
    env_err_clear(err);
    return kek_open(lib, uri, 0, out, err);
}

envelope_status env_kek_open_from_message(envelope_lib *lib, const char *uri, envelope_kek **out,
                                          envelope_err *err)
{
    return kek_open(lib, uri, 1, out, err);
}

void envelope_kek_allow_retired(envelope_kek *k, int allow)
{
    if (k != NULL)
        k->allow_retired = allow != 0;
}

void envelope_kek_free(envelope_kek *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    OPENSSL_clear_free(k, sizeof(*k));
}

const char *envelope_kek_reference(const envelope_kek *k)
{
    return k ? k->ref : NULL;
}

const uint8_t *envelope_kek_key_id(const envelope_kek *k, size_t *len)
{
    if (len)
        *len = k ? k->key_id_len : 0;
    return k ? k->key_id : NULL;
}

envelope_wrap_kind envelope_kek_wrap_kind(const envelope_kek *k)
{
    return k ? k->kind : 0;
}

static int set_oaep(EVP_PKEY_CTX *pctx, const uint8_t aad[32])
{
    /* EVP_PKEY_CTX_set0_rsa_oaep_label takes ownership of the label. */
    uint8_t *label = OPENSSL_memdup(aad, 32);
    if (label == NULL)
        return 0;
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, "SHA2-256", NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA2-256", NULL) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, 32) != 1) {
        OPENSSL_free(label);
        return 0;
    }
    return 1;
}

static int set_aad_ex(EVP_PKEY_CTX *pctx, const uint8_t aad[32], int allow_retired)
{
    int one = 1;
    OSSL_PARAM p[3] = {OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, 32),
                       OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
    if (allow_retired)
        p[1] = OSSL_PARAM_construct_int(ENVELOPE_PKEY_PARAM_ALLOW_RETIRED, &one);
    return EVP_PKEY_CTX_set_params(pctx, p) == 1;
}

static int set_aad(EVP_PKEY_CTX *pctx, const uint8_t aad[32])
{
    return set_aad_ex(pctx, aad, 0);
}

/* The provider's own wraps are told when they are a rewrap: its audit
 * trail records them as such (docs/AUDIT.md). */
static int set_rewrap(EVP_PKEY_CTX *pctx)
{
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(ENVELOPE_PKEY_PARAM_PURPOSE,
                                                        (char *)ENVELOPE_PURPOSE_REWRAP, 0),
                       OSSL_PARAM_construct_end()};
    return EVP_PKEY_CTX_set_params(pctx, p) == 1;
}

envelope_status env_kek_wrap(const envelope_kek *k, const uint8_t aad[32], const uint8_t *dek,
                             uint8_t *out, size_t *outlen, size_t outsize, envelope_err *err)
{
    return env_kek_wrap_for(k, aad, dek, 0, out, outlen, outsize, err);
}

envelope_status env_kek_wrap_for(const envelope_kek *k, const uint8_t aad[32], const uint8_t *dek,
                                 int rewrap, uint8_t *out, size_t *outlen, size_t outsize,
                                 envelope_err *err)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(k->lib->libctx, k->pkey, k->lib->propq);
    size_t need = 0;
    int aead = k->kind == ENVELOPE_WRAP_PROVIDER_AEAD;
    int ok = pctx != NULL && EVP_PKEY_encrypt_init(pctx) == 1 &&
             (aead ? set_aad(pctx, aad) : set_oaep(pctx, aad)) &&
             (!aead || !rewrap || set_rewrap(pctx)) &&
             EVP_PKEY_encrypt(pctx, NULL, &need, dek, ENVELOPE_DEK_BYTES) == 1;
    if (ok && need > outsize) {
        EVP_PKEY_CTX_free(pctx);
        return env_fail(err, ENVELOPE_ERR_KEK_UNSUPPORTED,
                        "KEK \"%.200s\" makes wrapped keys of %zu bytes; the format allows %d",
                        k->ref, need, ENVELOPE_MAX_WRAPPED);
    }
    *outlen = outsize;
    ok = ok && EVP_PKEY_encrypt(pctx, out, outlen, dek, ENVELOPE_DEK_BYTES) == 1 && *outlen > 0;
    EVP_PKEY_CTX_free(pctx);
    if (!ok)
        /* Fail closed: no message is written whose DEK is not wrapped. */
        return env_fail_ossl(err, ENVELOPE_ERR_BACKEND,
                             "wrapping the DEK with KEK \"%.200s\" failed", k->ref);
    return ENVELOPE_OK;
}

envelope_status env_kek_unwrap(const envelope_kek *k, int kind, const uint8_t aad[32],
                               const uint8_t *wrapped, size_t wlen, uint8_t *dek, envelope_err *err)
{
    if (kind != (int)k->kind)
        return env_fail(err, ENVELOPE_ERR_NO_KEK, "KEK \"%.200s\" does not do wrap kind %s", k->ref,
                        envelope_wrap_kind_name(kind));
    if (k->public_only)
        return env_fail(err, ENVELOPE_ERR_CONFIG,
                        "KEK \"%.200s\" is only a public key: it encrypts but cannot decrypt; "
                        "name the private key (the file that holds it, or the token's private "
                        "key) to decrypt",
                        k->ref);
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(k->lib->libctx, k->pkey, k->lib->propq);
    /* RSA output can be up to the modulus size: decrypt into a bounded
     * buffer and accept exactly a DEK. */
    uint8_t buf[ENVELOPE_MAX_WRAPPED];
    size_t outl = sizeof(buf);
    int init = pctx != NULL && EVP_PKEY_decrypt_init(pctx) == 1 &&
               (kind == ENVELOPE_WRAP_PROVIDER_AEAD ? set_aad_ex(pctx, aad, k->allow_retired)
                                                    : set_oaep(pctx, aad));
    int ok = init && EVP_PKEY_decrypt(pctx, buf, &outl, wrapped, wlen) == 1 &&
             outl == ENVELOPE_DEK_BYTES;
    EVP_PKEY_CTX_free(pctx);
    if (ok)
        memcpy(dek, buf, ENVELOPE_DEK_BYTES);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (ok) {
        ERR_clear_error();
        return ENVELOPE_OK;
    }
    if (!init)
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_UNSUPPORTED,
                             "KEK \"%.200s\" cannot unwrap (is it only a public key?)", k->ref);
    /* An OAEP or AEAD failure means this EDK was not made for this KEK
     * and header: authentication, unless the provider says its home is
     * unreachable or refused. */
    return env_fail_ossl(err, ENVELOPE_ERR_AUTH, "unwrapping with KEK \"%.200s\" failed", k->ref);
}
