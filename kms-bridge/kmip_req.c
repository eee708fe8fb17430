/*
 * kmip_req.c - KMIP 1.4 request messages (§7.1 message structure, §4 operation
 * payloads). Field order follows the spec's tables: PyKMIP, like most
 * servers, decodes fields in order.
 */
#include "kmip.h"

#include <string.h>

size_t kmip_request_capacity(size_t payload_bytes)
{
    /* Header, batch item and fixed fields fit in 1 KiB with room to spare;
     * each variable field adds its padded size. */
    return 1024 + payload_bytes + 4 * 8;
}

/* §7.1: Request Message = Request Header, Batch Item{Operation, Unique Batch
 * Item ID, Request Payload}. Returns the offsets to close, in *outer. */
typedef struct {
    size_t msg, item, payload;
} req_frame;

static req_frame req_begin(ttlv_w *w, const kmip_req *q)
{
    req_frame f;
    f.msg = ttlv_w_begin(w, KMIP_TAG_REQUEST_MESSAGE);
    size_t hdr = ttlv_w_begin(w, KMIP_TAG_REQUEST_HEADER);
    size_t ver = ttlv_w_begin(w, KMIP_TAG_PROTOCOL_VERSION);
    ttlv_w_int(w, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
    ttlv_w_int(w, KMIP_TAG_PROTOCOL_VERSION_MINOR, 4);
    ttlv_w_end(w, ver);
    ttlv_w_int(w, KMIP_TAG_MAXIMUM_RESPONSE_SIZE, KMIP_MAX_RESPONSE);
    ttlv_w_datetime(w, KMIP_TAG_TIME_STAMP, q->now);
    ttlv_w_int(w, KMIP_TAG_BATCH_COUNT, 1);
    ttlv_w_end(w, hdr);
    f.item = ttlv_w_begin(w, KMIP_TAG_BATCH_ITEM);
    ttlv_w_enum(w, KMIP_TAG_OPERATION, q->op);
    ttlv_w_bytes(w, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, q->batch_id, sizeof(q->batch_id));
    f.payload = ttlv_w_begin(w, KMIP_TAG_REQUEST_PAYLOAD);
    return f;
}

static void req_end(ttlv_w *w, req_frame f)
{
    ttlv_w_end(w, f.payload);
    ttlv_w_end(w, f.item);
    ttlv_w_end(w, f.msg);
}

static void put_uid(ttlv_w *w, const char *uid)
{
    size_t n = strlen(uid);
    if (n == 0 || n > KMIP_MAX_UID) {
        w->err = 1;
        return;
    }
    ttlv_w_text(w, KMIP_TAG_UNIQUE_IDENTIFIER, uid, n);
}

/* §2.1.1 Attribute: Attribute Name (text), Attribute Value (typed). The
 * caller writes the value right after this and closes the returned frame. */
static size_t attr_begin(ttlv_w *w, const char *name)
{
    size_t a = ttlv_w_begin(w, KMIP_TAG_ATTRIBUTE);
    ttlv_w_text(w, KMIP_TAG_ATTRIBUTE_NAME, name, strlen(name));
    return a;
}

static void attr_name(ttlv_w *w, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KMIP_MAX_NAME) {
        w->err = 1;
        return;
    }
    size_t a = attr_begin(w, "Name");
    /* §3.2 Name: Name Value (text), Name Type (enum). */
    size_t v = ttlv_w_begin(w, KMIP_TAG_ATTRIBUTE_VALUE);
    ttlv_w_text(w, KMIP_TAG_NAME_VALUE, name, n);
    ttlv_w_enum(w, KMIP_TAG_NAME_TYPE, KMIP_NAME_UNINTERPRETED_TEXT);
    ttlv_w_end(w, v);
    ttlv_w_end(w, a);
}

void kmip_build_create_aes256(ttlv_w *w, const kmip_req *q, const char *name)
{
    req_frame f = req_begin(w, q);
    /* §4.1 Create: Object Type, Template-Attribute. */
    ttlv_w_enum(w, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SYMMETRIC_KEY);
    size_t t = ttlv_w_begin(w, KMIP_TAG_TEMPLATE_ATTRIBUTE);
    size_t a = attr_begin(w, "Cryptographic Algorithm");
    ttlv_w_enum(w, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_ALG_AES);
    ttlv_w_end(w, a);
    a = attr_begin(w, "Cryptographic Length");
    ttlv_w_int(w, KMIP_TAG_ATTRIBUTE_VALUE, 256);
    ttlv_w_end(w, a);
    /* Encrypt|Decrypt only: the key is a KEK, never a wrapping or MAC key. */
    a = attr_begin(w, "Cryptographic Usage Mask");
    ttlv_w_int(w, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT);
    ttlv_w_end(w, a);
    attr_name(w, name);
    ttlv_w_end(w, t);
    req_end(w, f);
}

void kmip_build_uid_op(ttlv_w *w, const kmip_req *q, const char *uid)
{
    req_frame f = req_begin(w, q);
    put_uid(w, uid);
    req_end(w, f);
}

