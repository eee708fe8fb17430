/*
 * p11_crypto.c - C_Encrypt/C_Decrypt with CKM_AES_GCM mapped to KMIP 1.4
 * Encrypt/Decrypt (§4.29/§4.30).
 *
 * Contract (what the provider's hsm/ backend relies on):
 *  - one-shot only; CK_GCM_PARAMS with a 12-byte caller IV (ulIvLen 12) and
 *    ulTagBits 128; AAD up to KMIP_MAX_AAD; data up to KMIP_MAX_DATA;
 *  - C_Encrypt output = ciphertext || 16-byte tag; C_Decrypt input the same;
 *  - pData NULL: size query, the operation stays active (§5.2 "conventions
 *    for functions returning output in a variable-length buffer");
 *    too small a buffer: CKR_BUFFER_TOO_SMALL with the size, still active;
 *    any other return ends the operation;
 *  - the caller's IV is the IV (KMIP 1.4 §4.29: a server uses the
 *    IV/Counter/Nonce the client supplies): an Encrypt answer reporting any
 *    other IV is refused (CKR_FUNCTION_FAILED). Nothing is ever written
 *    through pIv, and the CK_GCM_PARAMS need not outlive C_EncryptInit
 *    (PKCS#11 does not require it): IV, AAD and the key's Unique Identifier
 *    are copied into the session at Init;
 *  - AAD is copied and wiped when the operation ends (it may be sensitive);
 *  - on a failed Decrypt nothing is written to the output buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kms_log.h"
#include "kms_module.h"
#include "kms_ops.h"
#include "p11_aws.h"

/* An aws-kms slot's key: its mechanisms are p11_aws_crypto.c's. */
static CK_RV aws_op_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, int op)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    kms_object *o = NULL;
    if (s->op != KMS_OP_NONE || s->finding)
        rv = CKR_OPERATION_ACTIVE;
    else if ((o = kms_object_get(s->slot, key)) == NULL)
        rv = CKR_KEY_HANDLE_INVALID;
    else if ((rv = kms_aws_op_init(s, o, mech, op)) == CKR_OK)
        s->key = key;
    kms_unlock();
    return rv;
}

static CK_RV op_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, int op)
{
    if (mech == NULL)
        return CKR_ARGUMENTS_BAD;
    if (kms_aws_session(h))
        return aws_op_init(h, mech, key, op);
    if (mech->mechanism != CKM_AES_GCM)
        return CKR_MECHANISM_INVALID;
    /* Some callers pass the 2.40-errata struct without ulIvBits: we accept
     * only the full CK_GCM_PARAMS, whose size we can check. */
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(CK_GCM_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    const CK_GCM_PARAMS *p = mech->pParameter;
    if (p->pIv == NULL || p->ulIvLen != KMS_GCM_IV_LEN || p->ulTagBits != 128 ||
        (p->pAAD == NULL && p->ulAADLen != 0) || p->ulAADLen > KMIP_MAX_AAD)
        return CKR_MECHANISM_PARAM_INVALID;
    unsigned char *aad = NULL;
    if (p->ulAADLen > 0) {
        if ((aad = OPENSSL_malloc(p->ulAADLen)) == NULL)
            return CKR_HOST_MEMORY;
        memcpy(aad, p->pAAD, p->ulAADLen);
    }
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK) {
        OPENSSL_clear_free(aad, p->ulAADLen);
        return rv;
    }
    kms_object *o = NULL;
    if (s->op != KMS_OP_NONE || s->finding) {
        rv = CKR_OPERATION_ACTIVE;
    } else if ((o = kms_object_get(s->slot, key)) == NULL) {
        rv = CKR_KEY_HANDLE_INVALID;
    } else if (o->value_len < 16 || o->value_len > 32) {
        rv = CKR_KEY_SIZE_RANGE;
    } else if (!kms_state_allows(o->state, op)) {
        /* KMIP 1.4 §3.22: only an Active key encrypts; a Deactivated one
         * still decrypts what it protected. The KMS has the last word. */
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    if (rv != CKR_OK) {
        kms_unlock();
        OPENSSL_clear_free(aad, p->ulAADLen);
        return rv;
    }
    s->op = op;
    s->key = key;
    /* The key is named by its Unique Identifier from here on: the handle
     * only has to stay valid (take_op), it cannot come to mean another key. */
    snprintf(s->uid, sizeof(s->uid), "%s", o->uid);
    memcpy(s->iv, p->pIv, KMS_GCM_IV_LEN);
    s->aad = aad;
    s->aad_n = p->ulAADLen;
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    return op_init(h, mech, key, KMS_OP_ENCRYPT);
}

CK_RV kms_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    return op_init(h, mech, key, KMS_OP_DECRYPT);
}

