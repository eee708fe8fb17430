/*
 * decrypt_stream.c - the streaming decryptor: constant memory (the header,
 * then one frame), any length. A frame's plaintext reaches the sink only
 * after its tag verified; the stream is complete only when
 * envelope_decryptor_final says so (final frame seen, nothing after it).
 * Whole frames found in the caller's buffer are decrypted in place.
 * With threads > 1 in the options the frames are opened on worker threads
 * once the header has verified (lib/decrypt_par.c), with the same release
 * rule: in order, each frame only after its tag and every earlier one's.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"
#include "workers.h"

enum { DEC_HEADER, DEC_FRAMES, DEC_DONE, DEC_CLOSED, DEC_FAILED };

struct envelope_decryptor {
    envelope_lib *lib;
    env_crypto c;
    env_decrypt o; /* KEKs and expected context */
    envelope_sink_fn sink;
    void *arg;
    env_hdracc acc;
    envelope_context *msgctx;
    uint8_t id[ENVELOPE_MESSAGE_ID_BYTES];
    size_t fs;
    /* A frame split between two inputs: its prefix gathered, its
     * ciphertext decrypted piece by piece into pbuf (released only after
     * the tag), its tag gathered. */
    uint8_t fhdr[5]; /* type byte, and a final frame's length */
    uint8_t ftag[ENV_TAG_LEN];
    size_t flen;    /* bytes of the frame seen */
    size_t foff;    /* prefix length (1 or 5), once known */
    size_t fctlen;  /* its ciphertext length */
    size_t ftarget; /* its whole length */
    int fbegun;     /* the GCM context is set up for it */
    uint8_t *pbuf;  /* one frame of verified plaintext */
    uint64_t no;
    int state;
    envelope_err failure;
    size_t threads; /* > 1: frames on workers, par made after the header */
    env_pdec *par;
    uint8_t *lend; /* envelope_decryptor_buffer's, until par lends slots */
};

