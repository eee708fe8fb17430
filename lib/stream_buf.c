/*
 * stream_buf.c - the streaming encryptor and decryptor with the output in
 * the caller's buffer (envelope_buf_*: for language bindings, which find a
 * callback awkward). Each wraps the sink-based object: its sink appends to
 * a pending buffer, and input is fed in steps of at most one minimum frame
 * (ENVELOPE_FRAME_SIZE_MIN), so that one step releases at most two frames
 * (the end of one and a short final one) and nothing more is fed while
 * output is pending: pending output stays below the header and two
 * frames whatever the input's length.
 *
 * The decryptor's sink receives only plaintext of frames whose tag
 * verified; after a failure the pending bytes are wiped and never handed
 * out.
 *
 * The options' threads is not used here: the workers hand out a slot of
 * many frames at a time, which would break the bound above.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

#define STEP ENVELOPE_FRAME_SIZE_MIN

typedef struct pending {
    uint8_t *buf;
    size_t len, off, cap; /* bytes [off, len) are still to hand out */
    int failed;           /* the sink saw an allocation failure */
} pending;

static int pending_sink(void *arg, const uint8_t *b, size_t n)
{
    pending *p = arg;
    if (p->off == p->len)
        p->off = p->len = 0;
    if (n > p->cap - p->len) {
        size_t want = p->len + n;
        size_t cap = p->cap ? p->cap : 2 * (5 + ENVELOPE_FRAME_SIZE_DEFAULT + ENV_TAG_LEN);
        while (cap < want)
            cap *= 2;
        /* not OPENSSL_realloc: the old bytes may be plaintext, wiped here */
        uint8_t *nb = OPENSSL_malloc(cap);
        if (nb == NULL) {
            p->failed = 1;
            return 1;
        }
        if (p->len > 0)
            memcpy(nb, p->buf, p->len);
        OPENSSL_clear_free(p->buf, p->cap);
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, b, n);
    p->len += n;
    return 0;
}

static size_t drain(pending *p, uint8_t *out, size_t outcap)
{
    if (out == NULL)
        return 0; /* outcap is 0 */
    size_t n = p->len - p->off < outcap ? p->len - p->off : outcap;
    if (n > 0) {
        memcpy(out, p->buf + p->off, n);
        OPENSSL_cleanse(p->buf + p->off, n);
        p->off += n;
    }
    if (p->off == p->len)
        p->off = p->len = 0;
    return n;
}

static void pending_wipe(pending *p)
{
    if (p->buf != NULL)
        OPENSSL_cleanse(p->buf, p->cap);
    p->off = p->len = 0;
}

static void pending_free(pending *p)
{
    OPENSSL_clear_free(p->buf, p->cap);
    memset(p, 0, sizeof(*p));
}

/* What both wrappers share: the pending output, the state of the input. */
typedef struct bufcore {
    pending p;
    int finished; /* the inner object's final returned ENVELOPE_OK */
    envelope_err failure;
} bufcore;

typedef envelope_status (*feed_fn)(void *obj, const uint8_t *in, size_t n, envelope_err *err);
typedef envelope_status (*final_fn)(void *obj, envelope_err *err);

static envelope_status core_fail(bufcore *c, envelope_status s, envelope_err *err)
{
    if (c->p.failed && s == ENVELOPE_ERR_OUTPUT)
        s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    pending_wipe(&c->p);
    c->failure.code = s;
    if (err != NULL)
        c->failure = *err;
    return s;
}

static envelope_status core_refused(const bufcore *c, envelope_err *err)
{
    if (err != NULL)
        *err = c->failure;
    return c->failure.code;
}

static envelope_status core_update(bufcore *c, void *obj, feed_fn feed, const uint8_t *in,
                                   size_t inlen, size_t *consumed, uint8_t *out, size_t outcap,
                                   size_t *written, envelope_err *err)
{
    if (consumed == NULL || written == NULL || (in == NULL && inlen > 0) ||
        (out == NULL && outcap > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "buffer update: NULL argument");
    *consumed = *written = 0;
    if (c->failure.code != ENVELOPE_OK)
        return core_refused(c, err);
    if (c->finished)
        return env_fail(err, ENVELOPE_ERR_STATE, "the input was already finished");
    if (outcap == 0 && c->p.len > c->p.off)
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "%zu bytes of output are waiting; call again with room for them",
                        c->p.len - c->p.off);
    for (;;) {
        *written += drain(&c->p, out != NULL ? out + *written : NULL, outcap - *written);
        if (c->p.len > c->p.off || *consumed == inlen)
            return ENVELOPE_OK;
        size_t n = inlen - *consumed < STEP ? inlen - *consumed : STEP;
        envelope_status s = feed(obj, in + *consumed, n, err);
        if (s != ENVELOPE_OK)
            return core_fail(c, s, err);
        *consumed += n;
    }
}

