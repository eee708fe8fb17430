/*
 * seal.c - writing messages: the header template (wrapped once per DEK),
 * the record sealer that reuses it, and the one-shot envelope_seal.
 *
 * A sealer's DEK serves many records; each record derives its own data key
 * and commitment from a fresh 256-bit message id, and the EDKs stay valid
 * because the wrap AAD binds the suite, the context and the EDK's own KEK
 * reference, not the message id (docs/FORMAT.md §5.3).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "internal.h"

static envelope_status check_opts(const envelope_encrypt_opts *o, size_t *fs, envelope_err *err)
{
    if (o->nkeks == 0 || o->nkeks > ENVELOPE_MAX_EDKS || o->keks == NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_COUNT,
                        "encrypting needs 1..%d KEKs (got %zu); name them with --kek",
                        ENVELOPE_MAX_EDKS, o->nkeks);
    for (size_t i = 0; i < o->nkeks; i++)
        if (o->keks[i] == NULL)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK %zu is NULL", i + 1);
    if (o->kek_policy != ENVELOPE_KEK_POLICY_ALL && o->kek_policy != ENVELOPE_KEK_POLICY_ANY)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "unknown KEK policy %d", o->kek_policy);
    *fs = o->frame_size ? o->frame_size : ENVELOPE_FRAME_SIZE_DEFAULT;
    if (*fs < ENVELOPE_FRAME_SIZE_MIN || *fs > ENVELOPE_FRAME_SIZE_MAX)
        return env_fail(err, ENVELOPE_ERR_FRAME_SIZE, "frame size %zu is outside %u..%u bytes", *fs,
                        ENVELOPE_FRAME_SIZE_MIN, ENVELOPE_FRAME_SIZE_MAX);
    return ENVELOPE_OK;
}

envelope_status env_hdrtmpl_build(env_hdrtmpl *t, env_crypto *c, const envelope_encrypt_opts *o,
                                  uint64_t reuse_bytes, envelope_err *err)
{
    size_t fs = 0;
    envelope_encrypt_opts oc;
    memset(t, 0, sizeof(*t));
    ENV_GUARD(env_encrypt_opts_get(o, &oc, err));
    o = &oc;
    ENV_GUARD(check_opts(o, &fs, err));
    t->frame_size = (uint32_t)fs;
    size_t clen = env_context_encoded_len(o->context);
    t->mid_len = 4 + clen + 2;
    size_t cap = 1;
    for (size_t i = 0; i < o->nkeks; i++)
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): check_opts saw every KEK
        cap += 1 + 1 + 2 + strlen(o->keks[i]->ref) + 1 + o->keks[i]->key_id_len + 2 +
               ENVELOPE_MAX_WRAPPED;
    t->mid = OPENSSL_malloc(t->mid_len);
    t->edks = OPENSSL_malloc(cap);
    if (t->mid == NULL || t->edks == NULL) {
        env_hdrtmpl_cleanup(t);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    if (o->skipped != NULL)
        *o->skipped = 0;
    t->flags = o->kek_policy == ENVELOPE_KEK_POLICY_ANY ? ENVELOPE_FLAG_KEK_POLICY_ANY : 0;
    env_put_u32(t->mid, t->frame_size);
    env_context_encode(o->context, t->mid + 4);
    t->mid[4 + clen] = 0; /* extensions length: reserved, zero */
    t->mid[5 + clen] = 0;

    /* DEK reuse (dek_reuse.c): the DEK and EDK list of an earlier message
     * with exactly this context and these KEKs, while its window lasts */
    if (reuse_bytes != ENV_NO_REUSE && env_reuse_name(c->lib, o, t->mid + 4, clen, t->reuse_name)) {
        t->reusable = 1;
        uint8_t *edks = NULL;
        size_t elen = 0;
        if (env_reuse_take(c->lib, t->reuse_name, reuse_bytes, c->s->dek, &edks, &elen)) {
            OPENSSL_free(t->edks);
            t->edks = edks;
            t->edks_len = elen;
            return ENVELOPE_OK;
        }
    }
    if (RAND_priv_bytes_ex(c->lib->libctx, c->s->dek, ENVELOPE_DEK_BYTES, 256) != 1) {
        env_hdrtmpl_cleanup(t);
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "random generator failed");
    }
    env_wr w;
    env_wr_init(&w, t->edks, cap);
    env_wr_u8(&w, (uint8_t)o->nkeks); /* rewritten below if a KEK is left out */
    size_t wrapped_count = 0;
    envelope_err first = {0};
    for (size_t i = 0; i < o->nkeks; i++) {
        const envelope_kek *k = o->keks[i];
        size_t ulen = strlen(k->ref), wlen = 0;
        uint8_t aad[32], wrapped[ENVELOPE_MAX_WRAPPED];
        envelope_err e = {0};
        envelope_status s = env_wrap_aad(c->lib, ENVELOPE_SUITE_AES256GCM_HKDFSHA512_COMMIT,
                                         t->mid + 4, clen, k->kind, (const uint8_t *)k->ref, ulen,
                                         k->key_id, k->key_id_len, aad, &e);
        if (s == ENVELOPE_OK)
            s = env_kek_wrap(k, aad, c->s->dek, wrapped, &wlen, sizeof(wrapped), &e);
        if (s == ENVELOPE_ERR_BACKEND && o->kek_policy == ENVELOPE_KEK_POLICY_ANY) {
            /* its home is down: left out, which the header's flag admits */
            if (first.code == ENVELOPE_OK)
                first = e;
            if (o->skipped != NULL)
                *o->skipped |= UINT32_C(1) << i;
            continue;
        }
        if (s != ENVELOPE_OK) {
            if (err != NULL)
                *err = e;
            env_hdrtmpl_cleanup(t);
            return s;
        }
        wrapped_count++;
        env_wr_u8(&w, (uint8_t)k->kind);
        env_wr_u8(&w, 0);
        env_wr_u16(&w, (uint16_t)ulen);
        env_wr_bytes(&w, k->ref, ulen);
        env_wr_u8(&w, (uint8_t)k->key_id_len);
        env_wr_bytes(&w, k->key_id, k->key_id_len);
        env_wr_u16(&w, (uint16_t)wlen);
        env_wr_bytes(&w, wrapped, wlen);
    }
    if (w.overflow) {
        env_hdrtmpl_cleanup(t);
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "EDK list overflow");
    }
    if (wrapped_count == 0) { /* only under ENVELOPE_KEK_POLICY_ANY */
        if (err != NULL)
            *err = first;
        env_hdrtmpl_cleanup(t);
        return first.code;
    }
    t->edks[0] = (uint8_t)wrapped_count;
    t->edks_len = w.off;
    /* a list that lacks a KEK is never handed to later messages */
    if (wrapped_count < o->nkeks)
        t->reusable = 0;
    if (t->reusable)
        env_reuse_put(c->lib, t->reuse_name, reuse_bytes, c->s->dek, t->edks, t->edks_len);
    return ENVELOPE_OK;
}

