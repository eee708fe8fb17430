/*
 * p11_aws_crypto.c - C_Encrypt/C_Decrypt on an aws-kms slot (p11_aws.h):
 * CKM_ENVELOPE_KMS_AEAD on a symmetric key -> KMS Encrypt/Decrypt with the
 * AAD as encryption context; CKM_RSA_PKCS_OAEP on an RSA key -> KMS
 * Decrypt (private key) or Encrypt (public key) with RSAES_OAEP_SHA_1/256.
 *
 * Contract, beyond p11_crypto.c's conventions (one-shot, pData NULL is a
 * size query that keeps the operation, any other return ends it):
 *  - the size query answers an upper bound (the KMS's ciphertext length is
 *    known only after the call), and a buffer smaller than that bound is
 *    CKR_BUFFER_TOO_SMALL before anything is sent;
 *  - Decrypt always sends the key's KeyId, and an answer for another key
 *    is refused (CKR_ENCRYPTED_DATA_INVALID, nothing written);
 *  - plaintexts travel base64 in JSON: the request and answer are wiped
 *    (aws_json.h), and the decoded plaintext is in secret memory until it
 *    is copied out.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "aws_json.h"
#include "envelope/kms_pkcs11.h"
#include "kms_diag.h"
#include "kms_log.h"
#include "p11_aws.h"
#include "secmem.h"

int kms_aws_session(CK_SESSION_HANDLE h)
{
    kms_session *s;
    if (kms_session_lock(h, &s) != CKR_OK)
        return 0; /* the KMIP path reports the error */
    int aws = kms_slot_is_aws(s->slot);
    kms_unlock();
    return aws;
}

