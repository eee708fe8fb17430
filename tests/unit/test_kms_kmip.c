/*
 * test_kms_kmip.c - KMIP 1.4 request builders, response checks (version,
 * batch id, operation, tag length, data length) and the CK_RV mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kmip.h"
#include "kms_module.h"

static const kmip_req REQ = {.op = KMIP_OP_ENCRYPT,
                             .batch_id = {1, 2, 3, 4, 5, 6, 7, 8},
                             .now = 1700000000};

typedef struct {
    uint32_t op;
    const uint8_t *batch_id;
    int minor;
    int count;
    uint32_t status;
    int reason; /* -1: none */
    int with_tag;
    size_t tag_len;
    size_t data_len;
    const char *uid;
    int no_op, no_bid, no_payload; /* message-level error shape */
} resp_spec;

static resp_spec good(void)
{
    resp_spec s = {.op = KMIP_OP_ENCRYPT,
                   .batch_id = REQ.batch_id,
                   .minor = 4,
                   .count = 1,
                   .status = 0,
                   .reason = -1,
                   .with_tag = 1,
                   .tag_len = 16,
                   .data_len = 32,
                   .uid = "7"};
    return s;
}

static size_t build(const resp_spec *s, uint8_t *buf, size_t cap)
{
    ttlv_w w;
    uint8_t data[64] = {0}, tag[32] = {0};
    ttlv_w_init(&w, buf, cap);
    size_t m = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_MESSAGE);
    size_t h = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_HEADER);
    size_t v = ttlv_w_begin(&w, KMIP_TAG_PROTOCOL_VERSION);
    ttlv_w_int(&w, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
    ttlv_w_int(&w, KMIP_TAG_PROTOCOL_VERSION_MINOR, s->minor);
    ttlv_w_end(&w, v);
    ttlv_w_datetime(&w, KMIP_TAG_TIME_STAMP, 1700000000);
    ttlv_w_int(&w, KMIP_TAG_BATCH_COUNT, s->count);
    ttlv_w_end(&w, h);
    size_t b = ttlv_w_begin(&w, KMIP_TAG_BATCH_ITEM);
    if (!s->no_op)
        ttlv_w_enum(&w, KMIP_TAG_OPERATION, s->op);
    if (!s->no_bid)
        ttlv_w_bytes(&w, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, s->batch_id, 8);
    ttlv_w_enum(&w, KMIP_TAG_RESULT_STATUS, s->status);
    if (s->reason >= 0)
        ttlv_w_enum(&w, KMIP_TAG_RESULT_REASON, (uint32_t)s->reason);
    ttlv_w_text(&w, KMIP_TAG_RESULT_MESSAGE, "msg\x01", 4);
    if (!s->no_payload) {
        size_t p = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_PAYLOAD);
        ttlv_w_text(&w, KMIP_TAG_UNIQUE_IDENTIFIER, s->uid, strlen(s->uid));
        ttlv_w_bytes(&w, KMIP_TAG_DATA, data, s->data_len);
        if (s->with_tag)
            ttlv_w_bytes(&w, KMIP_TAG_AE_TAG, tag, s->tag_len);
        ttlv_w_end(&w, p);
    }
    ttlv_w_end(&w, b);
    ttlv_w_end(&w, m);
    assert_false(w.err);
    return w.len;
}

/* Parses a response to REQ as an Encrypt of 32 bytes for uid "7". */
static kms_status run(const resp_spec *s, kmip_result *res)
{
    uint8_t buf[1024], out[32], tag[16], iv[16];
    size_t n = build(s, buf, sizeof(buf)), ivn;
    ttlv_r p;
    kms_status st = kmip_parse_response(buf, n, &REQ, res, &p);
    if (st != KMS_OK || res->status != KMIP_STATUS_SUCCESS)
        return st;
    return kmip_parse_encrypt(&p, "7", 32, out, tag, iv, sizeof(iv), &ivn);
}

static void test_good_encrypt_response(void **state)
{
    kmip_result res;
    resp_spec s = good();
    assert_int_equal(run(&s, &res), KMS_OK);
    s.minor = 5; /* a later 1.x keeps the 1.4 fields */
    assert_int_equal(run(&s, &res), KMS_OK);
}

static void test_refused_responses(void **state)
{
    kmip_result res;
    uint8_t other_id[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    resp_spec s;
    s = good();
    s.with_tag = 0;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL); /* 1.2-style: no tag */
    s = good();
    s.tag_len = 3;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL); /* PyKMIP honours any Tag Length */
    s = good();
    s.tag_len = 17;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.minor = 2;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.batch_id = other_id;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL); /* desynchronised stream */
    s = good();
    s.op = KMIP_OP_DECRYPT;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.count = 2;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.data_len = 31;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.uid = "8";
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = good();
    s.status = KMIP_STATUS_OPERATION_FAILED; /* failure without a reason */
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
}

