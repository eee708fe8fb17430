/*
 * kmip.h - the KMIP 1.4 messages the bridge speaks: request builders and
 * response parsers over ttlv.h. No I/O here; kms_ops.c sends them.
 *
 * Version: every request says Protocol Version 1.4 and every response must
 * say 1.x with x >= 4. The AEAD fields (Authenticated Encryption Additional
 * Data 0x4200FE, Authenticated Encryption Tag 0x4200FF) exist only from 1.4
 * (KMIP 1.4 §2.1.5 / §4.29): a 1.2 server accepts an Encrypt with AAD,
 * ignores it and returns no tag, a ciphertext nobody can decrypt. So an
 * Encrypt response without a 16-byte tag is refused (kmip_parse_encrypt).
 *
 * Desynchronisation: each request carries a random 8-byte Unique Batch Item
 * ID (§6.4) that the response must echo, and the response's Operation and
 * Unique Identifier must match the request: a stream that hands one call
 * another's answer is detected even before the pool drops the connection.
 *
 * Limits: identifiers and names up to KMIP_MAX_UID / KMIP_MAX_NAME bytes,
 * data per Encrypt/Decrypt up to KMIP_MAX_DATA, responses up to
 * KMIP_MAX_RESPONSE (also sent as Maximum Response Size, §6.3).
 */
#ifndef KMS_KMIP_H
#define KMS_KMIP_H

#include <stddef.h>
#include <stdint.h>

#include "kms_status.h"
#include "ttlv.h"

/* Tags, KMIP 1.4 §9.1.3.1 */
#define KMIP_TAG_ATTRIBUTE 0x420008
#define KMIP_TAG_ATTRIBUTE_NAME 0x42000A
#define KMIP_TAG_ATTRIBUTE_VALUE 0x42000B
#define KMIP_TAG_BATCH_COUNT 0x42000D
#define KMIP_TAG_BATCH_ITEM 0x42000F
#define KMIP_TAG_BLOCK_CIPHER_MODE 0x420011
#define KMIP_TAG_CRYPTO_ALGORITHM 0x420028
#define KMIP_TAG_CRYPTO_LENGTH 0x42002A
#define KMIP_TAG_CRYPTO_PARAMETERS 0x42002B
#define KMIP_TAG_CRYPTO_USAGE_MASK 0x42002C
#define KMIP_TAG_IV_COUNTER_NONCE 0x42003D
#define KMIP_TAG_MAXIMUM_ITEMS 0x42004F
#define KMIP_TAG_MAXIMUM_RESPONSE_SIZE 0x420050
#define KMIP_TAG_NAME 0x420053
#define KMIP_TAG_NAME_TYPE 0x420054
#define KMIP_TAG_NAME_VALUE 0x420055
#define KMIP_TAG_OBJECT_TYPE 0x420057
#define KMIP_TAG_OPERATION 0x42005C
#define KMIP_TAG_PROTOCOL_VERSION 0x420069
#define KMIP_TAG_PROTOCOL_VERSION_MAJOR 0x42006A
#define KMIP_TAG_PROTOCOL_VERSION_MINOR 0x42006B
#define KMIP_TAG_REQUEST_HEADER 0x420077
#define KMIP_TAG_REQUEST_MESSAGE 0x420078
#define KMIP_TAG_REQUEST_PAYLOAD 0x420079
#define KMIP_TAG_RESPONSE_HEADER 0x42007A
#define KMIP_TAG_RESPONSE_MESSAGE 0x42007B
#define KMIP_TAG_RESPONSE_PAYLOAD 0x42007C
#define KMIP_TAG_RESULT_MESSAGE 0x42007D
#define KMIP_TAG_RESULT_REASON 0x42007E
#define KMIP_TAG_RESULT_STATUS 0x42007F
#define KMIP_TAG_REVOCATION_REASON 0x420081
#define KMIP_TAG_REVOCATION_REASON_CODE 0x420082
#define KMIP_TAG_STATE 0x42008D
#define KMIP_TAG_TEMPLATE_ATTRIBUTE 0x420091
#define KMIP_TAG_TIME_STAMP 0x420092
#define KMIP_TAG_UNIQUE_BATCH_ITEM_ID 0x420093
#define KMIP_TAG_UNIQUE_IDENTIFIER 0x420094
#define KMIP_TAG_DATA 0x4200C2
#define KMIP_TAG_OFFSET_ITEMS 0x4200D4 /* KMIP 1.3+ */
#define KMIP_TAG_TAG_LENGTH 0x4200CE
#define KMIP_TAG_AE_ADDITIONAL_DATA 0x4200FE
#define KMIP_TAG_AE_TAG 0x4200FF

/* Operation (§9.1.3.2.27) */
#define KMIP_OP_CREATE 0x01
#define KMIP_OP_LOCATE 0x08
#define KMIP_OP_GET_ATTRIBUTES 0x0B
#define KMIP_OP_ACTIVATE 0x12
#define KMIP_OP_REVOKE 0x13
#define KMIP_OP_DESTROY 0x14
#define KMIP_OP_ENCRYPT 0x1F
#define KMIP_OP_DECRYPT 0x20

/* Result Status (§9.1.3.2.28) and Result Reason (§9.1.3.2.29) */
#define KMIP_STATUS_SUCCESS 0x00
#define KMIP_STATUS_OPERATION_FAILED 0x01
#define KMIP_REASON_ITEM_NOT_FOUND 0x01
#define KMIP_REASON_RESPONSE_TOO_LARGE 0x02
#define KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL 0x03
#define KMIP_REASON_INVALID_MESSAGE 0x04
#define KMIP_REASON_OPERATION_NOT_SUPPORTED 0x05
#define KMIP_REASON_CRYPTOGRAPHIC_FAILURE 0x0A
#define KMIP_REASON_PERMISSION_DENIED 0x0C
#define KMIP_REASON_GENERAL_FAILURE 0x100