static CK_RV oaep_alg(const CK_MECHANISM *mech, int *alg)
{
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(CK_RSA_PKCS_OAEP_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    const CK_RSA_PKCS_OAEP_PARAMS *p = mech->pParameter;
    /* KMS has no OAEP label: a label would be silently dropped, so refuse. */
    if ((p->source != 0 && p->source != CKZ_DATA_SPECIFIED) || p->ulSourceDataLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->hashAlg == CKM_SHA_1 && p->mgf == CKG_MGF1_SHA1)
        *alg = KMS_AWS_ALG_OAEP_SHA1;
    else if (p->hashAlg == CKM_SHA256 && p->mgf == CKG_MGF1_SHA256)
        *alg = KMS_AWS_ALG_OAEP_SHA256;
    else
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

CK_RV kms_aws_op_init(kms_session *s, const kms_object *o, const CK_MECHANISM *mech, int op)
{
    unsigned char *aad = NULL;
    size_t aad_n = 0;
    int alg = 0;
    CK_ULONG out_max = 0;
    if (o->aws_kind == KMS_AWS_AES) {
        if (mech->mechanism != CKM_ENVELOPE_KMS_AEAD)
            return CKR_MECHANISM_INVALID;
        if (mech->pParameter != NULL) {
            if (mech->ulParameterLen != sizeof(CK_ENVELOPE_KMS_AEAD_PARAMS))
                return CKR_MECHANISM_PARAM_INVALID;
            const CK_ENVELOPE_KMS_AEAD_PARAMS *p = mech->pParameter;
            if ((p->pAAD == NULL && p->ulAADLen != 0) || p->ulAADLen > CK_ENVELOPE_KMS_AEAD_MAX_AAD)
                return CKR_MECHANISM_PARAM_INVALID;
            if (p->ulAADLen > 0) {
                if ((aad = OPENSSL_malloc(p->ulAADLen)) == NULL)
                    return CKR_HOST_MEMORY;
                memcpy(aad, p->pAAD, p->ulAADLen);
                aad_n = p->ulAADLen;
            }
        } else if (mech->ulParameterLen != 0) {
            return CKR_MECHANISM_PARAM_INVALID;
        }
        alg = KMS_AWS_ALG_SYMMETRIC;
        out_max = op == KMS_OP_ENCRYPT ? CK_ENVELOPE_KMS_AEAD_MAX_OUT : CK_ENVELOPE_KMS_AEAD_MAX_IN;
    } else {
        if (mech->mechanism != CKM_RSA_PKCS_OAEP)
            return CKR_MECHANISM_INVALID;
        CK_RV rv = oaep_alg(mech, &alg);
        if (rv != CKR_OK)
            return rv;
        if ((op == KMS_OP_DECRYPT) != (o->aws_kind == KMS_AWS_RSA_PRIVATE))
            return CKR_KEY_FUNCTION_NOT_PERMITTED; /* decrypt: private; encrypt: public */
        CK_ATTRIBUTE bits = {CKA_MODULUS_BITS, &out_max, sizeof(out_max)};
        if (kms_aws_get_attr(o, &bits) != CKR_OK || out_max < 2048)
            return CKR_FUNCTION_FAILED;
        out_max /= 8;
    }
    s->op = op;
    snprintf(s->uid, sizeof(s->uid), "%s", o->uid);
    s->aad = aad;
    s->aad_n = aad_n;
    s->aws_alg = alg;
    s->aws_out_max = out_max;
    return CKR_OK;
}

typedef struct {
    CK_SLOT_ID slot;
    char kid[KMIP_MAX_UID + 1];
    unsigned char *aad;
    size_t aad_n;
    int alg;
} aws_snapshot;

/* Under the lock: checks the call, answers size queries, takes the
 * operation out of the session. 1: go ahead (snap filled); 0: *rv is the
 * answer. */
static int take(kms_session *s, int op, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                CK_ULONG_PTR outlen, aws_snapshot *snap, CK_RV *rv)
{
    if (s->op != op) {
        *rv = CKR_OPERATION_NOT_INITIALIZED;
        return 0;
    }
    CK_ULONG max_in = op == KMS_OP_ENCRYPT ? CK_ENVELOPE_KMS_AEAD_MAX_IN
                                           : CK_ENVELOPE_KMS_AEAD_MAX_OUT;
    if (outlen == NULL || in == NULL || inlen == 0) {
        *rv = CKR_ARGUMENTS_BAD;
    } else if (inlen > max_in) {
        *rv = op == KMS_OP_ENCRYPT ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    } else {
        CK_ULONG need = s->aws_out_max;
        if (op == KMS_OP_DECRYPT && s->aws_alg == KMS_AWS_ALG_SYMMETRIC && inlen < need)
            need = inlen; /* the plaintext is shorter than its blob */
        if (out == NULL || *outlen < need) {
            *rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
            *outlen = need;
            return 0; /* the operation stays active */
        }
        kms_object *o = kms_object_get(s->slot, s->key);
        if (o == NULL || strcmp(o->uid, s->uid) != 0) {
            *rv = CKR_KEY_HANDLE_INVALID;
        } else {
            snap->slot = s->slot;
            snprintf(snap->kid, sizeof(snap->kid), "%s", s->uid);
            snap->aad = s->aad;
            snap->aad_n = s->aad_n;
            snap->alg = s->aws_alg;
            s->aad = NULL;
            kms_session_end_op(s);
            return 1;
        }
    }
    kms_session_end_op(s);
    return 0;
}

static const char *alg_name(int alg)
{
    return alg == KMS_AWS_ALG_OAEP_SHA1     ? "RSAES_OAEP_SHA_1"
           : alg == KMS_AWS_ALG_OAEP_SHA256 ? "RSAES_OAEP_SHA_256"
                                            : "SYMMETRIC_DEFAULT";
}

/* Base64 of data into secret memory (NUL-terminated). */
static char *b64_secret(const unsigned char *data, size_t n)
{
    char *b = envelope_secmem_alloc(4 * ((n + 2) / 3) + 1);
    if (b != NULL)
        EVP_EncodeBlock((unsigned char *)b, data, (int)n);
    return b;
}

/* Decodes base64 b[0..bn) into out (cap bytes); the length, or -1. */
static long b64_decode(const char *b, size_t bn, unsigned char *out, size_t cap)
{
    if (b == NULL || bn == 0 || bn % 4 != 0 || bn / 4 * 3 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)b, (int)bn);
    if (n < 0)
        return -1;
    size_t pad = (b[bn - 1] == '=') + (bn > 1 && b[bn - 2] == '=');
    return (long)n - (long)pad;
}

static json_object *request(const aws_snapshot *snap, const char *data_key,
                            const unsigned char *data, size_t n)
{
    json_object *req = json_object_new_object();
    char *b = b64_secret(data, n);
    if (req == NULL || b == NULL) {
        envelope_secmem_free(b);
        json_object_put(req);
        return NULL;
    }
    json_object_object_add(req, "KeyId", json_object_new_string(snap->kid));
    json_object_object_add(req, data_key, json_object_new_string(b));
    envelope_secmem_free(b);
    json_object_object_add(req, "EncryptionAlgorithm", json_object_new_string(alg_name(snap->alg)));
    if (snap->aad_n > 0) {
        /* docs/KMS-BRIDGE.md "Encryption context": {"pkcs11-aad": base64(AAD)} */
        char *a = b64_secret(snap->aad, snap->aad_n);
        json_object *ctx = json_object_new_object();
        if (a == NULL || ctx == NULL) {
            envelope_secmem_free(a);
            json_object_put(ctx);
            aws_json_wipe_put(req);
            return NULL;
        }
        json_object_object_add(ctx, ENVELOPE_KMS_AAD_CONTEXT_KEY, json_object_new_string(a));
        json_object_object_add(req, "EncryptionContext", ctx);
        envelope_secmem_free(a);
    }
    return req;
}

/* The answer's KeyId must be this key's ARN: ...:key/<kid>. */
static int same_key(json_object *resp, const char *kid)
{
    size_t n = 0, kn = strlen(kid);
    const char *arn = aws_json_str(resp, "KeyId", &n);
    return arn != NULL && n > kn + 5 && memcmp(arn + n - kn - 5, ":key/", 5) == 0 &&
           memcmp(arn + n - kn, kid, kn) == 0;
}

static CK_RV run(CK_SESSION_HANDLE h, int op, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                 CK_ULONG_PTR outlen)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    aws_snapshot snap;
    int go = take(s, op, in, inlen, out, outlen, &snap, &rv);
    kms_unlock();
    if (!go)
        return rv;
    const char *opname = op == KMS_OP_ENCRYPT ? "Encrypt" : "Decrypt";
    json_object *req = request(&snap, op == KMS_OP_ENCRYPT ? "Plaintext" : "CiphertextBlob", in,
                               inlen),
                *resp = NULL;
    OPENSSL_clear_free(snap.aad, snap.aad_n);
    if (req == NULL)
        return CKR_HOST_MEMORY;
    aws_kms_error e;
    aws_status st = aws_kms_call(g_kms.slots[snap.slot].aws, opname, req, 1, &resp, &e);
    aws_json_wipe_put(req);
    if (st != AWS_OK)
        return kms_aws_ckr(&e, opname, snap.kid);
    if (!same_key(resp, snap.kid)) {
        kms_diag_add("AWS KMS %s: the answer is for another key than %s: refused", opname,
                     snap.kid);
        kms_debug("aws: %s: the answer is for another key than %s: refused", opname, snap.kid);
        aws_json_wipe_put(resp);
        return op == KMS_OP_DECRYPT ? CKR_ENCRYPTED_DATA_INVALID : CKR_FUNCTION_FAILED;
    }
    size_t bn = 0;
    const char *b = aws_json_str(resp, op == KMS_OP_ENCRYPT ? "CiphertextBlob" : "Plaintext", &bn);
    unsigned char *tmp = envelope_secmem_alloc(CK_ENVELOPE_KMS_AEAD_MAX_OUT);
    long n = tmp != NULL ? b64_decode(b, bn, tmp, CK_ENVELOPE_KMS_AEAD_MAX_OUT) : -1;
    aws_json_wipe_put(resp);
    if (n <= 0 || (CK_ULONG)n > *outlen) {
        envelope_secmem_free(tmp);
        kms_diag_add("AWS KMS %s: the answer's %s is missing, malformed or longer than %lu bytes",
                     opname, op == KMS_OP_ENCRYPT ? "CiphertextBlob" : "Plaintext",
                     (unsigned long)*outlen);
        return CKR_FUNCTION_FAILED;
    }
    memcpy(out, tmp, (size_t)n);
    *outlen = (CK_ULONG)n;
    envelope_secmem_free(tmp);
    return CKR_OK;
}

CK_RV kms_aws_encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                      CK_ULONG_PTR outlen)
{
    return run(h, KMS_OP_ENCRYPT, in, inlen, out, outlen);
}

CK_RV kms_aws_decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                      CK_ULONG_PTR outlen)
{
    return run(h, KMS_OP_DECRYPT, in, inlen, out, outlen);
}
