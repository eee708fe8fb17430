/*
 * kmip_resp.c - KMIP 1.4 response parsing (§7.1 Response Message, §6 message
 * contents, §4 response payloads). Every field is read through ttlv.h's
 * bounded cursor; anything unexpected is KMS_E_PROTOCOL, never a guess.
 */
#include "kmip.h"

#include <string.h>

#include <openssl/crypto.h>

#include "kms_log.h"
#include "kms_text.h"

/* Copies a text field into dst (NUL-terminated), refusing embedded NULs and
 * anything longer than cap-1 bytes. */
static int copy_text(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap || memchr(s, 0, n) != NULL)
        return 0;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 1;
}

/* The server's message is for the debug log only: keep printable ASCII. */
static void copy_message(char *dst, size_t cap, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[j] = 0;
}

typedef struct {
    int32_t major, minor, count;
} resp_header;

static kms_status read_header(const ttlv_r *msg, resp_header *h)
{
    ttlv_r hdr, ver;
    if (ttlv_find_struct(msg, KMIP_TAG_RESPONSE_HEADER, &hdr) != TTLV_OK ||
        ttlv_find_struct(&hdr, KMIP_TAG_PROTOCOL_VERSION, &ver) != TTLV_OK ||
        ttlv_find_int(&ver, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &h->major) != TTLV_OK ||
        ttlv_find_int(&ver, KMIP_TAG_PROTOCOL_VERSION_MINOR, &h->minor) != TTLV_OK ||
        ttlv_find_int(&hdr, KMIP_TAG_BATCH_COUNT, &h->count) != TTLV_OK) {
        kms_debug("response: header incomplete");
        return KMS_E_PROTOCOL;
    }
    if (h->count != 1) {
        kms_debug("response: batch count %d, sent 1", (int)h->count);
        return KMS_E_PROTOCOL;
    }
    return KMS_OK;
}

/* Result Status, Result Reason (required on failure) and Result Message. */
static kms_status read_result(const ttlv_r *item, kmip_result *res)
{
    uint32_t status, reason = 0;
    if (ttlv_find_enum(item, KMIP_TAG_RESULT_STATUS, &status) != TTLV_OK) {
        kms_debug("response: no result status");
        return KMS_E_PROTOCOL;
    }
    ttlv_rc rc = ttlv_find_enum(item, KMIP_TAG_RESULT_REASON, &reason);
    if (rc == TTLV_ETYPE || (status != KMIP_STATUS_SUCCESS && rc != TTLV_OK)) {
        kms_debug("response: failure without a result reason");
        return KMS_E_PROTOCOL;
    }
    res->status = status;
    res->reason = reason;
    return KMS_OK;
}

