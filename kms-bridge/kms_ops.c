/*
 * kms_ops.c - KMIP operations over the slot's pool, see kms_ops.h.
 */
#include "kms_ops.h"

#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "kms_diag.h"
#include "kms_log.h"
#include "kms_socket.h"
#include "secmem.h"

static const char *op_name(uint32_t op)
{
    switch (op) {
    case KMIP_OP_CREATE: return "Create";
    case KMIP_OP_LOCATE: return "Locate";
    case KMIP_OP_GET_ATTRIBUTES: return "GetAttributes";
    case KMIP_OP_ACTIVATE: return "Activate";
    case KMIP_OP_REVOKE: return "Revoke";
    case KMIP_OP_DESTROY: return "Destroy";
    case KMIP_OP_ENCRYPT: return "Encrypt";
    case KMIP_OP_DECRYPT: return "Decrypt";
    }
    return "?";
}

/* One in-flight request: its buffer is secret memory (it may hold a DEK).
 * conn is the connection the answer came on, held until ex_end decides
 * whether the whole answer (frame, message and payload) was accepted. */
typedef struct {
    kmip_req q;
    ttlv_w w;
    uint8_t *buf;
    uint8_t *resp;
    size_t resplen;
    int64_t t0;
    kms_slot *s;
    kms_conn *conn;
    int message_level;
} exchange;

static kms_status ex_begin(exchange *x, uint32_t op, size_t payload_bytes)
{
    memset(x, 0, sizeof(*x));
    x->q.op = op;
    x->q.now = (int64_t)time(NULL);
    x->t0 = kms_now_ms();
    if (RAND_bytes(x->q.batch_id, sizeof(x->q.batch_id)) != 1)
        return KMS_E_INTERNAL;
    size_t cap = kmip_request_capacity(payload_bytes);
    x->buf = envelope_secmem_alloc(cap);
    if (x->buf == NULL)
        return KMS_E_NOMEM;
    ttlv_w_init(&x->w, x->buf, cap);
    return KMS_OK;
}

/* st is the operation's final status. The connection goes back to the pool
 * only if the answer was accepted in full: a success whose payload parsed,
 * or a well-formed failure result echoing our batch id. Anything refused
 * (malformed TTLV, another version, operation, batch id or object, a
 * payload we reject) and any message-level error frees it: the stream is
 * not known to be in step any more (KMS-BRIDGE.md, Pool). */
static void ex_end(exchange *x, kms_status st)
{
    int keep = st == KMS_OK || (st == KMS_E_RESULT && !x->message_level);
    if (st == KMS_E_PROTOCOL && x->conn != NULL)
        kms_diag_add("KMS %s: %s: answer refused (malformed or unexpected; ENVELOPE_KMS_DEBUG=1 "
                     "shows why)",
                     kms_conn_endpoint(x->conn), op_name(x->q.op));
    if (x->conn != NULL && !keep)
        kms_debug("endpoint %s: connection dropped after: %s", kms_conn_endpoint(x->conn),
                  x->message_level ? "message-level error" : kms_status_name(st));
    kms_slot_release(x->s, x->conn, keep);
    x->conn = NULL;
    envelope_secmem_free(x->buf);
    envelope_secmem_free(x->resp);
    x->buf = x->resp = NULL;
}

/* Sends the built request, parses the response frame. */
static kms_status ex_run(kms_slot *s, exchange *x, int idempotent, kmip_result *res,
                         ttlv_r *payload)
{
    memset(res, 0, sizeof(*res));
    x->s = s;
    if (x->w.err) {
        kms_debug("slot %s: %s request exceeds limits", s->cfg.label, op_name(x->q.op));
        return KMS_E_ARGS;
    }
    kms_status st = kms_slot_call(s, x->buf, x->w.len, idempotent, &x->resp, &x->resplen, &x->conn);
    /* The request may hold a DEK: wipe it as soon as it is sent. */
    envelope_secmem_free(x->buf);
    x->buf = NULL;
    if (st == KMS_OK)
        st = kmip_parse_response(x->resp, x->resplen, &x->q, res, payload);
    if (st == KMS_OK && res->status != KMIP_STATUS_SUCCESS)
        st = KMS_E_RESULT;
    x->message_level = st == KMS_E_RESULT && res->message_level;
    long ms = (long)(kms_now_ms() - x->t0);
    const char *ep = x->conn != NULL ? kms_conn_endpoint(x->conn) : s->cfg.label;
    if (st == KMS_E_RESULT)
        kms_diag_add("KMS %s: %s: server refused%s: reason 0x%x \"%s\"", ep, op_name(x->q.op),
                     res->message_level ? " the message" : "", (unsigned)res->reason, res->message);
    else if (st == KMS_E_PROTOCOL && x->conn != NULL)
        kms_diag_add("KMS %s: %s: answer refused (malformed or unexpected; ENVELOPE_KMS_DEBUG=1 "
                     "shows why)",
                     ep, op_name(x->q.op));
    else if (st == KMS_E_IDENTITY && x->conn == NULL && !kms_slot_has_tls(s))
        kms_diag_add("KMS %s: the client key is not loaded (C_Login with its passphrase)",
                     s->cfg.label);
    if (st == KMS_E_RESULT)
        kms_debug("slot %s: %s: server refused%s: status %u reason 0x%x \"%s\" (%ld ms)",
                  s->cfg.label, op_name(x->q.op), res->message_level ? " the message" : "",
                  (unsigned)res->status, (unsigned)res->reason, res->message, ms);
    else
        kms_debug("slot %s: %s: %s (%ld ms)", s->cfg.label, op_name(x->q.op), kms_status_name(st),
                  ms);
    return st;
}

