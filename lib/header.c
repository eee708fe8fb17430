/*
 * header.c - the message header parser (docs/FORMAT.md §3 and §4). Reads
 * like the spec, through the bounded reader; every field is checked before
 * use and every limit has its own error. The fuzz target
 * tests/fuzz/fuzz_header.c drives env_header_parse directly.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"

#define SHORT(r)                                                                                   \
    do {                                                                                           \
        if (need != NULL)                                                                          \
            *need = (r)->need;                                                                     \
        return env_fail(err, ENVELOPE_ERR_TRUNCATED, "input ends inside the message header");      \
    } while (0)

envelope_status env_parse_context(env_rd *r, env_header *h, size_t *need, envelope_err *err)
{
    size_t start = r->off;
    uint16_t count;
    if (!env_rd_u16(r, &count))
        SHORT(r);
    if (count > ENVELOPE_MAX_CONTEXT_PAIRS)
        return env_fail(err, ENVELOPE_ERR_CONTEXT_LIMIT,
                        "message context has %u pairs; the limit is %d", count,
                        ENVELOPE_MAX_CONTEXT_PAIRS);
    const uint8_t *prev = NULL;
    size_t prevlen = 0, total = 0;
    for (uint16_t i = 0; i < count; i++) {
        uint16_t kl, vl;
        const uint8_t *k, *v;
        if (!env_rd_u16(r, &kl))
            SHORT(r);
        if (kl == 0 || kl > ENVELOPE_MAX_CONTEXT_KEY)
            return env_fail(err, ENVELOPE_ERR_CONTEXT_LIMIT,
                            "message context key %u has length %u (allowed 1..%d)", i, kl,
                            ENVELOPE_MAX_CONTEXT_KEY);
        if ((k = env_rd_bytes(r, kl)) == NULL || !env_rd_u16(r, &vl))
            SHORT(r);
        if (vl > ENVELOPE_MAX_CONTEXT_VALUE)
            return env_fail(err, ENVELOPE_ERR_CONTEXT_LIMIT,
                            "message context value %u has length %u (limit %d)", i, vl,
                            ENVELOPE_MAX_CONTEXT_VALUE);
        total += 4u + kl + vl;
        if (total > ENVELOPE_MAX_CONTEXT_BYTES)
            return env_fail(err, ENVELOPE_ERR_CONTEXT_LIMIT, "message context is over %d bytes",
                            ENVELOPE_MAX_CONTEXT_BYTES);
        if ((v = env_rd_bytes(r, vl)) == NULL)
            SHORT(r);
        if (!env_utf8_valid(k, kl) || memchr(k, '=', kl) != NULL || !env_utf8_valid(v, vl))
            return env_fail(
                err, ENVELOPE_ERR_CONTEXT_ENCODING,
                "message context pair %u is not valid UTF-8 (or has NUL or '=' in the key)", i);
        if (prev != NULL) {
            size_t m = prevlen < kl ? prevlen : kl;
            int c = m ? memcmp(prev, k, m) : 0;
            if (c > 0 || (c == 0 && prevlen >= kl))
                return env_fail(err, ENVELOPE_ERR_CONTEXT_ENCODING,
                                "message context keys are not strictly sorted (pair %u)", i);
        }
        prev = k;
        prevlen = kl;
    }
    h->ctx_enc = r->p + start;
    h->ctx_enc_len = r->off - start;
    return ENVELOPE_OK;
}

static envelope_status parse_edk(env_rd *r, env_edk *e, size_t i, size_t *need, envelope_err *err)
{
    uint8_t kind, reserved, idlen;
    uint16_t ulen, wlen;
    if (!env_rd_u8(r, &kind))
        SHORT(r);
    if (kind != ENVELOPE_WRAP_RSA_OAEP_SHA256 && kind != ENVELOPE_WRAP_PROVIDER_AEAD)
        return env_fail(
            err, ENVELOPE_ERR_WRAP_KIND,
            "EDK %zu has unknown wrap kind %u (known: 1 rsa-oaep-sha256, 2 provider-aead)", i + 1,
            kind);
    if (!env_rd_u8(r, &reserved))
        SHORT(r);
    if (reserved != 0)
        return env_fail(err, ENVELOPE_ERR_RESERVED, "EDK %zu has its reserved byte set", i + 1);
    if (!env_rd_u16(r, &ulen))
        SHORT(r);
    if (ulen == 0 || ulen > ENVELOPE_MAX_KEK_URI)
        return env_fail(err, ENVELOPE_ERR_EDK_FIELD,
                        "EDK %zu KEK reference length %u (allowed 1..%d)", i + 1, ulen,
                        ENVELOPE_MAX_KEK_URI);
    if ((e->uri = env_rd_bytes(r, ulen)) == NULL || !env_rd_u8(r, &idlen))
        SHORT(r);
    /* Printable ASCII only (FORMAT.md §4.2): a reference is shown to people
     * (inspect) and must not carry terminal controls or hide text after a NUL. */
    for (size_t j = 0; j < ulen; j++)
        if (e->uri[j] < 0x21 || e->uri[j] > 0x7e)
            return env_fail(err, ENVELOPE_ERR_EDK_FIELD,
                            "EDK %zu KEK reference has a byte outside printable ASCII (0x%02x)",
                            i + 1, e->uri[j]);
    if (idlen > ENVELOPE_MAX_KEY_ID)
        return env_fail(err, ENVELOPE_ERR_EDK_FIELD, "EDK %zu key id length %u (limit %d)", i + 1,
                        idlen, ENVELOPE_MAX_KEY_ID);
    if ((e->key_id = env_rd_bytes(r, idlen)) == NULL || !env_rd_u16(r, &wlen))
        SHORT(r);
    if (wlen == 0 || wlen > ENVELOPE_MAX_WRAPPED)
        return env_fail(err, ENVELOPE_ERR_EDK_FIELD,
                        "EDK %zu wrapped key length %u (allowed 1..%d)", i + 1, wlen,
                        ENVELOPE_MAX_WRAPPED);
    if ((e->wrapped = env_rd_bytes(r, wlen)) == NULL)
        SHORT(r);
    e->kind = kind;
    e->uri_len = ulen;
    e->key_id_len = idlen;
    e->wrapped_len = wlen;
    return ENVELOPE_OK;
}