static void test_failure_result_and_message(void **state)
{
    kmip_result res;
    resp_spec s = good();
    s.status = KMIP_STATUS_OPERATION_FAILED;
    s.reason = KMIP_REASON_PERMISSION_DENIED;
    assert_int_equal(run(&s, &res), KMS_OK);
    assert_int_equal(res.status, KMIP_STATUS_OPERATION_FAILED);
    assert_int_equal(res.reason, KMIP_REASON_PERMISSION_DENIED);
    assert_string_equal(res.message, "msg?"); /* control characters neutralised */
}

/* PyKMIP's engine.build_error_response: version 1.0, one batch item without
 * Operation or Unique Batch Item ID (session.py, refused client certificate). */
static resp_spec message_level(void)
{
    resp_spec s = good();
    s.minor = 0;
    s.no_op = s.no_bid = s.no_payload = 1;
    s.status = KMIP_STATUS_OPERATION_FAILED;
    s.reason = KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL;
    return s;
}

static void test_message_level_error(void **state)
{
    kmip_result res;
    resp_spec s = message_level();
    assert_int_equal(run(&s, &res), KMS_OK);
    assert_int_equal(res.status, KMIP_STATUS_OPERATION_FAILED);
    assert_int_equal(res.reason, KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL);
    assert_true(res.message_level);
    assert_string_equal(res.message, "msg?");
    assert_int_equal(kms_ckr(KMS_E_RESULT, &res, KMS_CTX_KEY), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(kms_ckr(KMS_E_RESULT, &res, KMS_CTX_DECRYPT), CKR_USER_NOT_LOGGED_IN);
    s.minor = 4; /* or in the request's version */
    assert_int_equal(run(&s, &res), KMS_OK);
    assert_true(res.message_level);
    /* An ordinary answer is never message-level. */
    resp_spec g = good();
    g.status = KMIP_STATUS_OPERATION_FAILED;
    g.reason = KMIP_REASON_PERMISSION_DENIED;
    assert_int_equal(run(&g, &res), KMS_OK);
    assert_false(res.message_level);

    /* Refused: a "success" (or a failure without reason) that names no
     * request, KMIP 2.x, a batch id without operation or the reverse. */
    s = message_level();
    s.status = KMIP_STATUS_SUCCESS;
    s.reason = -1;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = message_level();
    s.reason = -1;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = message_level();
    s.count = 2;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = message_level();
    s.no_bid = 0;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL); /* 1.0, and no operation */
    s = message_level();
    s.no_op = 0;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL);
    s = message_level();
    s.minor = 4;
    s.no_bid = 0;
    s.no_payload = 0;
    s.status = KMIP_STATUS_SUCCESS;
    s.reason = -1;
    assert_int_equal(run(&s, &res), KMS_E_PROTOCOL); /* data without the operation */
    /* Refused answers leave no half-filled result behind. */
    assert_int_equal(res.status, 0);
    assert_string_equal(res.message, "");
}

static void test_truncations_never_parse(void **state)
{
    uint8_t buf[1024];
    resp_spec s = good();
    size_t n = build(&s, buf, sizeof(buf));
    kmip_result res;
    ttlv_r p;
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(kmip_parse_response(buf, cut, &REQ, &res, &p), KMS_OK);
    /* trailing bytes after the message */
    uint8_t more[1100];
    memcpy(more, buf, n);
    memset(more + n, 0, 16);
    more[n] = 0x42;
    more[n + 3] = 0x07;
    assert_int_equal(kmip_parse_response(more, n + 8, &REQ, &res, &p), KMS_E_PROTOCOL);
}

