/*
 * kms_ops.h - the KMIP operations the PKCS#11 layer needs, each one request
 * and one response through kms_slot_call. This is the one wrapper every
 * KMIP call goes through: it logs the operation, endpoint outcome, result
 * status/reason/message and latency (never data, AAD or keys).
 *
 * Return: KMS_OK, or a kms_status; KMS_E_RESULT means the server answered
 * with a failure described in *res. Output buffers are written only on
 * KMS_OK.
 */
#ifndef KMS_OPS_H
#define KMS_OPS_H

#include "kmip.h"
#include "kms_pool.h"

/* One page of a Locate: up to max (<= KMIP_MAX_LOCATE) identifiers after
 * skipping `offset`. More than max answered is KMS_E_PROTOCOL. */
kms_status kms_op_locate(kms_slot *s, const char *name, uint32_t offset,
                         char uids[][KMIP_MAX_UID + 1], size_t max, size_t *n, kmip_result *res)
    __attribute__((warn_unused_result));
kms_status kms_op_get_attributes(kms_slot *s, const char *uid, kmip_key_attrs *a, kmip_result *res)
    __attribute__((warn_unused_result));
/* Create AES-256 (Encrypt|Decrypt, Name) then Activate (PyKMIP creates keys
 * Pre-Active, §3.22). If Activate fails the new key is destroyed again. */
kms_status kms_op_create_key(kms_slot *s, const char *name, char uid[KMIP_MAX_UID + 1],
                             kmip_result *res) __attribute__((warn_unused_result));
/* Revoke (cessation of operation) then Destroy: §4.21 allows Destroy only
 * of a key that is not Active. */
kms_status kms_op_destroy_key(kms_slot *s, const char *uid, kmip_result *res)
    __attribute__((warn_unused_result));
/* out: inlen bytes of ciphertext; tag: 16 bytes; iv_out/ivlen_out: the IV
 * the server reports (ivlen_out 0 if it reported none). */
kms_status kms_op_encrypt(kms_slot *s, const char *uid, const uint8_t *iv, size_t ivlen,
                          const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
                          uint8_t *out, uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *iv_out,
                          size_t iv_cap, size_t *ivlen_out, kmip_result *res)
    __attribute__((warn_unused_result));
kms_status kms_op_decrypt(kms_slot *s, const char *uid, const uint8_t *iv, size_t ivlen,
                          const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
                          const uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *out, kmip_result *res)
    __attribute__((warn_unused_result));

#endif
