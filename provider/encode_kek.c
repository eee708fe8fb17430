/*
 * encode_kek.c - ENCODER for "ENVELOPE-AES-KEK" keys (text, DER, PEM): it
 * encodes nothing and says why. An AES KEK is a reference to a key held by
 * its token; there is no private key to write and no public part at all.
 *
 * Without an encoder of its own, OpenSSL 3.0's EVP_PKEY_print_private/
 * print_public (openssl pkey -text, -text_pub) fall back to printing
 * 'Public Key algorithm "<NULL>" unsupported' and report success, and the
 * PEM/DER writers (openssl pkey -out, -pubout) fail with an ASN.1 error
 * that names nothing. With this encoder every such request fails with a
 * reason on the error queue that names the key and what it is.
 *
 * RSA and EC keys need no encoder here: OpenSSL's own encoders handle
 * their public halves (exported by keymgmt_common.c) and a private-key
 * request gets its reason from the export refusal.
 */
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include "provider.h"

static OSSL_FUNC_encoder_newctx_fn kek_enc_newctx;
static OSSL_FUNC_encoder_freectx_fn kek_enc_freectx;
static OSSL_FUNC_encoder_encode_fn kek_enc_encode;

static void *kek_enc_newctx(void *provctx)
{
    return provctx; /* no state: every encode fails the same way */
}

static void kek_enc_freectx(void *ctx)
{
}

static int kek_enc_encode(void *ctx, OSSL_CORE_BIO *out, const void *obj_raw,
                          const OSSL_PARAM obj_abstract[], int selection,
                          OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    const envkey *k = obj_raw;
    const char *uri = k != NULL && k->uri != NULL ? k->uri : "(AES KEK)";
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
        ENVCORE_RAISE(
            ENVCORE_R_NOT_SUPPORTED,
            "the key is held by the token; it can't be exported: \"%.512s\" is an " ENVPROV_NAMES_AES_KEK
            " (AES-256 key-encryption key) that only wraps and "
            "unwraps through the envelope provider, and it has no public part",
            uri);
    else if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "\"%.512s\" is an " ENVPROV_NAMES_AES_KEK " (AES-256 key-encryption key "
                      "held by the token): it has no public part to show or export",
                      uri);
    else
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "\"%.512s\" is an " ENVPROV_NAMES_AES_KEK " (AES-256 key-encryption key "
                      "held by the token): it has no parameters to show or export",
                      uri);
    return 0;
}

const OSSL_DISPATCH envprov_kek_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))kek_enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))kek_enc_freectx},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))kek_enc_encode},
    {0, NULL},
};