envelope_status env_header_parse(const uint8_t *buf, size_t len, env_header *h, size_t *need,
                                 envelope_err *err)
{
    env_rd r;
    env_rd_init(&r, buf, len);
    memset(h, 0, sizeof(*h));
    const uint8_t *magic;
    uint8_t flags;
    uint16_t ext_len;

    if ((magic = env_rd_bytes(&r, 4)) == NULL)
        SHORT(&r);
    if (memcmp(magic, ENV_MAGIC, 4) != 0)
        return env_fail(err, ENVELOPE_ERR_BAD_MAGIC, "not an envelope message (bad magic)");
    if (!env_rd_u8(&r, &h->version))
        SHORT(&r);
    if (h->version != ENVELOPE_VERSION)
        return env_fail(err, ENVELOPE_ERR_VERSION,
                        "message format version %u is not supported (this library reads %d)",
                        h->version, ENVELOPE_VERSION);
    if (!env_rd_u16(&r, &h->suite))
        SHORT(&r);
    if (h->suite != ENVELOPE_SUITE_AES256GCM_HKDFSHA512_COMMIT)
        return env_fail(err, ENVELOPE_ERR_SUITE, "unknown suite id 0x%04x", h->suite);
    if (!env_rd_u8(&r, &flags))
        SHORT(&r);
    if ((flags & ~ENVELOPE_FLAG_KEK_POLICY_ANY) != 0)
        return env_fail(err, ENVELOPE_ERR_RESERVED, "reserved header flags 0x%02x are set",
                        flags & ~ENVELOPE_FLAG_KEK_POLICY_ANY);
    h->flags = flags;
    if ((h->message_id = env_rd_bytes(&r, ENVELOPE_MESSAGE_ID_BYTES)) == NULL ||
        !env_rd_u32(&r, &h->frame_size))
        SHORT(&r);
    if (h->frame_size < ENVELOPE_FRAME_SIZE_MIN || h->frame_size > ENVELOPE_FRAME_SIZE_MAX)
        return env_fail(err, ENVELOPE_ERR_HDR_FRAME_SIZE, "frame size %u is outside %u..%u",
                        h->frame_size, ENVELOPE_FRAME_SIZE_MIN, ENVELOPE_FRAME_SIZE_MAX);
    ENV_GUARD(env_parse_context(&r, h, need, err));
    if (!env_rd_u16(&r, &ext_len))
        SHORT(&r);
    if (ext_len != 0)
        return env_fail(err, ENVELOPE_ERR_RESERVED,
                        "header extensions (%u bytes) are reserved and must be empty", ext_len);
    if ((h->commitment = env_rd_bytes(&r, ENV_COMMIT_LEN)) == NULL)
        SHORT(&r);
    h->body = buf;
    h->body_len = r.off;
    if ((h->tag = env_rd_bytes(&r, ENV_TAG_LEN)) == NULL)
        SHORT(&r);
    ENV_GUARD(env_parse_edk_list(&r, h, need, err));
    h->total_len = r.off;
    return ENVELOPE_OK;
}