envelope_status envelope_decryptor_new(envelope_lib *lib, const envelope_decrypt_opts *o,
                                       envelope_sink_fn sink, void *arg, envelope_decryptor **out,
                                       envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || sink == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_decryptor_new: NULL argument");
    *out = NULL;
    envelope_decryptor *d = OPENSSL_zalloc(sizeof(*d));
    if (d == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    d->lib = lib;
    d->sink = sink;
    d->arg = arg;
    d->no = 1;
    envelope_status s = env_decrypt_take(&d->o, o, err);
    d->threads = d->o.threads;
    if (s == ENVELOPE_OK)
        s = env_crypto_init(&d->c, lib, ENV_KEY_DEC, err);
    if (s == ENVELOPE_OK)
        s = env_hdracc_init(&d->acc, err);
    if (s != ENVELOPE_OK) {
        envelope_decryptor_free(d);
        return s;
    }
    *out = d;
    return ENVELOPE_OK;
}

static envelope_status on_header(envelope_decryptor *d, envelope_err *err)
{
    const env_header *h = &d->acc.h;
    ENV_GUARD(env_context_check(d->o.expected, h->ctx_enc, h->ctx_enc_len, err));
    ENV_GUARD(env_unwrap_header(&d->c, d->o.keks, d->o.nkeks, h, err));
    ENV_GUARD(env_context_decode(h->ctx_enc, h->ctx_enc_len, &d->msgctx, err));
    memcpy(d->id, h->message_id, sizeof(d->id));
    d->fs = h->frame_size;
    d->pbuf = OPENSSL_malloc(d->fs);
    if (d->pbuf == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    env_hdracc_cleanup(&d->acc);
    d->state = DEC_FRAMES;
    if (d->threads > 1)
        return env_pdec_new(d->lib, &d->c, d->id, d->fs, d->threads, d->sink, d->arg, &d->par, err);
    return ENVELOPE_OK;
}

/* How long the frame starting at p is, from the have >= 1 bytes known;
 * *target = 5 while a final frame's length is still unknown. */
static envelope_status frame_target(const envelope_decryptor *d, const uint8_t *p, size_t have,
                                    size_t *target, envelope_err *err)
{
    if (d->no > ENVELOPE_MAX_FRAMES)
        return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES, "message has more than 2^32-1 frames");
    if (p[0] == ENV_FRAME_REGULAR) {
        *target = 1 + d->fs + ENV_TAG_LEN;
        return ENVELOPE_OK;
    }
    if (p[0] != ENV_FRAME_FINAL)
        return env_fail(err, ENVELOPE_ERR_FRAME_TYPE, "frame %llu has unknown type 0x%02x",
                        (unsigned long long)d->no, p[0]);
    if (have < 5) {
        *target = 5;
        return ENVELOPE_OK;
    }
    uint32_t len = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
    if (len > d->fs || (len == 0 && d->no != 1))
        return env_fail(err, ENVELOPE_ERR_FRAME_LENGTH,
                        "final frame length %u is not allowed (1..%zu, or 0 for an empty message)",
                        len, d->fs);
    *target = 5 + (size_t)len + ENV_TAG_LEN;
    return ENVELOPE_OK;
}

static envelope_status open_frame(envelope_decryptor *d, const uint8_t *p, size_t n,
                                  envelope_err *err)
{
    int final = p[0] == ENV_FRAME_FINAL;
    size_t off = final ? 5 : 1, len = n - off - ENV_TAG_LEN;
    ENV_GUARD(
        env_frame_open(&d->c, d->id, d->no, final, p + off, len, p + off + len, d->pbuf, err));
    d->no++;
    if (final)
        d->state = DEC_DONE;
    if (len > 0 && d->sink(d->arg, d->pbuf, len) != 0)
        return env_fail(err, ENVELOPE_ERR_OUTPUT, "writing the plaintext failed");
    return ENVELOPE_OK;
}

/* The part of a split frame in *in (all of it, or up to the frame's end):
 * the prefix, then ciphertext straight from the input into pbuf (no
 * gathering copy), then the tag; at the frame's end the tag decides and
 * the plaintext is released, as open_frame does. */
static envelope_status partial(envelope_decryptor *d, const uint8_t **in, size_t *inlen,
                               envelope_err *err)
{
    size_t target = 0;
    while (!d->fbegun) {
        if (d->flen == 0 || (d->fhdr[0] == ENV_FRAME_FINAL && d->flen < 5)) {
            if (*inlen == 0)
                return ENVELOPE_OK;
            d->fhdr[d->flen++] = **in;
            (*in)++;
            (*inlen)--;
        }
        ENV_GUARD(frame_target(d, d->fhdr, d->flen, &target, err));
        d->foff = d->fhdr[0] == ENV_FRAME_FINAL ? 5 : 1;
        if (d->flen < d->foff)
            continue;
        d->ftarget = target;
        d->fctlen = target - d->foff - ENV_TAG_LEN;
        ENV_GUARD(env_frame_open_begin(&d->c, d->id, d->no, d->foff == 5, d->fctlen, err));
        d->fbegun = 1;
    }
    size_t ct_end = d->foff + d->fctlen;
    if (d->flen < ct_end && *inlen != 0) {
        size_t take = ct_end - d->flen < *inlen ? ct_end - d->flen : *inlen;
        ENV_GUARD(env_frame_open_part(&d->c, *in, take, d->pbuf + (d->flen - d->foff), err));
        d->flen += take;
        *in += take;
        *inlen -= take;
    }
    if (d->flen >= ct_end && d->flen < d->ftarget && *inlen != 0) {
        size_t take = d->ftarget - d->flen < *inlen ? d->ftarget - d->flen : *inlen;
        memcpy(d->ftag + (d->flen - ct_end), *in, take);
        d->flen += take;
        *in += take;
        *inlen -= take;
    }
    if (d->flen < d->ftarget)
        return ENVELOPE_OK; /* all input used */
    int final = d->foff == 5;
    size_t len = d->fctlen;
    d->flen = 0;
    d->fbegun = 0;
    ENV_GUARD(env_frame_open_end(&d->c, d->ftag, d->pbuf, len, err));
    d->no++;
    if (final)
        d->state = DEC_DONE;
    if (len > 0 && d->sink(d->arg, d->pbuf, len) != 0)
        return env_fail(err, ENVELOPE_ERR_OUTPUT, "writing the plaintext failed");
    return ENVELOPE_OK;
}

static envelope_status frames(envelope_decryptor *d, const uint8_t *in, size_t inlen,
                              envelope_err *err)
{
    size_t target = 0; /* set by frame_target before every use */
    while (inlen > 0) {
        if (d->state == DEC_DONE)
            return env_fail(err, ENVELOPE_ERR_TRAILING_DATA,
                            "bytes follow the final frame; the message was appended to");
        if (d->flen == 0) {
            /* A whole frame in the caller's buffer: decrypt it in place.
             * (A final frame's target is a provisional 5 until its length
             * bytes are in, and then inlen < 5.) */
            ENV_GUARD(frame_target(d, in, inlen, &target, err));
            if (inlen >= target) {
                ENV_GUARD(open_frame(d, in, target, err));
                in += target;
                inlen -= target;
                continue;
            }
        }
        ENV_GUARD(partial(d, &in, &inlen, err));
    }
    return ENVELOPE_OK;
}

static envelope_status fail(envelope_decryptor *d, envelope_status s, envelope_err *err)
{
    d->state = DEC_FAILED;
    env_pdec_free(d->par); /* joins the workers, wipes what they opened */
    d->par = NULL;
    if (err != NULL)
        d->failure = *err;
    else
        d->failure.code = s, d->failure.message[0] = '\0';
    if (d->pbuf != NULL)
        OPENSSL_cleanse(d->pbuf, d->fs);
    OPENSSL_cleanse(d->c.s, sizeof(*d->c.s));
    return s;
}

envelope_status envelope_decryptor_update(envelope_decryptor *d, const uint8_t *in, size_t inlen,
                                          envelope_err *err)
{
    env_err_clear(err);
    if (d == NULL || (in == NULL && inlen > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_decryptor_update: NULL argument");
    if (d->state == DEC_FAILED) {
        if (err != NULL)
            *err = d->failure;
        return d->failure.code;
    }
    if (d->state == DEC_CLOSED)
        return env_fail(err, ENVELOPE_ERR_STATE, "the decryptor is already finished");
    envelope_status s = ENVELOPE_OK;
    if (d->state == DEC_HEADER) {
        s = env_hdracc_feed(&d->acc, &in, &inlen, err);
        if (s == ENVELOPE_ERR_TRUNCATED)
            return ENVELOPE_OK; /* the header is not complete yet */
        if (s == ENVELOPE_OK)
            s = on_header(d, err);
    }
    if (s == ENVELOPE_OK && d->par != NULL)
        s = env_pdec_update(d->par, in, inlen, err);
    else if (s == ENVELOPE_OK)
        s = frames(d, in, inlen, err);
    return s == ENVELOPE_OK ? s : fail(d, s, err);
}

envelope_status envelope_decryptor_final(envelope_decryptor *d, envelope_err *err)
{
    env_err_clear(err);
    if (d == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_decryptor_final: NULL argument");
    if (d->state == DEC_FAILED) {
        if (err != NULL)
            *err = d->failure;
        return d->failure.code;
    }
    if (d->state == DEC_CLOSED)
        return env_fail(err, ENVELOPE_ERR_STATE, "the decryptor is already finished");
    if (d->par != NULL) {
        envelope_status s = env_pdec_final(d->par, err);
        if (s != ENVELOPE_OK)
            return fail(d, s, err);
        env_pdec_free(d->par);
        d->par = NULL;
        d->state = DEC_DONE;
    }
    if (d->state != DEC_DONE)
        return fail(d,
                    env_fail(err, ENVELOPE_ERR_TRUNCATED,
                             d->state == DEC_HEADER
                                 ? "input ends inside the message header"
                                 : "message ends before its final frame (truncated)"),
                    err);
    d->state = DEC_CLOSED;
    return ENVELOPE_OK;
}

envelope_status envelope_decryptor_buffer(envelope_decryptor *d, uint8_t **buf, size_t *len,
                                          envelope_err *err)
{
    env_err_clear(err);
    if (d == NULL || buf == NULL || len == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_decryptor_buffer: NULL argument");
    *buf = NULL;
    *len = 0;
    if (d->state == DEC_FAILED) {
        if (err != NULL)
            *err = d->failure;
        return d->failure.code;
    }
    if (d->state == DEC_CLOSED)
        return env_fail(err, ENVELOPE_ERR_STATE, "the decryptor is already finished");
    if (d->par != NULL) {
        envelope_status s = env_pdec_buffer(d->par, buf, len, err);
        return s == ENVELOPE_OK ? s : fail(d, s, err);
    }
    if (d->lend == NULL && (d->lend = OPENSSL_malloc(ENV_LEND_BYTES)) == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    *buf = d->lend;
    /* Until the header is in, a read of the largest header's size: the
     * rest of a large read would only be copied into the first slot. */
    *len = d->state == DEC_HEADER && d->threads > 1 ? ENV_MAX_HEADER : ENV_LEND_BYTES;
    return ENVELOPE_OK;
}

const envelope_context *envelope_decryptor_context(const envelope_decryptor *d)
{
    return d ? d->msgctx : NULL;
}

void envelope_decryptor_free(envelope_decryptor *d)
{
    if (d == NULL)
        return;
    env_pdec_free(d->par); /* joins the workers before anything they use goes */
    if (d->lend)
        OPENSSL_clear_free(d->lend, ENV_LEND_BYTES);
    env_crypto_cleanup(&d->c);
    env_hdracc_cleanup(&d->acc);
    env_decrypt_cleanup(&d->o);
    envelope_context_free(d->msgctx);
    if (d->pbuf)
        OPENSSL_clear_free(d->pbuf, d->fs);
    OPENSSL_clear_free(d, sizeof(*d));
}
