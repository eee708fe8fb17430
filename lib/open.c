/*
 * open.c - reading whole messages: the record opener (which remembers the
 * last EDK list it unwrapped, so records from one sealer cost one unwrap)
 * and the one-shot envelope_open. Nothing is released unless every frame
 * verified and the message ended exactly after its final frame.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"

#define ENV_CTX_MAX (2 + ENVELOPE_MAX_CONTEXT_BYTES)

struct envelope_opener {
    envelope_lib *lib;
    env_crypto c;
    env_decrypt o; /* KEKs and expected context */
    /* What the DEK in c.s->dek was unwrapped for: suite, context, EDK list
     * (everything the wrap AAD and the EDK depend on). */
    uint8_t *cache;
    size_t cache_len;
    int have_dek;
    uint8_t ctxbuf[ENV_CTX_MAX];
    size_t ctxlen;
    envelope_context *msgctx;
};

envelope_status envelope_opener_new(envelope_lib *lib, const envelope_decrypt_opts *o,
                                    envelope_opener **out, envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_opener_new: NULL argument");
    *out = NULL;
    envelope_opener *op = OPENSSL_zalloc(sizeof(*op));
    if (op == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    op->lib = lib;
    envelope_status s = env_decrypt_take(&op->o, o, err);
    if (s == ENVELOPE_OK)
        s = env_crypto_init(&op->c, lib, ENV_KEY_DEC, err);
    if (s == ENVELOPE_OK && (op->cache = OPENSSL_malloc(ENV_MAX_HEADER)) == NULL)
        s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (s != ENVELOPE_OK) {
        envelope_opener_free(op);
        return s;
    }
    *out = op;
    return ENVELOPE_OK;
}

void envelope_opener_free(envelope_opener *op)
{
    if (op == NULL)
        return;
    env_crypto_cleanup(&op->c);
    OPENSSL_free(op->cache);
    env_decrypt_cleanup(&op->o);
    envelope_context_free(op->msgctx);
    OPENSSL_clear_free(op, sizeof(*op));
}

static int cache_matches(const envelope_opener *op, const env_header *h)
{
    size_t n = 2 + h->ctx_enc_len + h->edk_list_len;
    return op->have_dek && op->cache_len == n && op->cache[0] == (uint8_t)(h->suite >> 8) &&
           op->cache[1] == (uint8_t)h->suite &&
           CRYPTO_memcmp(op->cache + 2, h->ctx_enc, h->ctx_enc_len) == 0 &&
           CRYPTO_memcmp(op->cache + 2 + h->ctx_enc_len, h->edk_list, h->edk_list_len) == 0;
}

static void cache_store(envelope_opener *op, const env_header *h)
{
    op->cache[0] = (uint8_t)(h->suite >> 8);
    op->cache[1] = (uint8_t)h->suite;
    memcpy(op->cache + 2, h->ctx_enc, h->ctx_enc_len);
    memcpy(op->cache + 2 + h->ctx_enc_len, h->edk_list, h->edk_list_len);
    op->cache_len = 2 + h->ctx_enc_len + h->edk_list_len;
    op->have_dek = 1;
}

/* The keys for h: from the remembered DEK, or by unwrapping. */
static envelope_status keys_for(envelope_opener *op, const env_header *h, envelope_err *err)
{
    if (cache_matches(op, h)) {
        ENV_GUARD(env_crypto_derive(&op->c, h->message_id, err));
        return env_header_verify(&op->c, h, err);
    }
    op->have_dek = 0;
    envelope_status s = env_unwrap_header(&op->c, op->o.keks, op->o.nkeks, h, err);
    if (s != ENVELOPE_OK) {
        OPENSSL_cleanse(op->c.s, sizeof(*op->c.s));
        return s;
    }
    cache_store(op, h);
    return ENVELOPE_OK;
}

/* The plaintext length of the frames after h from their structure alone
 * (frame lengths are not secret: envelope inspect shows them), so that a
 * buffer too small is reported with the size it needs before any KEK is
 * used. 0 if the frames are malformed: open_frames then says how. */
int env_plaintext_len(const env_header *h, const uint8_t *in, size_t inlen, size_t *n)
{
    env_rd r;
    env_rd_init(&r, in, inlen);
    (void)env_rd_bytes(&r, h->total_len);
    *n = 0;
    for (uint64_t no = 1; no <= ENVELOPE_MAX_FRAMES; no++) {
        uint8_t type;
        uint32_t len = h->frame_size;
        if (!env_rd_u8(&r, &type) || (type != ENV_FRAME_REGULAR && type != ENV_FRAME_FINAL) ||
            (type == ENV_FRAME_FINAL && (!env_rd_u32(&r, &len) || len > h->frame_size)) ||
            env_rd_bytes(&r, (size_t)len + ENV_TAG_LEN) == NULL)
            return 0;
        *n += len;
        if (type == ENV_FRAME_FINAL)
            return 1;
    }
    return 0;
}

envelope_status env_open_frames(env_crypto *c, const env_header *h, const uint8_t *in, size_t inlen,
                                uint8_t *out, size_t outsize, size_t *ptlen, envelope_err *err)
{
    env_rd r;
    env_rd_init(&r, in, inlen);
    (void)env_rd_bytes(&r, h->total_len);
    size_t fs = h->frame_size;
    for (uint64_t no = 1;; no++) {
        uint8_t type;
        uint32_t len = (uint32_t)fs;
        const uint8_t *ct, *tag;
        if (no > ENVELOPE_MAX_FRAMES)
            return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES,
                            "message has more than 2^32-1 frames");
        if (!env_rd_u8(&r, &type))
            return env_fail(err, ENVELOPE_ERR_TRUNCATED,
                            "message ends before its final frame (truncated)");
        if (type != ENV_FRAME_REGULAR && type != ENV_FRAME_FINAL)
            return env_fail(err, ENVELOPE_ERR_FRAME_TYPE, "frame %llu has unknown type 0x%02x",
                            (unsigned long long)no, type);
        if (type == ENV_FRAME_FINAL) {
            if (!env_rd_u32(&r, &len))
                return env_fail(err, ENVELOPE_ERR_TRUNCATED, "message ends inside its final frame");
            if (len > fs || (len == 0 && no != 1))
                return env_fail(
                    err, ENVELOPE_ERR_FRAME_LENGTH,
                    "final frame length %u is not allowed (1..%zu, or 0 for an empty message)", len,
                    fs);
        }
        if ((ct = env_rd_bytes(&r, len)) == NULL || (tag = env_rd_bytes(&r, ENV_TAG_LEN)) == NULL)
            return env_fail(err, ENVELOPE_ERR_TRUNCATED, "message ends inside frame %llu",
                            (unsigned long long)no);
        if (outsize - *ptlen < len)
            return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL, "plaintext buffer too small");
        ENV_GUARD(env_frame_open(c, h->message_id, no, type == ENV_FRAME_FINAL, ct, len, tag,
                                 out + *ptlen, err));
        *ptlen += len;
        if (type == ENV_FRAME_FINAL)
            break;
    }
    if (env_rd_left(&r) != 0)
        return env_fail(err, ENVELOPE_ERR_TRAILING_DATA,
                        "%zu bytes follow the final frame; the message was appended to",
                        env_rd_left(&r));
    return ENVELOPE_OK;
}

