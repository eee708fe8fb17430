/*
 * tpm_pub.c - KEK public areas: the templates we create, the checks a key
 * must pass to be used as a KEK, and the EVP_PKEY of its public half.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "keytype_names.h"
#include "tpm_int.h"

void envtpm_kek_template(envtpm_key_type type, int with_policy, int with_auth, TPM2B_PUBLIC *tmpl)
{
    TPMT_PUBLIC *p = &tmpl->publicArea;

    memset(tmpl, 0, sizeof(*tmpl));
    p->nameAlg = TPM2_ALG_SHA256;
    /* Part 1 §27.2: fixedTPM|fixedParent = never duplicable (it cannot leave
     * this TPM); sensitiveDataOrigin = the TPM made the private key; decrypt
     * only, not restricted (ZGen and RSA_Decrypt refuse restricted keys) and
     * not sign (no cross-protocol use of one key). A PCR policy key clears
     * userWithAuth so that the policy is the only way to use it (§19.7.1).
     * Dictionary-attack protection (§19.8) is on for keys with an auth
     * value; a key with an empty one has nothing to guess, and leaving it
     * DA-protected would lock it out after a few unorderly shutdowns
     * (§19.8.6 counts each one as a failed try). */
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_DECRYPT;
    if (!with_policy)
        p->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
    if (!with_auth)
        p->objectAttributes |= TPMA_OBJECT_NODA;
    if (type == ENVTPM_KEY_EC_P256) {
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDH;
        p->parameters.eccDetail.scheme.details.ecdh.hashAlg = TPM2_ALG_SHA256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        /* The key's own scheme fixes OAEP-SHA256: the TPM then refuses
         * PKCS#1 v1.5 for it (no Bleichenbacher oracle, Part 1 §B.10.3). */
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_OAEP;
        p->parameters.rsaDetail.scheme.details.oaep.hashAlg = TPM2_ALG_SHA256;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0; /* 65537 */
    }
}

int envtpm_pub_check_kek(const TPMT_PUBLIC *p)
{
    TPMA_OBJECT a = p->objectAttributes;
    TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_DECRYPT;

    if ((a & need) != need) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                      "TPM key is not a safe KEK: it must be fixedtpm|fixedparent|"
                      "sensitivedataorigin|decrypt (a duplicable or imported key can "
                      "exist outside this TPM)");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    if (a & (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                      "TPM key is not a KEK: restricted or signing keys are refused");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    if (p->nameAlg != TPM2_ALG_SHA256) {
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED, "TPM key: name algorithm must be "
                                                         "sha256");
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    if (p->type == TPM2_ALG_ECC) {
        TPMI_ALG_ECC_SCHEME s = p->parameters.eccDetail.scheme.scheme;
        if (p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
            (s != TPM2_ALG_NULL && s != TPM2_ALG_ECDH)) {
            ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                          "TPM ECC key: only NIST P-256 keys for ECDH are KEKs");
            return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
        }
        return ENVCORE_R_OK;
    }
    if (p->type == TPM2_ALG_RSA) {
        TPMI_ALG_RSA_SCHEME s = p->parameters.rsaDetail.scheme.scheme;
        /* RSAES (PKCS#1 v1.5) keys are refused: we never decrypt v1.5 (no
         * padding oracle) and the TPM does only its own scheme with them. */
        if (p->parameters.rsaDetail.keyBits < 2048 || (s != TPM2_ALG_NULL && s != TPM2_ALG_OAEP) ||
            (s == TPM2_ALG_OAEP &&
             p->parameters.rsaDetail.scheme.details.oaep.hashAlg != TPM2_ALG_SHA256)) {
            ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                          "TPM RSA key: need >= 2048 bits and scheme null or oaep-sha256 "
                          "(PKCS#1 v1.5 keys are refused)");
            return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
        }
        return ENVCORE_R_OK;
    }
    ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED, "TPM key: neither ECC nor RSA");
    return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
}

/* TPM ECC coordinates may come without leading zero bytes; left-pad. */
static int put_coord(unsigned char *dst, const TPM2B_ECC_PARAMETER *c)
{
    if (c->size == 0 || c->size > 32)
        return 0;
    memset(dst, 0, 32 - c->size);
    memcpy(dst + 32 - c->size, c->buffer, c->size);
    return 1;
}

/* type by OID (core/keytype_names.h): a registered ENGINE must not take
 * the context */
static EVP_PKEY *from_params(OSSL_LIB_CTX *libctx, const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(libctx, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(pctx);
    return pkey;
}

int envtpm_pub_to_pkey(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *p, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char point[65];
    int ok = 0;

    *out = NULL;
    if (bld == NULL)
        goto done;
    if (p->type == TPM2_ALG_ECC) {
        point[0] = 0x04; /* SEC1 §2.3.3 uncompressed */
        if (!put_coord(point + 1, &p->unique.ecc.x) || !put_coord(point + 33, &p->unique.ecc.y))
            goto done;
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
            goto done;
        params = OSSL_PARAM_BLD_to_param(bld);
        /* fromdata checks the point is on the curve */
        *out = params != NULL ? from_params(libctx, ENVELOPE_SW_EC_NAME, params) : NULL;
    } else if (p->type == TPM2_ALG_RSA) {
        uint32_t exp = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
        n = BN_bin2bn(p->unique.rsa.buffer, p->unique.rsa.size, NULL);
        e = BN_new();
        if (n == NULL || e == NULL || !BN_set_word(e, exp) ||
            (size_t)p->unique.rsa.size * 8 != p->parameters.rsaDetail.keyBits)
            goto done;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto done;
        params = OSSL_PARAM_BLD_to_param(bld);
        *out = params != NULL ? from_params(libctx, ENVELOPE_SW_RSA_NAME, params) : NULL;
    }
    ok = *out != NULL;
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    if (!ok) {
        ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "TPM key: its public area is not a valid key");
        return ENVCORE_R_BAD_BLOB;
    }
    return ENVCORE_R_OK;
}
