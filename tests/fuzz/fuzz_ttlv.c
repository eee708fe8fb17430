/*
 * fuzz_ttlv.c - libFuzzer target for the KMIP TTLV decoder and the response
 * parsers (everything a KMS, or anyone on the path, can make us read).
 *
 * The input is a whole response as it would arrive after the 8-byte frame
 * check in kms-bridge/kms_tls_conn.c. The request it answers is fixed (batch id 01..08), so
 * the fuzzer can reach the payload parsers by echoing it. Every parser is
 * run on every input; none may read out of bounds, recurse unboundedly or
 * accept a message the bounded reader calls malformed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmip.h"
#include "ttlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > KMIP_MAX_RESPONSE + TTLV_HDR_LEN)
        return 0;
    /* A copy of exactly `size` bytes, so ASan sees any overread. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);

    int valid = ttlv_validate(buf, size) == TTLV_OK;
    static const uint32_t ops[] = {KMIP_OP_ENCRYPT, KMIP_OP_DECRYPT, KMIP_OP_LOCATE,
                                   KMIP_OP_GET_ATTRIBUTES, KMIP_OP_CREATE};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        kmip_req q = {.op = ops[i], .batch_id = {1, 2, 3, 4, 5, 6, 7, 8}, .now = 0};
        kmip_result res;
        ttlv_r p;
        kms_status st = kmip_parse_response(buf, size, &q, &res, &p);
        if (st == KMS_OK && !valid)
            abort(); /* the parser accepted what the validator refused */
        if (st == KMS_OK && res.message_level && res.status == KMIP_STATUS_SUCCESS)
            abort(); /* an answer naming no request must never carry data */
        if (st != KMS_OK || res.status != KMIP_STATUS_SUCCESS)
            continue;
        uint8_t out[64], tag[KMIP_GCM_TAG_LEN], iv[16];
        size_t ivn, n;
        char uid[KMIP_MAX_UID + 1];
        char(*uids)[KMIP_MAX_UID + 1] = malloc(4 * sizeof(*uids));
        kmip_key_attrs a;
        switch (ops[i]) {
        case KMIP_OP_ENCRYPT:
            if (kmip_parse_encrypt(&p, "1", 32, out, tag, iv, sizeof(iv), &ivn) == KMS_OK &&
                ivn > sizeof(iv))
                abort();
            break;
        case KMIP_OP_DECRYPT:
            if (kmip_parse_decrypt(&p, "1", 32, out) != KMS_OK)
                memset(out, 0, sizeof(out)); /* nothing to check but the reads */
            break;
        case KMIP_OP_LOCATE:
            if (uids && kmip_parse_locate(&p, uids, 4, &n) == KMS_OK && n > 4)
                abort();
            break;
        case KMIP_OP_GET_ATTRIBUTES:
            if (kmip_parse_attributes(&p, "1", &a) == KMS_OK && strlen(a.name) > KMIP_MAX_NAME)
                abort();
            break;
        default:
            if (kmip_parse_uid(&p, uid) == KMS_OK && strlen(uid) > KMIP_MAX_UID)
                abort();
        }
        free(uids);
    }
    free(buf);
    return 0;
}