kms_status kms_op_locate(kms_slot *s, const char *name, uint32_t offset,
                         char uids[][KMIP_MAX_UID + 1], size_t max, size_t *n, kmip_result *res)
{
    exchange x;
    ttlv_r p;
    *n = 0;
    kms_status st = ex_begin(&x, KMIP_OP_LOCATE, name ? strlen(name) : 0);
    if (st == KMS_OK) {
        kmip_build_locate(&x.w, &x.q, name, offset);
        st = ex_run(s, &x, 1, res, &p);
    }
    if (st == KMS_OK)
        st = kmip_parse_locate(&p, uids, max, n);
    ex_end(&x, st);
    return st;
}

kms_status kms_op_get_attributes(kms_slot *s, const char *uid, kmip_key_attrs *a, kmip_result *res)
{
    exchange x;
    ttlv_r p;
    kms_status st = ex_begin(&x, KMIP_OP_GET_ATTRIBUTES, strlen(uid));
    if (st == KMS_OK) {
        kmip_build_get_attributes(&x.w, &x.q, uid);
        st = ex_run(s, &x, 1, res, &p);
    }
    if (st == KMS_OK)
        st = kmip_parse_attributes(&p, uid, a);
    ex_end(&x, st);
    return st;
}

/* Activate, Revoke, Destroy: a uid in, the same uid back. */
static kms_status uid_op(kms_slot *s, uint32_t op, const char *uid, kmip_result *res)
{
    exchange x;
    ttlv_r p;
    char got[KMIP_MAX_UID + 1];
    kms_status st = ex_begin(&x, op, strlen(uid));
    if (st == KMS_OK) {
        if (op == KMIP_OP_REVOKE)
            kmip_build_revoke(&x.w, &x.q, uid);
        else
            kmip_build_uid_op(&x.w, &x.q, uid);
        st = ex_run(s, &x, 0, res, &p);
    }
    if (st == KMS_OK && (st = kmip_parse_uid(&p, got)) == KMS_OK && strcmp(got, uid) != 0) {
        kms_debug("slot %s: %s answered for another object", s->cfg.label, op_name(op));
        st = KMS_E_PROTOCOL;
    }
    ex_end(&x, st);
    return st;
}

kms_status kms_op_create_key(kms_slot *s, const char *name, char uid[KMIP_MAX_UID + 1],
                             kmip_result *res)
{
    exchange x;
    ttlv_r p;
    kms_status st = ex_begin(&x, KMIP_OP_CREATE, strlen(name));
    if (st == KMS_OK) {
        kmip_build_create_aes256(&x.w, &x.q, name);
        st = ex_run(s, &x, 0, res, &p);
    }
    if (st == KMS_OK)
        st = kmip_parse_uid(&p, uid);
    ex_end(&x, st);
    if (st != KMS_OK)
        return st;
    st = uid_op(s, KMIP_OP_ACTIVATE, uid, res);
    if (st != KMS_OK) {
        /* Do not leave a named, unusable key behind for Locate to find. */
        kmip_result r2;
        if (uid_op(s, KMIP_OP_DESTROY, uid, &r2) != KMS_OK)
            kms_debug("slot %s: could not remove key %s after failed Activate", s->cfg.label, uid);
    }
    return st;
}

kms_status kms_op_destroy_key(kms_slot *s, const char *uid, kmip_result *res)
{
    kms_status st = uid_op(s, KMIP_OP_REVOKE, uid, res);
    /* A key that is already not Active (never activated, or revoked by an
     * earlier, interrupted destroy) refuses Revoke; Destroy decides. */
    if (st != KMS_OK && st != KMS_E_RESULT)
        return st;
    return uid_op(s, KMIP_OP_DESTROY, uid, res);
}

kms_status kms_op_encrypt(kms_slot *s, const char *uid, const uint8_t *iv, size_t ivlen,
                          const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
                          uint8_t *out, uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *iv_out,
                          size_t iv_cap, size_t *ivlen_out, kmip_result *res)
{
    exchange x;
    ttlv_r p;
    kms_status st = ex_begin(&x, KMIP_OP_ENCRYPT, strlen(uid) + ivlen + aadlen + inlen);
    if (st == KMS_OK) {
        kmip_build_encrypt(&x.w, &x.q, uid, iv, ivlen, aad, aadlen, in, inlen);
        st = ex_run(s, &x, 1, res, &p);
    }
    if (st == KMS_OK)
        st = kmip_parse_encrypt(&p, uid, inlen, out, tag, iv_out, iv_cap, ivlen_out);
    ex_end(&x, st);
    return st;
}

kms_status kms_op_decrypt(kms_slot *s, const char *uid, const uint8_t *iv, size_t ivlen,
                          const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
                          const uint8_t tag[KMIP_GCM_TAG_LEN], uint8_t *out, kmip_result *res)
{
    exchange x;
    ttlv_r p;
    kms_status st = ex_begin(&x, KMIP_OP_DECRYPT,
                             strlen(uid) + ivlen + aadlen + inlen + KMIP_GCM_TAG_LEN);
    if (st == KMS_OK) {
        kmip_build_decrypt(&x.w, &x.q, uid, iv, ivlen, aad, aadlen, in, inlen, tag);
        st = ex_run(s, &x, 1, res, &p);
    }
    if (st == KMS_OK)
        st = kmip_parse_decrypt(&p, uid, inlen, out);
    ex_end(&x, st);
    return st;
}