static kms_status parse_response(const uint8_t *buf, size_t len, const kmip_req *q,
                                 kmip_result *res, ttlv_r *payload)
{
    ttlv_r top, msg, item;
    ttlv_item it;
    resp_header h;
    if (ttlv_validate(buf, len) != TTLV_OK) {
        kms_debug("response: malformed or too deeply nested TTLV");
        return KMS_E_PROTOCOL;
    }
    ttlv_r_init(&top, buf, len);
    if (ttlv_next(&top, &it) != TTLV_OK || it.tag != KMIP_TAG_RESPONSE_MESSAGE ||
        ttlv_enter(&it, &msg) != TTLV_OK || top.left != 0) {
        kms_debug("response: not one Response Message");
        return KMS_E_PROTOCOL;
    }
    kms_status st = read_header(&msg, &h);
    if (st != KMS_OK)
        return st;

    /* Exactly one Batch Item. */
    ttlv_r scan = msg;
    int items = 0;
    while (ttlv_next(&scan, &it) == TTLV_OK)
        if (it.tag == KMIP_TAG_BATCH_ITEM)
            items++;
    if (items != 1 || ttlv_find_struct(&msg, KMIP_TAG_BATCH_ITEM, &item) != TTLV_OK) {
        kms_debug("response: %d batch items, sent 1", items);
        return KMS_E_PROTOCOL;
    }
    /* Kept early, so that a refused answer still shows what the server said. */
    const char *m;
    size_t mlen;
    if (ttlv_find_text(&item, KMIP_TAG_RESULT_MESSAGE, &m, &mlen) == TTLV_OK)
        copy_message(res->message, sizeof(res->message), m, mlen);

    uint32_t op;
    const uint8_t *bid;
    size_t bidlen;
    ttlv_rc op_rc = ttlv_find_enum(&item, KMIP_TAG_OPERATION, &op);
    ttlv_rc bid_rc = ttlv_find_bytes(&item, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, &bid, &bidlen);

    /* A message-level error (§6.1/§6.4 allow Operation and Unique Batch
     * Item ID to be absent when the server could not, or would not, read
     * the request): PyKMIP answers so for a refused client certificate, a
     * stale Time Stamp or an unparseable request, with protocol version 1.0
     * when it never read ours. It cannot be tied to this request, so it is
     * accepted only as a failure (never as data), for its reason and
     * message; the caller then drops the connection. */
    if (op_rc == TTLV_EMISSING && bid_rc == TTLV_EMISSING) {
        if (h.major != 1) {
            kms_debug("response: protocol version %d.%d, need 1.x", (int)h.major, (int)h.minor);
            return KMS_E_PROTOCOL;
        }
        if ((st = read_result(&item, res)) != KMS_OK)
            return st;
        if (res->status != KMIP_STATUS_OPERATION_FAILED) {
            kms_debug("response: no operation and no batch item id, yet not a failure");
            return KMS_E_PROTOCOL;
        }
        res->message_level = 1;
        return KMS_OK;
    }

    /* 1.4 or a later 1.x that keeps 1.4's AEAD fields; 2.x changed the
     * attribute encoding, so it is refused rather than misread. */
    if (h.major != 1 || h.minor < 4) {
        kms_debug("response: protocol version %d.%d, need 1.4", (int)h.major, (int)h.minor);
        return KMS_E_PROTOCOL;
    }
    if (op_rc != TTLV_OK || op != q->op) {
        kms_debug("response: operation does not match request 0x%x", (unsigned)q->op);
        return KMS_E_PROTOCOL;
    }
    /* The echoed batch id proves this answer belongs to this request. */
    if (bid_rc != TTLV_OK || bidlen != KMIP_BATCH_ID_LEN ||
        CRYPTO_memcmp(bid, q->batch_id, bidlen) != 0) {
        kms_debug("response: batch item id missing or not ours (desynchronised stream?)");
        return KMS_E_PROTOCOL;
    }
    if ((st = read_result(&item, res)) != KMS_OK)
        return st;
    if (res->status != KMIP_STATUS_SUCCESS)
        return KMS_OK;
    ttlv_rc rc = ttlv_find_struct(&item, KMIP_TAG_RESPONSE_PAYLOAD, payload);
    if (rc == TTLV_EMISSING)
        ttlv_r_init(payload, NULL, 0);
    else if (rc != TTLV_OK)
        return KMS_E_PROTOCOL;
    return KMS_OK;
}

kms_status kmip_parse_response(const uint8_t *buf, size_t len, const kmip_req *q, kmip_result *res,
                               ttlv_r *payload)
{
    memset(res, 0, sizeof(*res));
    ttlv_r_init(payload, NULL, 0);
    kms_status st = parse_response(buf, len, q, res, payload);
    if (st != KMS_OK) {
        if (res->message[0])
            kms_debug("response: refused answer said \"%s\"", res->message);
        memset(res, 0, sizeof(*res));
        ttlv_r_init(payload, NULL, 0);
    }
    return st;
}