/* What one call needs, copied out of the session under the lock. */
typedef struct {
    CK_SLOT_ID slot;
    char uid[KMIP_MAX_UID + 1];
    unsigned char iv[KMS_GCM_IV_LEN];
    unsigned char *aad;
    size_t aad_n;
} op_snapshot;

/* Takes the operation's state out of the session, ending the operation
 * (the caller owns snap->aad afterwards). */
static CK_RV take_op(kms_session *s, int op, op_snapshot *snap)
{
    if (s->op != op)
        return CKR_OPERATION_NOT_INITIALIZED;
    kms_object *o = kms_object_get(s->slot, s->key);
    if (o == NULL || strcmp(o->uid, s->uid) != 0) {
        kms_session_end_op(s);
        return CKR_KEY_HANDLE_INVALID; /* destroyed meanwhile */
    }
    snap->slot = s->slot;
    snprintf(snap->uid, sizeof(snap->uid), "%s", s->uid);
    memcpy(snap->iv, s->iv, sizeof(snap->iv));
    snap->aad = s->aad;
    snap->aad_n = s->aad_n;
    s->aad = NULL;
    kms_session_end_op(s);
    return CKR_OK;
}

static void end_on_error(kms_session *s)
{
    kms_session_end_op(s);
    kms_unlock();
}

CK_RV kms_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                  CK_ULONG_PTR outlen)
{
    if (kms_aws_session(h))
        return kms_aws_encrypt(h, in, inlen, out, outlen);
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->op != KMS_OP_ENCRYPT) {
        kms_unlock();
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (outlen == NULL || (in == NULL && inlen > 0)) {
        end_on_error(s);
        return CKR_ARGUMENTS_BAD;
    }
    if (inlen > KMIP_MAX_DATA) {
        end_on_error(s);
        return CKR_DATA_LEN_RANGE;
    }
    CK_ULONG need = inlen + KMIP_GCM_TAG_LEN;
    if (out == NULL || *outlen < need) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *outlen = need;
        kms_unlock(); /* the operation stays active */
        return rv;
    }
    op_snapshot snap;
    rv = take_op(s, KMS_OP_ENCRYPT, &snap);
    kms_unlock();
    if (rv != CKR_OK)
        return rv;

    kmip_result res;
    unsigned char tag[KMIP_GCM_TAG_LEN], iv_used[16];
    size_t iv_used_n = 0;
    kms_status st = kms_op_encrypt(&g_kms.slots[snap.slot], snap.uid, snap.iv, sizeof(snap.iv),
                                   snap.aad, snap.aad_n, in, inlen, out, tag, iv_used,
                                   sizeof(iv_used), &iv_used_n, &res);
    OPENSSL_clear_free(snap.aad, snap.aad_n);
    if (st == KMS_OK && iv_used_n != 0 &&
        (iv_used_n != sizeof(snap.iv) || memcmp(iv_used, snap.iv, iv_used_n) != 0)) {
        /* The nonce is the caller's choice (it keeps it beside the
         * ciphertext); a server that used another one produced a wrap the
         * caller could never undo, or took nonce choice away from it. */
        kms_debug("slot %s: Encrypt: server used a %zu-byte IV other than ours",
                  g_kms.cfg.slot[snap.slot].label, iv_used_n);
        OPENSSL_cleanse(out, inlen);
        st = KMS_E_PROTOCOL;
    }
    if (st != KMS_OK)
        return kms_ckr(st, &res, KMS_CTX_KEY);
    memcpy(out + inlen, tag, sizeof(tag));
    *outlen = need;
    return CKR_OK;
}

CK_RV kms_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                  CK_ULONG_PTR outlen)
{
    if (kms_aws_session(h))
        return kms_aws_decrypt(h, in, inlen, out, outlen);
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->op != KMS_OP_DECRYPT) {
        kms_unlock();
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (outlen == NULL || in == NULL) {
        end_on_error(s);
        return CKR_ARGUMENTS_BAD;
    }
    if (inlen < KMIP_GCM_TAG_LEN) {
        end_on_error(s);
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    if (inlen - KMIP_GCM_TAG_LEN > KMIP_MAX_DATA) {
        end_on_error(s);
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    CK_ULONG need = inlen - KMIP_GCM_TAG_LEN;
    if (out == NULL || *outlen < need) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *outlen = need;
        kms_unlock();
        return rv;
    }
    op_snapshot snap;
    rv = take_op(s, KMS_OP_DECRYPT, &snap);
    kms_unlock();
    if (rv != CKR_OK)
        return rv;
    kmip_result res;
    kms_status st = kms_op_decrypt(&g_kms.slots[snap.slot], snap.uid, snap.iv, sizeof(snap.iv),
                                   snap.aad, snap.aad_n, in, need, in + need, out, &res);
    OPENSSL_clear_free(snap.aad, snap.aad_n);
    if (st != KMS_OK)
        return kms_ckr(st, &res, KMS_CTX_DECRYPT);
    *outlen = need;
    return CKR_OK;
}