/* Enumerations used in requests */
#define KMIP_OBJECT_SYMMETRIC_KEY 0x02
#define KMIP_ALG_AES 0x03
#define KMIP_MODE_GCM 0x09
#define KMIP_NAME_UNINTERPRETED_TEXT 0x01
#define KMIP_USAGE_ENCRYPT 0x04
#define KMIP_USAGE_DECRYPT 0x08
#define KMIP_STATE_PRE_ACTIVE 0x01
#define KMIP_STATE_ACTIVE 0x02
#define KMIP_STATE_DEACTIVATED 0x03
#define KMIP_REVOKE_CESSATION_OF_OPERATION 0x06

#define KMIP_MAX_UID 128
#define KMIP_MAX_NAME 128
#define KMIP_MAX_DATA 65536
#define KMIP_MAX_AAD 65536
#define KMIP_MAX_RESPONSE (KMIP_MAX_DATA + 8192)
#define KMIP_MAX_LOCATE 64 /* Maximum Items of one Locate (one page) */
#define KMIP_GCM_TAG_LEN 16
#define KMIP_BATCH_ID_LEN 8

/* Server's verdict on one batch item; the message is for the debug log.
 * message_level: the answer was a message-level error (no Operation, no
 * Unique Batch Item ID): a failure, and its connection must be dropped. */
typedef struct {
    uint32_t status;
    uint32_t reason;
    int message_level;
    char message[192];
} kmip_result;

/* What a request needs besides its payload. */
typedef struct {
    uint32_t op;
    uint8_t batch_id[KMIP_BATCH_ID_LEN];
    int64_t now; /* Time Stamp; PyKMIP refuses > 60 s of skew */
} kmip_req;

/* Capacity a request needs for `payload_bytes` of data/AAD/name fields. */
size_t kmip_request_capacity(size_t payload_bytes);

/* Builders: write a complete Request Message into w (check w->err). */
void kmip_build_create_aes256(ttlv_w *w, const kmip_req *q, const char *name);
void kmip_build_uid_op(ttlv_w *w, const kmip_req *q, const char *uid); /* Activate, Destroy */
void kmip_build_revoke(ttlv_w *w, const kmip_req *q, const char *uid);
/* Locate symmetric keys (named `name`, or all), at most KMIP_MAX_LOCATE,
 * skipping the first `offset` (Offset Items, KMIP 1.3+ §4.9; left out when 0). */
void kmip_build_locate(ttlv_w *w, const kmip_req *q, const char *name, uint32_t offset);
void kmip_build_get_attributes(ttlv_w *w, const kmip_req *q, const char *uid);
void kmip_build_encrypt(ttlv_w *w, const kmip_req *q, const char *uid, const uint8_t *iv,
                        size_t ivlen, const uint8_t *aad, size_t aadlen, const uint8_t *data,
                        size_t datalen);
void kmip_build_decrypt(ttlv_w *w, const kmip_req *q, const char *uid, const uint8_t *iv,
                        size_t ivlen, const uint8_t *aad, size_t aadlen, const uint8_t *data,
                        size_t datalen, const uint8_t tag[KMIP_GCM_TAG_LEN]);

/*
 * Parses a Response Message for request q. On KMS_OK, *res holds the result;
 * if res->status is success, *payload is a cursor over the Response Payload
 * (possibly empty). KMS_E_PROTOCOL for anything malformed, another version,
 * another operation or batch id, or more than one batch item.
 * One exception: a message-level error - version 1.x (any x), one batch
 * item without Operation and without Unique Batch Item ID, status Operation
 * Failed with a reason - is KMS_OK with res->message_level = 1 (PyKMIP
 * answers a refused client certificate this way, in version 1.0).
 */
kms_status kmip_parse_response(const uint8_t *msg, size_t len, const kmip_req *q, kmip_result *res,
                               ttlv_r *payload) __attribute__((warn_unused_result));

/* Payload parsers (KMS_E_PROTOCOL when a required field is wrong/absent). */
kms_status kmip_parse_uid(const ttlv_r *payload, char uid[KMIP_MAX_UID + 1])
    __attribute__((warn_unused_result));
kms_status kmip_parse_locate(const ttlv_r *payload, char uids[][KMIP_MAX_UID + 1], size_t max,
                             size_t *n) __attribute__((warn_unused_result));

typedef struct {
    char name[KMIP_MAX_NAME + 1]; /* empty when the key has no Name */
    uint32_t object_type;
    uint32_t algorithm;
    int32_t length_bits;
    uint32_t state;
    int has_usage_mask; /* the server gave a Cryptographic Usage Mask (§3.19) */
    uint32_t usage_mask;
} kmip_key_attrs;
kms_status kmip_parse_attributes(const ttlv_r *payload, const char *uid, kmip_key_attrs *a)
    __attribute__((warn_unused_result));

/* Encrypt response: exactly datalen ciphertext bytes and a 16-byte tag, for
 * `uid`. If the server returns an IV it is copied to iv_out (ivlen_out set,
 * 0 when absent). out must hold datalen bytes; on failure nothing is
 * written to out. */
kms_status kmip_parse_encrypt(const ttlv_r *payload, const char *uid, size_t datalen, uint8_t *out,
                              uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *iv_out, size_t iv_cap,
                              size_t *ivlen_out) __attribute__((warn_unused_result));
/* Decrypt response: exactly datalen plaintext bytes into out. */
kms_status kmip_parse_decrypt(const ttlv_r *payload, const char *uid, size_t datalen, uint8_t *out)
    __attribute__((warn_unused_result));

#endif