static void test_requests_are_well_formed(void **state)
{
    uint8_t buf[2048], iv[12] = {0}, aad[16] = {0}, data[32] = {0}, tag[16] = {0};
    ttlv_w w;
    kmip_req q = REQ;
    for (int k = 0; k < 7; k++) {
        ttlv_w_init(&w, buf, sizeof(buf));
        switch (k) {
        case 0: kmip_build_create_aes256(&w, &q, "kek-a"); break;
        case 1: kmip_build_uid_op(&w, &q, "7"); break;
        case 2: kmip_build_revoke(&w, &q, "7"); break;
        case 3: kmip_build_locate(&w, &q, "kek-a", 0); break;
        case 4: kmip_build_get_attributes(&w, &q, "7"); break;
        case 5: kmip_build_encrypt(&w, &q, "7", iv, 12, aad, 16, data, 32); break;
        case 6: kmip_build_decrypt(&w, &q, "7", iv, 12, aad, 16, data, 32, tag); break;
        }
        assert_false(w.err);
        assert_int_equal(ttlv_validate(buf, w.len), TTLV_OK);
        assert_true(w.len <= kmip_request_capacity(64));
    }
    /* The Encrypt request carries version 1.4, the AAD and the tag length. */
    ttlv_w_init(&w, buf, sizeof(buf));
    kmip_build_encrypt(&w, &q, "7", iv, 12, aad, 16, data, 32);
    ttlv_r r, msg, hdr, ver, item, pay, cp;
    int32_t minor, tl;
    const uint8_t *b;
    size_t bn;
    ttlv_r_init(&r, buf, w.len);
    assert_int_equal(ttlv_find_struct(&r, KMIP_TAG_REQUEST_MESSAGE, &msg), TTLV_OK);
    assert_int_equal(ttlv_find_struct(&msg, KMIP_TAG_REQUEST_HEADER, &hdr), TTLV_OK);
    assert_int_equal(ttlv_find_struct(&hdr, KMIP_TAG_PROTOCOL_VERSION, &ver), TTLV_OK);
    assert_int_equal(ttlv_find_int(&ver, KMIP_TAG_PROTOCOL_VERSION_MINOR, &minor), TTLV_OK);
    assert_int_equal(minor, 4);
    assert_int_equal(ttlv_find_struct(&msg, KMIP_TAG_BATCH_ITEM, &item), TTLV_OK);
    assert_int_equal(ttlv_find_struct(&item, KMIP_TAG_REQUEST_PAYLOAD, &pay), TTLV_OK);
    assert_int_equal(ttlv_find_bytes(&pay, KMIP_TAG_AE_ADDITIONAL_DATA, &b, &bn), TTLV_OK);
    assert_int_equal(bn, 16);
    assert_int_equal(ttlv_find_struct(&pay, KMIP_TAG_CRYPTO_PARAMETERS, &cp), TTLV_OK);
    assert_int_equal(ttlv_find_int(&cp, KMIP_TAG_TAG_LENGTH, &tl), TTLV_OK);
    assert_int_equal(tl, 16);

    /* Limits: over-long name, empty uid, oversized data, a 17-byte IV. */
    char longname[KMIP_MAX_NAME + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    ttlv_w_init(&w, buf, sizeof(buf));
    kmip_build_create_aes256(&w, &q, longname);
    assert_true(w.err);
    ttlv_w_init(&w, buf, sizeof(buf));
    kmip_build_uid_op(&w, &q, "");
    assert_true(w.err);
    ttlv_w_init(&w, buf, sizeof(buf));
    kmip_build_encrypt(&w, &q, "7", iv, 17, aad, 0, data, 32);
    assert_true(w.err);
    ttlv_w_init(&w, buf, sizeof(buf));
    kmip_build_encrypt(&w, &q, "7", iv, 12, aad, 0, data, KMIP_MAX_DATA + 1);
    assert_true(w.err);
}

/* Get Attributes answer for uid "1": the usage mask as an Integer (or
 * as an Enumeration, which §3.19 does not allow), or no mask at all. */
static kms_status attributes(int mask_kind, kmip_key_attrs *a)
{
    static const kmip_req GA = {.op = KMIP_OP_GET_ATTRIBUTES,
                                .batch_id = {1, 2, 3, 4, 5, 6, 7, 8},
                                .now = 1700000000};
    uint8_t buf[1024];
    ttlv_w w;
    ttlv_w_init(&w, buf, sizeof(buf));
    size_t m = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_MESSAGE);
    size_t h = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_HEADER);
    size_t v = ttlv_w_begin(&w, KMIP_TAG_PROTOCOL_VERSION);
    ttlv_w_int(&w, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
    ttlv_w_int(&w, KMIP_TAG_PROTOCOL_VERSION_MINOR, 4);
    ttlv_w_end(&w, v);
    ttlv_w_datetime(&w, KMIP_TAG_TIME_STAMP, 1700000000);
    ttlv_w_int(&w, KMIP_TAG_BATCH_COUNT, 1);
    ttlv_w_end(&w, h);
    size_t b = ttlv_w_begin(&w, KMIP_TAG_BATCH_ITEM);
    ttlv_w_enum(&w, KMIP_TAG_OPERATION, KMIP_OP_GET_ATTRIBUTES);
    ttlv_w_bytes(&w, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, GA.batch_id, 8);
    ttlv_w_enum(&w, KMIP_TAG_RESULT_STATUS, 0);
    size_t p = ttlv_w_begin(&w, KMIP_TAG_RESPONSE_PAYLOAD);
    ttlv_w_text(&w, KMIP_TAG_UNIQUE_IDENTIFIER, "1", 1);
    size_t at = ttlv_w_begin(&w, KMIP_TAG_ATTRIBUTE);
    ttlv_w_text(&w, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Length", 20);
    ttlv_w_int(&w, KMIP_TAG_ATTRIBUTE_VALUE, 256);
    ttlv_w_end(&w, at);
    if (mask_kind != 0) {
        at = ttlv_w_begin(&w, KMIP_TAG_ATTRIBUTE);
        ttlv_w_text(&w, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Usage Mask", 24);
        if (mask_kind == 1)
            ttlv_w_int(&w, KMIP_TAG_ATTRIBUTE_VALUE, 0x5c);
        else
            ttlv_w_enum(&w, KMIP_TAG_ATTRIBUTE_VALUE, 0x5c);
        ttlv_w_end(&w, at);
    }
    ttlv_w_end(&w, p);
    ttlv_w_end(&w, b);
    ttlv_w_end(&w, m);
    assert_false(w.err);
    kmip_result res;
    ttlv_r payload;
    assert_int_equal(kmip_parse_response(buf, w.len, &GA, &res, &payload), KMS_OK);
    return kmip_parse_attributes(&payload, "1", a);
}

/* The usage mask `envelope kek check` reads through the bridge. */
static void test_usage_mask(void **state)
{
    kmip_key_attrs a;
    assert_int_equal(attributes(1, &a), KMS_OK);
    assert_true(a.has_usage_mask);
    assert_int_equal(a.usage_mask, 0x5c);
    assert_int_equal(a.length_bits, 256);
    assert_int_equal(attributes(0, &a), KMS_OK);
    assert_false(a.has_usage_mask);
    assert_int_equal(attributes(2, &a), KMS_E_PROTOCOL);
}

static void test_ckr_mapping(void **state)
{
    kmip_result r = {0};
    assert_int_equal(kms_ckr(KMS_E_UNREACHABLE, &r, KMS_CTX_KEY), CKR_DEVICE_REMOVED);
    assert_int_equal(kms_ckr(KMS_E_IO, &r, KMS_CTX_DECRYPT), CKR_DEVICE_ERROR);
    assert_int_equal(kms_ckr(KMS_E_TIMEOUT, &r, KMS_CTX_DECRYPT), CKR_DEVICE_ERROR);
    assert_int_equal(kms_ckr(KMS_E_PROTOCOL, &r, KMS_CTX_DECRYPT), CKR_FUNCTION_FAILED);
    assert_int_equal(kms_ckr(KMS_E_IDENTITY, &r, KMS_CTX_KEY), CKR_USER_NOT_LOGGED_IN);
    r.status = 1;
    r.reason = KMIP_REASON_GENERAL_FAILURE;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_DECRYPT), CKR_ENCRYPTED_DATA_INVALID);
    /* Only a cryptographic or general failure says "the tag did not verify". */
    static const uint32_t not_data[] = {KMIP_REASON_RESPONSE_TOO_LARGE,
                                        KMIP_REASON_INVALID_MESSAGE,
                                        KMIP_REASON_OPERATION_NOT_SUPPORTED,
                                        0x07 /* Invalid Field */,
                                        0x06 /* Missing Data */,
                                        0x0D /* Object Archived */};
    for (size_t i = 0; i < sizeof(not_data) / sizeof(not_data[0]); i++) {
        r.reason = not_data[i];
        assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_DECRYPT), CKR_FUNCTION_FAILED);
    }
    r.reason = KMIP_REASON_GENERAL_FAILURE;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_KEY), CKR_FUNCTION_FAILED);
    r.reason = KMIP_REASON_CRYPTOGRAPHIC_FAILURE;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_DECRYPT), CKR_ENCRYPTED_DATA_INVALID);
    r.reason = KMIP_REASON_PERMISSION_DENIED;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_DECRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
    r.reason = KMIP_REASON_ITEM_NOT_FOUND;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_DECRYPT), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_OBJECT), CKR_OBJECT_HANDLE_INVALID);
    r.reason = KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL;
    assert_int_equal(kms_ckr(KMS_E_RESULT, &r, KMS_CTX_KEY), CKR_USER_NOT_LOGGED_IN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_encrypt_response),
        cmocka_unit_test(test_refused_responses),
        cmocka_unit_test(test_failure_result_and_message),
        cmocka_unit_test(test_message_level_error),
        cmocka_unit_test(test_truncations_never_parse),
        cmocka_unit_test(test_requests_are_well_formed),
        cmocka_unit_test(test_ckr_mapping),
        cmocka_unit_test(test_usage_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
