/*
 * wrapblob.h - the provider's wrapped-key blob (docs/WRAP-BLOB.md).
 *
 * A blob says everything needed to unwrap it again except the key and the
 * AAD: format version, wrap kind, and the kind's parameters (IV, OAEP hash,
 * how the AAD is bound). Unknown versions, kinds, codes and trailing bytes
 * are refused: a blob is untrusted input.
 *
 *   offset  size  field
 *   0       2     magic "EW"
 *   2       1     version (1)
 *   3       1     kind: 1 = AES-GCM in the device, 2 = RSA-OAEP, 3 = ECDH-P256,
 *                       4 = opaque cloud KMS ciphertext
 *   kind 1: u8 iv_len (12..16) | iv | u16 ct_len (17..80) | ciphertext||tag
 *   kind 2: u8 oaep hash | u8 mgf1 hash | u8 aad binding | u16 ct_len (<= 1024) | ciphertext
 *           hash codes: 1 SHA-1, 2 SHA-224, 3 SHA-256, 4 SHA-384, 5 SHA-512
 *           binding:    1 = the AAD is the OAEP label
 *                       2 = the token takes no label: the OAEP payload is
 *                           key || SHA-256("envelope rsa-oaep aad v1" || AAD)
 *   kind 3: u8 curve (1 = P-256) | u8 kdf (1 = HKDF-SHA-256)
 *           | E: 65-byte uncompressed ephemeral point | IV: 12 bytes
 *           | u16 ct_len (17..80) | ciphertext||tag; AAD = the 83 bytes
 *           before ct_len || the caller's AAD (provider/ec_wrap.c)
 *   kind 4: u16 ct_len (1..1024) | the cloud KMS's opaque ciphertext (its own
 *           IV and tag inside; the AAD bound by the KMS as the encryption
 *           context: CKM_ENVELOPE_KMS_AEAD, include/envelope/kms_pkcs11.h)
 *   integers are big-endian.
 */
#ifndef ENVPROV_WRAPBLOB_H
#define ENVPROV_WRAPBLOB_H

#include <stddef.h>
#include <stdint.h>

#define WRAPBLOB_VERSION 1
#define WRAPBLOB_KIND_AES_GCM 1
#define WRAPBLOB_KIND_RSA_OAEP 2
#define WRAPBLOB_KIND_ECDH_P256 3  /* ECDH-P256 + HKDF-SHA-256 + AES-256-GCM */
#define WRAPBLOB_KIND_KMS_OPAQUE 4 /* a cloud KMS's ciphertext blob (AWS KMS Encrypt) */
#define WRAPBLOB_KMS_MAX_CT 1024   /* AWS: about 184 bytes for a 32-byte DEK */
#define WRAPBLOB_EC_POINT_LEN 65
#define WRAPBLOB_EC_IV_LEN 12
#define WRAPBLOB_EC_HEADER_LEN (4 + 2 + WRAPBLOB_EC_POINT_LEN + WRAPBLOB_EC_IV_LEN)
#define WRAPBLOB_BIND_LABEL 1
#define WRAPBLOB_BIND_PAYLOAD 2
#define WRAPBLOB_MAX 1100
#define WRAPBLOB_MAX_RSA_CT 1024
#define WRAPBLOB_AES_MAX_CT (64 + 16)

typedef struct {
    int kind;
    /* AES-GCM (kind 1) and EC (kind 3: always 12 bytes) */
    unsigned char iv[16];
    size_t iv_len;
    /* EC: the ephemeral point (points into the blob on decode) */
    const unsigned char *point;
    /* RSA-OAEP */
    int oaep_md; /* NID */
    int mgf1_md; /* NID */
    int binding;
    /* both */
    const unsigned char *ct; /* points into the blob on decode */
    size_t ct_len;
} wrapblob;

/* Encode into out (capacity outsize); returns bytes written or 0. For
 * kind 3, ct may be NULL: the header is written and the ciphertext left to
 * the caller, who needs the header bytes as AAD before it has it. */
size_t wrapblob_encode(const wrapblob *b, unsigned char *out, size_t outsize);
/* Decode; 1 on success, 0 if malformed (nothing raised: the caller says
 * "malformed wrapped key"). b->ct points into `in`. */
int wrapblob_decode(wrapblob *b, const unsigned char *in, size_t inlen);

#endif
