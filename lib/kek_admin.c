/*
 * kek_admin.c - creating and listing KEKs. Creation goes through the
 * envelope provider's KEYMGMT (EVP_PKEY_generate with the target URI as a
 * gen param), so the key is born in its home and never exists outside it.
 * Listing is OSSL_STORE over a URI.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "envelope/provider.h"
#include "internal.h"

envelope_status envelope_kek_create(envelope_lib *lib, const char *type, const char *uri,
                                    envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || type == NULL || uri == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_kek_create: NULL argument");
    const char *alg;
    unsigned int bits = 0;
    if (strcmp(type, "aes-256") == 0) {
        alg = ENVELOPE_KEYTYPE_AES_KEK;
    } else if (strcmp(type, "rsa-3072") == 0) {
        alg = ENVELOPE_KEYTYPE_RSA; /* not "RSA": see envelope/provider.h */
        bits = 3072;
    } else if (strcmp(type, "rsa-2048") == 0) { /* the TPM's RSA size */
        alg = ENVELOPE_KEYTYPE_RSA;
        bits = 2048;
    } else if (strcmp(type, "ec-p256") == 0) { /* TPM ECDH KEKs */
        alg = ENVELOPE_KEYTYPE_EC;
    } else {
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "unknown KEK type \"%.40s\"; use aes-256 or rsa-3072 (PKCS#11), "
                        "ec-p256 or rsa-2048 (TPM)",
                        type);
    }
    char shown[ENVELOPE_MAX_KEK_URI + 1];
    ENV_GUARD(env_uri_strip(uri, shown, sizeof(shown), err));
    /* Only the envelope provider can create a key inside a key home; a
     * default-provider key would live in this process's memory. */
    EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(lib->libctx, alg,
                                                 "provider=" ENVELOPE_PROVIDER_NAME);
    if (g == NULL)
        return env_fail_ossl(err, ENVELOPE_ERR_BACKEND,
                             "the envelope provider is not loaded (no %s key generator); "
                             "check OPENSSL_CONF or --config",
                             alg);
    OSSL_PARAM p[3], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(ENVELOPE_GEN_PARAM_URI, (char *)uri, 0);
    if (bits)
        *q++ = OSSL_PARAM_construct_uint(ENVELOPE_GEN_PARAM_BITS, &bits);
    *q = OSSL_PARAM_construct_end();
    EVP_PKEY *k = NULL;
    int ok = EVP_PKEY_keygen_init(g) == 1 && EVP_PKEY_CTX_set_params(g, p) == 1 &&
             EVP_PKEY_generate(g, &k) == 1;
    EVP_PKEY_CTX_free(g);
    EVP_PKEY_free(k);
    if (!ok)
        return env_fail_ossl(err, ENVELOPE_ERR_BACKEND, "creating %s KEK at \"%.200s\" failed",
                             type, shown);
    ERR_clear_error();
    return ENVELOPE_OK;
}

envelope_status envelope_kek_list(envelope_lib *lib, const char *uri,
                                  int (*fn)(void *arg, const envelope_kek_info *ki), void *arg,
                                  envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || uri == NULL || fn == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_kek_list: NULL argument");
    char shown[ENVELOPE_MAX_KEK_URI + 1];
    ENV_GUARD(env_uri_strip(uri, shown, sizeof(shown), err));
    /* "tpm2:" alone: the TPM's persistent keys, through the provider's
     * listing store (names and descriptions; no key is opened) */
    const char *store_uri = strcmp(uri, "tpm2:") == 0 ? "tpm2-list:" : uri;
    ERR_set_mark();
    OSSL_STORE_CTX *st = OSSL_STORE_open_ex(store_uri, lib->libctx, lib->propq, NULL, NULL, NULL,
                                            NULL, NULL);
    if (st == NULL) {
        ERR_clear_last_mark();
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND, "cannot open \"%.200s\"", shown);
    }
    envelope_status s = ENVELOPE_OK;
    int misses = 0;
    while (s == ENVELOPE_OK && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL) {
            /* The envelope provider's stores search at the first load: a
             * failed search (PIN, token, backend) is an error of the
             * listing, not an empty one. */
            unsigned long e = ERR_peek_last_error();
            const char *elib = e != 0 ? ERR_lib_error_string(e) : NULL;
            if (OSSL_STORE_error(st) && elib != NULL && strcmp(elib, ENVELOPE_PROVIDER_NAME) == 0) {
                ERR_clear_last_mark();
                s = env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND, "cannot list \"%.200s\"", shown);
                OSSL_STORE_close(st);
                return s;
            }
            /* An undecodable object is skipped; a store that keeps failing
             * would never reach eof, so give up after a few in a row. */
            if (++misses > 16)
                break;
            continue;
        }
        misses = 0;
        EVP_PKEY *pk = NULL;
        int t = OSSL_STORE_INFO_get_type(info);
        if (t == OSSL_STORE_INFO_NAME && store_uri != uri) {
            const char *name = OSSL_STORE_INFO_get0_NAME(info);
            const char *desc = OSSL_STORE_INFO_get0_NAME_description(info);
            envelope_kek_info ki = {"TPM2-PERSISTENT",       name != NULL ? name : "", NULL, 0, 0,
                                    desc != NULL ? desc : ""};
            if (fn(arg, &ki) != 0)
                s = env_fail(err, ENVELOPE_ERR_OUTPUT, "listing stopped by the caller");
            OSSL_STORE_INFO_free(info);
            continue;
        }
        if (t == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(info);
        else if (t == OSSL_STORE_INFO_PUBKEY)
            pk = OSSL_STORE_INFO_get1_PUBKEY(info);
        OSSL_STORE_INFO_free(info);
        if (pk == NULL)
            continue;
        char ref[ENVELOPE_MAX_KEK_URI + 1] = "";
        uint8_t id[ENVELOPE_MAX_KEY_ID];
        size_t rl = 0, il = 0;
        if (EVP_PKEY_get_utf8_string_param(pk, ENVELOPE_PKEY_PARAM_URI, ref, sizeof(ref), &rl) != 1)
            ref[0] = '\0';
        if (EVP_PKEY_get_octet_string_param(pk, ENVELOPE_PKEY_PARAM_KEY_ID, id, sizeof(id), &il) !=
            1) {
            /* Not an envelope key: the id a message would record for it. */
            unsigned char *der = NULL;
            int dl = i2d_PUBKEY(pk, &der);
            unsigned int ml = 0;
            il = dl > 0 && EVP_Digest(der, (size_t)dl, id, &ml, lib->sha256, NULL) == 1 ? ml : 0;
            OPENSSL_free(der);
        }
        /* the common names, not the provider's canonical ENVELOPE-*-KEY */
        const char *tn = EVP_PKEY_is_a(pk, "RSA")  ? "RSA"
                         : EVP_PKEY_is_a(pk, "EC") ? "EC"
                                                   : EVP_PKEY_get0_type_name(pk);
        envelope_kek_info ki = {
            tn != NULL ? tn : "unknown", ref[0] ? ref : shown, id, il, EVP_PKEY_get_bits(pk), NULL};
        if (fn(arg, &ki) != 0)
            s = env_fail(err, ENVELOPE_ERR_OUTPUT, "listing stopped by the caller");
        EVP_PKEY_free(pk);
    }
    OSSL_STORE_close(st);
    ERR_pop_to_mark();
    return s;
}