static envelope_status core_finish(bufcore *c, void *obj, final_fn final, uint8_t *out,
                                   size_t outcap, size_t *written, int *done, envelope_err *err)
{
    if (written == NULL || done == NULL || (out == NULL && outcap > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "buffer finish: NULL argument");
    *written = 0;
    *done = 0;
    if (c->failure.code != ENVELOPE_OK)
        return core_refused(c, err);
    if (outcap == 0 && c->p.len > c->p.off)
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "%zu bytes of output are waiting; call again with room for them",
                        c->p.len - c->p.off);
    *written = drain(&c->p, out, outcap);
    if (!c->finished && c->p.len == c->p.off) {
        envelope_status s = final(obj, err);
        if (s != ENVELOPE_OK)
            return core_fail(c, s, err);
        c->finished = 1;
        *written += drain(&c->p, out != NULL ? out + *written : NULL, outcap - *written);
    }
    *done = c->finished && c->p.len == c->p.off;
    return ENVELOPE_OK;
}

/* ---- encryptor ---- */
struct envelope_buf_encryptor {
    bufcore c;
    envelope_encryptor *e;
};

static envelope_status enc_feed(void *obj, const uint8_t *in, size_t n, envelope_err *err)
{
    return envelope_encryptor_update(obj, in, n, err);
}

static envelope_status enc_final(void *obj, envelope_err *err)
{
    return envelope_encryptor_final(obj, err);
}

envelope_status envelope_buf_encryptor_new(envelope_lib *lib, const envelope_encrypt_opts *o,
                                           envelope_buf_encryptor **out, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_encryptor_new: NULL argument");
    *out = NULL;
    envelope_buf_encryptor *b = OPENSSL_zalloc(sizeof(*b));
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_encrypt_opts oc;
    envelope_status s = env_encrypt_opts_get(o, &oc, err);
    oc.struct_size = sizeof(oc);
    oc.threads = 0;
    if (s == ENVELOPE_OK)
        s = envelope_encryptor_new(lib, &oc, pending_sink, &b->c.p, &b->e, err);
    if (s != ENVELOPE_OK) {
        envelope_buf_encryptor_free(b);
        return s;
    }
    *out = b;
    return ENVELOPE_OK;
}

envelope_status envelope_buf_encryptor_update(envelope_buf_encryptor *b, const uint8_t *in,
                                              size_t inlen, size_t *consumed, uint8_t *out,
                                              size_t outcap, size_t *written, envelope_err *err)
{
    env_err_clear(err);
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_encryptor_update: NULL argument");
    return core_update(&b->c, b->e, enc_feed, in, inlen, consumed, out, outcap, written, err);
}

envelope_status envelope_buf_encryptor_finish(envelope_buf_encryptor *b, uint8_t *out,
                                              size_t outcap, size_t *written, int *done,
                                              envelope_err *err)
{
    env_err_clear(err);
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_encryptor_finish: NULL argument");
    return core_finish(&b->c, b->e, enc_final, out, outcap, written, done, err);
}

void envelope_buf_encryptor_free(envelope_buf_encryptor *b)
{
    if (b == NULL)
        return;
    envelope_encryptor_free(b->e);
    pending_free(&b->c.p);
    OPENSSL_clear_free(b, sizeof(*b));
}

/* ---- decryptor ---- */
struct envelope_buf_decryptor {
    bufcore c;
    envelope_decryptor *d;
};

static envelope_status dec_feed(void *obj, const uint8_t *in, size_t n, envelope_err *err)
{
    return envelope_decryptor_update(obj, in, n, err);
}

static envelope_status dec_final(void *obj, envelope_err *err)
{
    return envelope_decryptor_final(obj, err);
}

envelope_status envelope_buf_decryptor_new(envelope_lib *lib, const envelope_decrypt_opts *o,
                                           envelope_buf_decryptor **out, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_decryptor_new: NULL argument");
    *out = NULL;
    envelope_buf_decryptor *b = OPENSSL_zalloc(sizeof(*b));
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_decrypt_opts oc;
    envelope_status s = env_decrypt_opts_get(o, &oc, err);
    oc.struct_size = sizeof(oc);
    oc.threads = 0;
    if (s == ENVELOPE_OK)
        s = envelope_decryptor_new(lib, &oc, pending_sink, &b->c.p, &b->d, err);
    if (s != ENVELOPE_OK) {
        envelope_buf_decryptor_free(b);
        return s;
    }
    *out = b;
    return ENVELOPE_OK;
}

envelope_status envelope_buf_decryptor_update(envelope_buf_decryptor *b, const uint8_t *in,
                                              size_t inlen, size_t *consumed, uint8_t *out,
                                              size_t outcap, size_t *written, envelope_err *err)
{
    env_err_clear(err);
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_decryptor_update: NULL argument");
    return core_update(&b->c, b->d, dec_feed, in, inlen, consumed, out, outcap, written, err);
}

envelope_status envelope_buf_decryptor_finish(envelope_buf_decryptor *b, uint8_t *out,
                                              size_t outcap, size_t *written, int *done,
                                              envelope_err *err)
{
    env_err_clear(err);
    if (b == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_buf_decryptor_finish: NULL argument");
    return core_finish(&b->c, b->d, dec_final, out, outcap, written, done, err);
}

const envelope_context *envelope_buf_decryptor_context(const envelope_buf_decryptor *b)
{
    return b != NULL ? envelope_decryptor_context(b->d) : NULL;
}

void envelope_buf_decryptor_free(envelope_buf_decryptor *b)
{
    if (b == NULL)
        return;
    envelope_decryptor_free(b->d);
    pending_free(&b->c.p);
    OPENSSL_clear_free(b, sizeof(*b));
}