size_t env_hdrtmpl_len(const env_hdrtmpl *t)
{
    return ENV_PREFIX_LEN + ENVELOPE_MESSAGE_ID_BYTES + t->mid_len + ENV_COMMIT_LEN + ENV_TAG_LEN +
           t->edks_len;
}

envelope_status env_hdrtmpl_write(const env_hdrtmpl *t, env_crypto *c, const uint8_t *message_id,
                                  uint8_t *out, envelope_err *err)
{
    static const uint8_t prefix[ENV_PREFIX_LEN] = {'E',  'N',  'V', 'L', ENVELOPE_VERSION,
                                                   0x00, 0x01, 0x00};
    ENV_GUARD(env_crypto_derive(c, message_id, err));
    size_t off = 0;
    memcpy(out, prefix, sizeof(prefix));
    out[ENV_PREFIX_LEN - 1] = t->flags;
    off += sizeof(prefix);
    memcpy(out + off, message_id, ENVELOPE_MESSAGE_ID_BYTES);
    off += ENVELOPE_MESSAGE_ID_BYTES;
    memcpy(out + off, t->mid, t->mid_len);
    off += t->mid_len;
    memcpy(out + off, c->s->okm + 32, ENV_COMMIT_LEN);
    off += ENV_COMMIT_LEN;
    ENV_GUARD(env_crypto_header_tag(c, out, off, out + off, err));
    off += ENV_TAG_LEN;
    memcpy(out + off, t->edks, t->edks_len);
    return ENVELOPE_OK;
}

void env_hdrtmpl_cleanup(env_hdrtmpl *t)
{
    OPENSSL_free(t->mid);
    OPENSSL_free(t->edks);
    memset(t, 0, sizeof(*t));
}

/* Bytes of the frames for len bytes of plaintext (FORMAT.md §4.3); 0 if
 * the frame count would pass the limit. */
size_t env_frames_len(size_t len, size_t fs)
{
    if (fs == 0)
        return 0;
    size_t regular = len == 0 ? 0 : (len - 1) / fs;
    if ((uint64_t)regular + 1 > ENVELOPE_MAX_FRAMES)
        return 0;
    size_t last = len - regular * fs;
    size_t per = 1 + fs + ENV_TAG_LEN;
    if (regular > (SIZE_MAX - 64 - last) / per)
        return 0;
    return regular * per + 1 + 4 + last + ENV_TAG_LEN;
}

struct envelope_sealer {
    envelope_lib *lib;
    env_crypto c;
    env_hdrtmpl t;
    env_idpool ids;
    uint64_t max, used;
};

