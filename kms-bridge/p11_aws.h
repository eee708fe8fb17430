/*
 * p11_aws.h - AWS KMS keys as PKCS#11 objects on a `protocol = aws-kms`
 * slot (docs/KMS-BRIDGE.md "AWS KMS").
 *
 *  - A symmetric key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) is one
 *    CKO_SECRET_KEY, CKK_AES, CKA_VALUE_LEN 32, whose only mechanism is
 *    CKM_ENVELOPE_KMS_AEAD (envelope/kms_pkcs11.h): KMS Encrypt/Decrypt,
 *    the AAD as the encryption context.
 *  - An RSA key (RSA_2048/3072/4096, ENCRYPT_DECRYPT) is a CKO_PRIVATE_KEY
 *    that decrypts CKM_RSA_PKCS_OAEP (SHA-1 or SHA-256, MGF1 of the same
 *    hash, no label: KMS has none) in the KMS, and a CKO_PUBLIC_KEY with
 *    CKA_MODULUS / CKA_PUBLIC_EXPONENT from GetPublicKey.
 *  - CKA_ID = the key ARN; CKA_LABEL = the name it was found by (an entry
 *    of `keys`, or its alias when the slot lists the aliases).
 *  - Only Enabled keys are shown; a key that becomes disabled or pending
 *    deletion answers with the service's reason (KMS has the last word).
 *  - Decrypt always names the key (KeyId), and an answer naming another
 *    key is refused, so a ciphertext made by another key never decrypts.
 *
 * Network I/O runs without g_kms.lock, as on KMIP slots.
 */
#ifndef P11_AWS_H
#define P11_AWS_H

#include <stddef.h>

#include "aws_kms.h"
#include "kms_module.h"

enum { KMS_AWS_NONE = 0, KMS_AWS_AES, KMS_AWS_RSA_PRIVATE, KMS_AWS_RSA_PUBLIC };
enum { KMS_AWS_ALG_SYMMETRIC = 1, KMS_AWS_ALG_OAEP_SHA1, KMS_AWS_ALG_OAEP_SHA256 };

#define KMS_AWS_ARN_MAX KMIP_MAX_UID
#define KMS_AWS_PUB_MAX 1024 /* DER SubjectPublicKeyInfo of RSA-4096: 550 bytes */

static inline int kms_slot_is_aws(CK_SLOT_ID slot)
{
    return g_kms.slots[slot].aws != NULL;
}

/* C_Initialize / reset: the slot's AWS client. forked: in a child, the
 * parent's connections are dropped without a TLS close. */
int kms_aws_slot_init(kms_slot *s, char *err, size_t errlen);
void kms_aws_slot_cleanup(kms_slot *s, int forked);

/* The AWS status as a CK_RV, with the reason added to the thread's
 * diagnostic text (kms_diag.h). */
CK_RV kms_aws_ckr(const aws_kms_error *e, const char *op, const char *key);

/* C_FindObjectsInit on an aws-kms slot: the handles of the objects that
 * match (malloc'd in *found). */
CK_RV kms_aws_find(CK_SLOT_ID slot, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **found,
                   size_t *nfound);
/* C_GetAttributeValue of one attribute of an AWS object (p11_attributes.c
 * semantics). Under the lock. */
CK_RV kms_aws_get_attr(const kms_object *o, CK_ATTRIBUTE *at);

/* 1 if session h is on an aws-kms slot (0 also for a bad handle: the
 * KMIP path then reports it). */
int kms_aws_session(CK_SESSION_HANDLE h);
/* C_EncryptInit/C_DecryptInit checks for an AWS object (under the lock):
 * sets s->aws_alg and s->aws_out_max. */
CK_RV kms_aws_op_init(kms_session *s, const kms_object *o, const CK_MECHANISM *mech, int op);
CK_RV kms_aws_encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                      CK_ULONG_PTR outlen);
CK_RV kms_aws_decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                      CK_ULONG_PTR outlen);

/* C_GenerateKey on an aws-kms slot: CreateKey + CreateAlias alias/<label>. */
CK_RV kms_aws_generate(CK_SLOT_ID slot, const char *label, CK_OBJECT_HANDLE *out);

#endif