envelope_status envelope_opener_open(envelope_opener *op, const uint8_t *in, size_t inlen,
                                     uint8_t *out, size_t outsize, size_t *outlen,
                                     envelope_err *err)
{
    env_err_clear(err);
    if (op == NULL || in == NULL || outlen == NULL || (out == NULL && outsize > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_opener_open: NULL argument");
    *outlen = 0;
    /* Forget the previous record's context first: after a failed open the
     * caller must not read an earlier message's context as this one's. */
    op->ctxlen = 0;
    envelope_context_free(op->msgctx);
    op->msgctx = NULL;
    env_header h;
    size_t pt = 0;
    ENV_GUARD(env_header_parse(in, inlen, &h, NULL, err));
    ENV_GUARD(env_context_check(op->o.expected, h.ctx_enc, h.ctx_enc_len, err));
    size_t need = 0;
    if (outsize < inlen - h.total_len && env_plaintext_len(&h, in, inlen, &need) &&
        need > outsize) {
        *outlen = need; /* the size to allocate */
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "plaintext buffer has %zu bytes, the message holds %zu", outsize, need);
    }
    ENV_GUARD(keys_for(op, &h, err));
    envelope_status s = env_open_frames(&op->c, &h, in, inlen, out, outsize, &pt, err);
    if (s != ENVELOPE_OK) {
        if (pt > 0)
            OPENSSL_cleanse(out, pt);
        return s;
    }
    memcpy(op->ctxbuf, h.ctx_enc, h.ctx_enc_len);
    op->ctxlen = h.ctx_enc_len;
    envelope_context_free(op->msgctx);
    op->msgctx = NULL;
    *outlen = pt;
    return ENVELOPE_OK;
}

const envelope_context *envelope_opener_context(envelope_opener *op)
{
    if (op == NULL || op->ctxlen == 0)
        return NULL;
    /* Decoded on demand: the hot path never allocates for it. */
    if (op->msgctx == NULL &&
        env_context_decode(op->ctxbuf, op->ctxlen, &op->msgctx, NULL) != ENVELOPE_OK)
        return NULL;
    return op->msgctx;
}

envelope_status envelope_open(envelope_lib *lib, const envelope_decrypt_opts *o, const uint8_t *in,
                              size_t inlen, uint8_t **out, size_t *outlen,
                              envelope_context **msg_context, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL || outlen == NULL || in == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_open: NULL argument");
    *out = NULL;
    *outlen = 0;
    if (msg_context)
        *msg_context = NULL;
    envelope_opener *op = NULL;
    ENV_GUARD(envelope_opener_new(lib, o, &op, err));
    /* The plaintext is never longer than the message. */
    size_t cap = inlen ? inlen : 1;
    uint8_t *buf = OPENSSL_malloc(cap);
    size_t n = 0;
    envelope_status s = buf ? envelope_opener_open(op, in, inlen, buf, cap, &n, err)
                            : env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (s == ENVELOPE_OK && op != NULL && msg_context &&
        env_context_decode(op->ctxbuf, op->ctxlen, msg_context, err) != ENVELOPE_OK)
        s = ENVELOPE_ERR_INTERNAL;
    envelope_opener_free(op);
    if (s != ENVELOPE_OK) {
        OPENSSL_clear_free(buf, cap);
        return s;
    }
    *out = buf;
    *outlen = n;
    return ENVELOPE_OK;
}