static envelope_status sealer_new(envelope_lib *lib, const envelope_encrypt_opts *o,
                                  uint64_t max_messages, uint64_t reuse_bytes,
                                  envelope_sealer **out, envelope_err *err)
{
    if (lib == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_sealer_new: NULL argument");
    *out = NULL;
    envelope_sealer *s = OPENSSL_zalloc(sizeof(*s));
    if (s == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    s->lib = lib;
    s->max = max_messages ? max_messages : (1ull << 32);
    envelope_status st = env_crypto_init(&s->c, lib, ENV_KEY_ENC, err);
    if (st == ENVELOPE_OK)
        st = env_hdrtmpl_build(&s->t, &s->c, o, reuse_bytes, err);
    if (st != ENVELOPE_OK) {
        envelope_sealer_free(s);
        return st;
    }
    *out = s;
    return ENVELOPE_OK;
}

envelope_status envelope_sealer_new(envelope_lib *lib, const envelope_encrypt_opts *o,
                                    uint64_t max_messages, envelope_sealer **out, envelope_err *err)
{
    env_err_clear(err);
    /* a sealer is already one DEK for many records: its own, never shared */
    return sealer_new(lib, o, max_messages, ENV_NO_REUSE, out, err);
}

size_t envelope_sealer_sealed_size(const envelope_sealer *s, size_t inlen)
{
    if (s == NULL)
        return 0;
    size_t f = env_frames_len(inlen, s->t.frame_size), h = env_hdrtmpl_len(&s->t);
    return f == 0 || f > SIZE_MAX - h ? 0 : f + h;
}

envelope_status env_seal_frames(env_crypto *c, const uint8_t *id, size_t fs, const uint8_t *in,
                                size_t inlen, uint8_t *out, envelope_err *err)
{
    uint64_t no = 1;
    size_t off = 0;
    while (inlen - off > fs) {
        out[0] = ENV_FRAME_REGULAR;
        ENV_GUARD(env_frame_seal(c, id, no++, 0, in + off, fs, out + 1, out + 1 + fs, err));
        out += 1 + fs + ENV_TAG_LEN;
        off += fs;
    }
    size_t last = inlen - off;
    out[0] = ENV_FRAME_FINAL;
    env_put_u32(out + 1, (uint32_t)last);
    return env_frame_seal(c, id, no, 1, in + off, last, out + 5, out + 5 + last, err);
}

envelope_status envelope_sealer_seal(envelope_sealer *s, const uint8_t *in, size_t inlen,
                                     uint8_t *out, size_t outsize, size_t *outlen,
                                     envelope_err *err)
{
    env_err_clear(err);
    if (s == NULL || out == NULL || outlen == NULL || (in == NULL && inlen > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_sealer_seal: NULL argument");
    if (s->used >= s->max)
        return env_fail(err, ENVELOPE_ERR_SEALER_EXHAUSTED,
                        "this sealer's DEK has sealed its %llu messages; make a new sealer",
                        (unsigned long long)s->max);
    size_t need = envelope_sealer_sealed_size(s, inlen);
    if (need == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "record too large");
    if (outsize < need) {
        *outlen = need; /* the size to allocate */
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "output buffer has %zu bytes, the message needs %zu", outsize, need);
    }
    uint8_t id[ENVELOPE_MESSAGE_ID_BYTES];
    size_t hl = env_hdrtmpl_len(&s->t);
    envelope_status st = env_idpool_next(&s->ids, s->lib, id, err);
    if (st == ENVELOPE_OK)
        st = env_hdrtmpl_write(&s->t, &s->c, id, out, err);
    if (st == ENVELOPE_OK)
        st = env_seal_frames(&s->c, id, s->t.frame_size, in, inlen, out + hl, err);
    if (st != ENVELOPE_OK) {
        OPENSSL_cleanse(out, need);
        return st;
    }
    s->used++;
    *outlen = need;
    return ENVELOPE_OK;
}

void envelope_sealer_free(envelope_sealer *s)
{
    if (s == NULL)
        return;
    env_crypto_cleanup(&s->c);
    env_hdrtmpl_cleanup(&s->t);
    OPENSSL_clear_free(s, sizeof(*s));
}

envelope_status envelope_seal(envelope_lib *lib, const envelope_encrypt_opts *o, const uint8_t *in,
                              size_t inlen, uint8_t **out, size_t *outlen, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL || outlen == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_seal: NULL argument");
    *out = NULL;
    *outlen = 0;
    envelope_sealer *s = NULL;
    ENV_GUARD(sealer_new(lib, o, 1, inlen, &s, err));
    size_t need = envelope_sealer_sealed_size(s, inlen);
    uint8_t *buf = need ? OPENSSL_malloc(need) : NULL;
    envelope_status st = buf ? envelope_sealer_seal(s, in, inlen, buf, need, outlen, err)
                             : env_fail(err, need ? ENVELOPE_ERR_NOMEM : ENVELOPE_ERR_ARGUMENT,
                                        need ? "out of memory" : "record too large");
    envelope_sealer_free(s);
    if (st != ENVELOPE_OK) {
        OPENSSL_free(buf);
        return st;
    }
    *out = buf;
    return ENVELOPE_OK;
}

void envelope_buffer_free(uint8_t *buf, size_t len)
{
    OPENSSL_clear_free(buf, len);
}