void kmip_build_revoke(ttlv_w *w, const kmip_req *q, const char *uid)
{
    req_frame f = req_begin(w, q);
    /* §4.20 Revoke: Unique Identifier, Revocation Reason{Code}. Cessation of
     * operation: a KEK taken out of service, not a compromise. */
    put_uid(w, uid);
    size_t r = ttlv_w_begin(w, KMIP_TAG_REVOCATION_REASON);
    ttlv_w_enum(w, KMIP_TAG_REVOCATION_REASON_CODE, KMIP_REVOKE_CESSATION_OF_OPERATION);
    ttlv_w_end(w, r);
    req_end(w, f);
}

void kmip_build_locate(ttlv_w *w, const kmip_req *q, const char *name, uint32_t offset)
{
    req_frame f = req_begin(w, q);
    /* §4.9 Locate: Maximum Items, Offset Items, then the attributes to
     * match. A server answers at most Maximum Items without saying whether
     * more exist (PyKMIP 0.10 sends no Located Items): the caller pages. */
    if (offset > INT32_MAX) {
        w->err = 1;
        return;
    }
    ttlv_w_int(w, KMIP_TAG_MAXIMUM_ITEMS, KMIP_MAX_LOCATE);
    if (offset > 0)
        ttlv_w_int(w, KMIP_TAG_OFFSET_ITEMS, (int32_t)offset);
    size_t a = attr_begin(w, "Object Type");
    ttlv_w_enum(w, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_OBJECT_SYMMETRIC_KEY);
    ttlv_w_end(w, a);
    if (name != NULL)
        attr_name(w, name);
    req_end(w, f);
}

void kmip_build_get_attributes(ttlv_w *w, const kmip_req *q, const char *uid)
{
    static const char *const names[] = {
        "Object Type", "Cryptographic Algorithm",  "Cryptographic Length", "Name",
        "State",       "Cryptographic Usage Mask", /* for `envelope kek check` (docs/KMS-BRIDGE.md) */
    };
    req_frame f = req_begin(w, q);
    /* §4.12 Get Attributes: Unique Identifier, Attribute Name*. */
    put_uid(w, uid);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ttlv_w_text(w, KMIP_TAG_ATTRIBUTE_NAME, names[i], strlen(names[i]));
    req_end(w, f);
}

/* §2.1.5 Cryptographic Parameters: Block Cipher Mode, ..., Cryptographic
 * Algorithm, ..., Tag Length, in this order. */
static void gcm_params(ttlv_w *w)
{
    size_t p = ttlv_w_begin(w, KMIP_TAG_CRYPTO_PARAMETERS);
    ttlv_w_enum(w, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_MODE_GCM);
    ttlv_w_enum(w, KMIP_TAG_CRYPTO_ALGORITHM, KMIP_ALG_AES);
    ttlv_w_int(w, KMIP_TAG_TAG_LENGTH, KMIP_GCM_TAG_LEN);
    ttlv_w_end(w, p);
}

static int aead_args_ok(const uint8_t *iv, size_t ivlen, size_t aadlen, size_t datalen)
{
    return iv != NULL && ivlen > 0 && ivlen <= 16 && aadlen <= KMIP_MAX_AAD &&
           datalen <= KMIP_MAX_DATA;
}

void kmip_build_encrypt(ttlv_w *w, const kmip_req *q, const char *uid, const uint8_t *iv,
                        size_t ivlen, const uint8_t *aad, size_t aadlen, const uint8_t *data,
                        size_t datalen)
{
    if (!aead_args_ok(iv, ivlen, aadlen, datalen)) {
        w->err = 1;
        return;
    }
    req_frame f = req_begin(w, q);
    /* §4.29 Encrypt: Unique Identifier, Cryptographic Parameters, Data,
     * IV/Counter/Nonce, ..., Authenticated Encryption Additional Data. */
    put_uid(w, uid);
    gcm_params(w);
    ttlv_w_bytes(w, KMIP_TAG_DATA, data, datalen);
    ttlv_w_bytes(w, KMIP_TAG_IV_COUNTER_NONCE, iv, ivlen);
    if (aadlen > 0)
        ttlv_w_bytes(w, KMIP_TAG_AE_ADDITIONAL_DATA, aad, aadlen);
    req_end(w, f);
}

void kmip_build_decrypt(ttlv_w *w, const kmip_req *q, const char *uid, const uint8_t *iv,
                        size_t ivlen, const uint8_t *aad, size_t aadlen, const uint8_t *data,
                        size_t datalen, const uint8_t tag[KMIP_GCM_TAG_LEN])
{
    if (!aead_args_ok(iv, ivlen, aadlen, datalen)) {
        w->err = 1;
        return;
    }
    req_frame f = req_begin(w, q);
    /* §4.30 Decrypt: as Encrypt, then Authenticated Encryption Tag. */
    put_uid(w, uid);
    gcm_params(w);
    ttlv_w_bytes(w, KMIP_TAG_DATA, data, datalen);
    ttlv_w_bytes(w, KMIP_TAG_IV_COUNTER_NONCE, iv, ivlen);
    if (aadlen > 0)
        ttlv_w_bytes(w, KMIP_TAG_AE_ADDITIONAL_DATA, aad, aadlen);
    ttlv_w_bytes(w, KMIP_TAG_AE_TAG, tag, KMIP_GCM_TAG_LEN);
    req_end(w, f);
}