kms_status kmip_parse_uid(const ttlv_r *payload, char uid[KMIP_MAX_UID + 1])
{
    const char *s;
    size_t n;
    if (ttlv_find_text(payload, KMIP_TAG_UNIQUE_IDENTIFIER, &s, &n) != TTLV_OK ||
        !kms_uid_ok(s, n, KMIP_MAX_UID) || !copy_text(uid, KMIP_MAX_UID + 1, s, n)) {
        kms_debug("response: unique identifier missing or invalid");
        return KMS_E_PROTOCOL;
    }
    return KMS_OK;
}

static kms_status uid_matches(const ttlv_r *payload, const char *uid)
{
    char got[KMIP_MAX_UID + 1];
    if (kmip_parse_uid(payload, got) != KMS_OK)
        return KMS_E_PROTOCOL;
    if (strcmp(got, uid) != 0) {
        kms_debug("response: answer is for another object");
        return KMS_E_PROTOCOL;
    }
    return KMS_OK;
}

kms_status kmip_parse_locate(const ttlv_r *payload, char uids[][KMIP_MAX_UID + 1], size_t max,
                             size_t *n)
{
    ttlv_r c = *payload;
    ttlv_item it;
    ttlv_rc rc;
    *n = 0;
    while ((rc = ttlv_next(&c, &it)) == TTLV_OK) {
        if (it.tag != KMIP_TAG_UNIQUE_IDENTIFIER)
            continue;
        if (it.type != TTLV_TEXT || !kms_uid_ok((const char *)it.val, it.len, KMIP_MAX_UID)) {
            kms_debug("response: locate returned an identifier we could not present as CKA_ID");
            return KMS_E_PROTOCOL;
        }
        if (*n == max) {
            /* We asked for at most max (Maximum Items, §4.9). */
            kms_debug("response: locate returned more than %zu items", max);
            return KMS_E_PROTOCOL;
        }
        if (!copy_text(uids[*n], KMIP_MAX_UID + 1, (const char *)it.val, it.len))
            return KMS_E_PROTOCOL;
        (*n)++;
    }
    return rc == TTLV_END ? KMS_OK : KMS_E_PROTOCOL;
}

/* One Attribute{Attribute Name, Attribute Value} into a. */
static kms_status parse_attribute(const ttlv_r *attr, kmip_key_attrs *a)
{
    const char *name;
    size_t nlen;
    ttlv_item v;
    if (ttlv_find_text(attr, KMIP_TAG_ATTRIBUTE_NAME, &name, &nlen) != TTLV_OK ||
        ttlv_find(attr, KMIP_TAG_ATTRIBUTE_VALUE, &v) != TTLV_OK)
        return KMS_E_PROTOCOL;
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
    ttlv_r one;
    ttlv_r_init(&one, NULL, 0);
    if (IS("Name")) {
        ttlv_r nv;
        const char *s;
        size_t n;
        if (ttlv_enter(&v, &nv) != TTLV_OK ||
            ttlv_find_text(&nv, KMIP_TAG_NAME_VALUE, &s, &n) != TTLV_OK)
            return KMS_E_PROTOCOL;
        /* Several names are allowed (§3.2); the first is the label. */
        if (a->name[0] == 0 && !copy_text(a->name, sizeof(a->name), s, n))
            return KMS_E_PROTOCOL;
        return KMS_OK;
    }
    uint32_t *e = IS("Object Type")               ? &a->object_type
                  : IS("Cryptographic Algorithm") ? &a->algorithm
                  : IS("State")                   ? &a->state
                                                  : NULL;
    if (e != NULL) {
        if (v.type != TTLV_ENUM)
            return KMS_E_PROTOCOL;
        *e = (uint32_t)v.val[0] << 24 | (uint32_t)v.val[1] << 16 | (uint32_t)v.val[2] << 8 |
             v.val[3];
        return KMS_OK;
    }
    if (IS("Cryptographic Usage Mask")) { /* §3.19: an Integer bit mask */
        if (v.type != TTLV_INT)
            return KMS_E_PROTOCOL;
        a->usage_mask = (uint32_t)v.val[0] << 24 | (uint32_t)v.val[1] << 16 |
                        (uint32_t)v.val[2] << 8 | v.val[3];
        a->has_usage_mask = 1;
        return KMS_OK;
    }
    if (IS("Cryptographic Length")) {
        if (v.type != TTLV_INT)
            return KMS_E_PROTOCOL;
        a->length_bits = (int32_t)((uint32_t)v.val[0] << 24 | (uint32_t)v.val[1] << 16 |
                                   (uint32_t)v.val[2] << 8 | v.val[3]);
        return KMS_OK;
    }
#undef IS
    return KMS_OK; /* attributes we did not ask for are ignored */
}