envelope_status env_parse_edk_list(env_rd *r, env_header *h, size_t *need, envelope_err *err)
{
    uint8_t edk_count;
    size_t list_start = r->off;
    if (!env_rd_u8(r, &edk_count))
        SHORT(r);
    if (edk_count == 0 || edk_count > ENVELOPE_MAX_EDKS)
        return env_fail(err, ENVELOPE_ERR_EDK_COUNT, "message has %u EDKs (allowed 1..%d)",
                        edk_count, ENVELOPE_MAX_EDKS);
    for (size_t i = 0; i < edk_count; i++)
        ENV_GUARD(parse_edk(r, &h->edks[i], i, need, err));
    h->edk_count = edk_count;
    h->edk_list = r->p + list_start;
    h->edk_list_len = r->off - list_start;
    return ENVELOPE_OK;
}

envelope_status env_hdracc_init(env_hdracc *a, envelope_err *err)
{
    memset(a, 0, sizeof(*a));
    a->buf = OPENSSL_malloc(ENV_MAX_HEADER);
    a->need = 4; /* the magic: a short input that is no message says so, as in one shot */
    return a->buf ? ENVELOPE_OK : env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
}

/* Takes only as many bytes as the parser asked for, so nothing past the
 * header is ever copied into the header buffer. */
envelope_status env_hdracc_feed(env_hdracc *a, const uint8_t **in, size_t *inlen, envelope_err *err)
{
    for (;;) {
        if (a->len < a->need) {
            size_t take = a->need - a->len;
            if (take > *inlen)
                take = *inlen;
            if (take > 0) {
                memcpy(a->buf + a->len, *in, take);
                a->len += take;
                *in += take;
                *inlen -= take;
            }
            if (a->len < a->need)
                return ENVELOPE_ERR_TRUNCATED;
        }
        size_t need = 0;
        envelope_status s = env_header_parse(a->buf, a->len, &a->h, &need, err);
        if (s != ENVELOPE_ERR_TRUNCATED)
            return s;
        if (need <= a->len || need > ENV_MAX_HEADER)
            return env_fail(err, ENVELOPE_ERR_INTERNAL, "header parser made no progress");
        a->need = need;
    }
}

void env_hdracc_cleanup(env_hdracc *a)
{
    OPENSSL_free(a->buf);
    a->buf = NULL;
}
