/*
 * kms_pkcs11.h - the vendor mechanism of envelope-kms-pkcs11.so for cloud
 * KMS keys whose ciphertext is opaque (docs/KMS-BRIDGE.md "AWS KMS").
 *
 * A cloud KMS (AWS KMS Encrypt) picks its own IV and returns one opaque
 * ciphertext blob, so CKM_AES_GCM's contract (the caller's IV, output =
 * ciphertext || tag) cannot be kept. As Google's kmsp11 does with
 * CKM_CLOUDKMS_AES_GCM, such keys offer a vendor mechanism instead:
 *
 *   CKM_ENVELOPE_KMS_AEAD, parameter CK_ENVELOPE_KMS_AEAD_PARAMS (or none:
 *   no AAD). C_Encrypt: 1..4096 bytes of data -> the KMS's ciphertext blob
 *   (at most CK_ENVELOPE_KMS_AEAD_MAX_OUT bytes; a size query answers that
 *   bound). C_Decrypt: the blob -> the data. The AAD is bound by the KMS:
 *   for AWS it travels as the encryption context {"pkcs11-aad": base64(AAD)}
 *   (RFC 4648 base64 with padding) and the Decrypt names the key, so a blob
 *   made by another key is refused. A key that offers it lists it in
 *   CKA_ALLOWED_MECHANISMS (and only it).
 */
#ifndef ENVELOPE_KMS_PKCS11_H
#define ENVELOPE_KMS_PKCS11_H

#include <p11-kit/pkcs11.h>

#define CKM_ENVELOPE_KMS_AEAD (CKM_VENDOR_DEFINED | 0x454e5601UL) /* "ENV" 1 */
#define CK_ENVELOPE_KMS_AEAD_MAX_IN 4096
#define CK_ENVELOPE_KMS_AEAD_MAX_OUT 6144 /* AWS KMS: CiphertextBlob <= 6144 bytes */
#define CK_ENVELOPE_KMS_AEAD_MAX_AAD 4096

typedef struct {
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
} CK_ENVELOPE_KMS_AEAD_PARAMS;

/* The encryption-context key the AAD travels under (AWS KMS). */
#define ENVELOPE_KMS_AAD_CONTEXT_KEY "pkcs11-aad"

#endif