kms_status kmip_parse_attributes(const ttlv_r *payload, const char *uid, kmip_key_attrs *a)
{
    memset(a, 0, sizeof(*a));
    if (uid_matches(payload, uid) != KMS_OK)
        return KMS_E_PROTOCOL;
    ttlv_r c = *payload;
    ttlv_item it;
    ttlv_rc rc;
    while ((rc = ttlv_next(&c, &it)) == TTLV_OK) {
        if (it.tag != KMIP_TAG_ATTRIBUTE)
            continue;
        ttlv_r attr;
        if (ttlv_enter(&it, &attr) != TTLV_OK || parse_attribute(&attr, a) != KMS_OK) {
            kms_debug("response: malformed attribute");
            return KMS_E_PROTOCOL;
        }
    }
    return rc == TTLV_END ? KMS_OK : KMS_E_PROTOCOL;
}

kms_status kmip_parse_encrypt(const ttlv_r *payload, const char *uid, size_t datalen, uint8_t *out,
                              uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *iv_out, size_t iv_cap,
                              size_t *ivlen_out)
{
    const uint8_t *d, *t, *iv;
    size_t dn, tn, ivn;
    if (uid_matches(payload, uid) != KMS_OK)
        return KMS_E_PROTOCOL;
    if (ttlv_find_bytes(payload, KMIP_TAG_DATA, &d, &dn) != TTLV_OK || dn != datalen) {
        kms_debug("response: encrypt data missing or of the wrong length");
        return KMS_E_PROTOCOL;
    }
    /* A missing or short tag means the server did not do AEAD as asked (a
     * KMIP 1.2 server drops the AAD; PyKMIP honours any Tag Length): refuse. */
    if (ttlv_find_bytes(payload, KMIP_TAG_AE_TAG, &t, &tn) != TTLV_OK || tn != KMIP_GCM_TAG_LEN) {
        kms_debug("response: encrypt answer without a 16-byte authentication tag");
        return KMS_E_PROTOCOL;
    }
    *ivlen_out = 0;
    ttlv_rc rc = ttlv_find_bytes(payload, KMIP_TAG_IV_COUNTER_NONCE, &iv, &ivn);
    if (rc == TTLV_OK) {
        if (ivn == 0 || ivn > iv_cap)
            return KMS_E_PROTOCOL;
        memcpy(iv_out, iv, ivn);
        *ivlen_out = ivn;
    } else if (rc != TTLV_EMISSING) {
        return KMS_E_PROTOCOL;
    }
    if (dn)
        memcpy(out, d, dn);
    memcpy(tag, t, KMIP_GCM_TAG_LEN);
    return KMS_OK;
}

kms_status kmip_parse_decrypt(const ttlv_r *payload, const char *uid, size_t datalen, uint8_t *out)
{
    const uint8_t *d;
    size_t dn;
    if (uid_matches(payload, uid) != KMS_OK)
        return KMS_E_PROTOCOL;
    if (ttlv_find_bytes(payload, KMIP_TAG_DATA, &d, &dn) != TTLV_OK || dn != datalen) {
        kms_debug("response: decrypt data missing or of the wrong length");
        return KMS_E_PROTOCOL;
    }
    if (dn)
        memcpy(out, d, dn);
    return KMS_OK;
}
