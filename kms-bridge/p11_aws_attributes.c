/*
 * p11_aws_attributes.c - the attributes of an aws-kms slot's objects
 * (p11_aws.h): a symmetric key as an AES secret key with the vendor
 * mechanism, an RSA key as a private key that decrypts OAEP in the KMS and
 * its public key from GetPublicKey.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "envelope/kms_pkcs11.h"
#include "kms_vendor.h"
#include "p11_aws.h"

static const CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;

/* n or e of the object's public key, big-endian, into buf. */
static CK_ULONG rsa_part(const kms_object *o, const char *which, unsigned char *buf, size_t cap)
{
    const unsigned char *p = o->pub_der;
    EVP_PKEY *pk = o->pub_der != NULL ? d2i_PUBKEY(NULL, &p, (long)o->pub_der_len) : NULL;
    BIGNUM *bn = NULL;
    CK_ULONG n = 0;
    if (pk != NULL && EVP_PKEY_get_bn_param(pk, which, &bn) && (size_t)BN_num_bytes(bn) <= cap)
        n = (CK_ULONG)BN_bn2bin(bn, buf);
    BN_free(bn);
    EVP_PKEY_free(pk);
    return n;
}

CK_RV kms_aws_get_attr(const kms_object *o, CK_ATTRIBUTE *at)
{
    static const CK_MECHANISM_TYPE aes_mechs[] = {CKM_ENVELOPE_KMS_AEAD};
    static const CK_MECHANISM_TYPE rsa_mechs[] = {CKM_RSA_PKCS_OAEP};
    static const CK_MECHANISM_TYPE gen = CK_UNAVAILABLE_INFORMATION;
    CK_OBJECT_CLASS cls = o->aws_kind == KMS_AWS_AES           ? CKO_SECRET_KEY
                          : o->aws_kind == KMS_AWS_RSA_PRIVATE ? CKO_PRIVATE_KEY
                                                               : CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = o->aws_kind == KMS_AWS_AES ? CKK_AES : CKK_RSA;
    int secret = o->aws_kind != KMS_AWS_RSA_PUBLIC;
    unsigned char num[KMS_AWS_PUB_MAX];
    CK_ULONG bits = 0;
    static const CK_ULONG usage = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
    const void *v = NULL;
    CK_ULONG n = 0;
#define VAL(x)                                                                                     \
    do {                                                                                           \
        v = &(x);                                                                                  \
        n = sizeof(x);                                                                             \
    } while (0)
    switch (at->type) {
    case CKA_CLASS: VAL(cls); break;
    case CKA_KEY_TYPE: VAL(kt); break;
    case CKA_TOKEN:
    case CKA_DESTROYABLE: VAL(ck_true); break;
    /* Every private half stays in AWS: sensitive, never extractable; its
     * history before it was shown here is AWS's (KMS keys never leave the
     * service unless imported, which is Origin EXTERNAL, not shown). */
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
        if (!secret)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        VAL(ck_true);
        break;
    case CKA_EXTRACTABLE:
        if (!secret)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        VAL(ck_false);
        break;
    case CKA_ENCRYPT:
        if (o->aws_kind == KMS_AWS_RSA_PRIVATE)
            VAL(ck_false);
        else
            VAL(ck_true);
        break;
    case CKA_DECRYPT:
        if (o->aws_kind == KMS_AWS_RSA_PUBLIC)
            VAL(ck_false);
        else
            VAL(ck_true);
        break;
    case CKA_ALWAYS_AUTHENTICATE:
        if (o->aws_kind != KMS_AWS_RSA_PRIVATE)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        VAL(ck_false);
        break;
    case CKA_LOCAL:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER:
    case CKA_DERIVE:
    case CKA_TRUSTED:
    case CKA_WRAP_WITH_TRUSTED: VAL(ck_false); break;
    case CKA_LABEL:
        v = o->label;
        n = strlen(o->label);
        break;
    case CKA_ID:
        v = o->uid;
        n = strlen(o->uid);
        break;
    case ENVELOPE_KMS_CKA_USAGE_MASK:
        /* only KeyUsage ENCRYPT_DECRYPT keys are shown: KMIP's Encrypt|Decrypt */
        if (!secret)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        VAL(usage);
        break;
    case CKA_KEY_GEN_MECHANISM: VAL(gen); break;
    case CKA_ALLOWED_MECHANISMS:
        if (o->aws_kind == KMS_AWS_AES) {
            v = aes_mechs;
            n = sizeof(aes_mechs);
        } else {
            v = rsa_mechs;
            n = sizeof(rsa_mechs);
        }
        break;
    case CKA_VALUE_LEN:
        if (o->aws_kind != KMS_AWS_AES)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        VAL(o->value_len);
        break;
    case CKA_MODULUS:
    case CKA_PUBLIC_EXPONENT:
        if (o->aws_kind == KMS_AWS_AES)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        n = rsa_part(o, at->type == CKA_MODULUS ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_RSA_E,
                     num, sizeof(num));
        if (n == 0)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_FUNCTION_FAILED;
        v = num;
        break;
    case CKA_MODULUS_BITS:
        if (o->aws_kind == KMS_AWS_AES)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        bits = 8 * rsa_part(o, OSSL_PKEY_PARAM_RSA_N, num, sizeof(num));
        VAL(bits);
        break;
    case CKA_PUBLIC_KEY_INFO:
        if (o->aws_kind == KMS_AWS_AES)
            return at->ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
        v = o->pub_der;
        n = o->pub_der_len;
        break;
    case CKA_VALUE:
    case CKA_PRIVATE_EXPONENT:
    case CKA_PRIME_1:
    case CKA_PRIME_2:
    case CKA_EXPONENT_1:
    case CKA_EXPONENT_2:
    case CKA_COEFFICIENT:
        at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return secret ? CKR_ATTRIBUTE_SENSITIVE : CKR_ATTRIBUTE_TYPE_INVALID;
    default: at->ulValueLen = CK_UNAVAILABLE_INFORMATION; return CKR_ATTRIBUTE_TYPE_INVALID;
    }
#undef VAL
    if (at->pValue == NULL) {
        at->ulValueLen = n;
        return CKR_OK;
    }
    if (at->ulValueLen < n) {
        at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (n)
        memcpy(at->pValue, v, n);
    at->ulValueLen = n;
    return CKR_OK;
}
