/*
 * encrypt_stream.c - the streaming encryptor: constant memory (one frame of
 * plaintext and one of ciphertext), any length. A frame is written as
 * "regular" only once more plaintext is known to follow, so the last frame
 * is always the final one and never empty unless the message is
 * (docs/FORMAT.md §4.3, canonical framing). With threads > 1 in the
 * options the frames are sealed on worker threads (lib/encrypt_par.c):
 * the same bytes, written in order by the caller's thread.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "internal.h"
#include "workers.h"

enum { ENC_OPEN, ENC_DONE, ENC_FAILED };

struct envelope_encryptor {
    envelope_lib *lib;
    env_crypto c;
    env_hdrtmpl t;
    uint8_t id[ENVELOPE_MESSAGE_ID_BYTES];
    envelope_sink_fn sink;
    void *arg;
    uint8_t *pbuf; /* pending plaintext, < or = one frame */
    size_t plen;
    uint8_t *obuf; /* one encoded frame */
    uint64_t no;   /* next frame number */
    int header_done;
    int state;
    env_penc *par; /* threads > 1: the parallel frame path */
    uint8_t *hdr;  /* with par: the header, written before the keys went to the workers */
    size_t hdrlen;
    uint8_t *lend; /* serial: envelope_encryptor_buffer's buffer */
    size_t lendlen;
    envelope_err failure;
};

/* The header is made now, since making it derives the data key the
 * workers are keyed with; it still reaches the sink only at the first
 * update or final, as serially. */
static envelope_status par_start(envelope_encryptor *e, size_t threads, envelope_err *err)
{
    e->hdrlen = env_hdrtmpl_len(&e->t);
    e->hdr = OPENSSL_malloc(e->hdrlen);
    if (e->hdr == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    ENV_GUARD(env_hdrtmpl_write(&e->t, &e->c, e->id, e->hdr, err));
    return env_penc_new(e->lib, &e->c, e->id, e->t.frame_size, threads, e->sink, e->arg, &e->par,
                        err);
}

envelope_status envelope_encryptor_new(envelope_lib *lib, const envelope_encrypt_opts *o,
                                       envelope_sink_fn sink, void *arg, envelope_encryptor **out,
                                       envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || sink == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_encryptor_new: NULL argument");
    *out = NULL;
    envelope_encryptor *e = OPENSSL_zalloc(sizeof(*e));
    if (e == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    e->lib = lib;
    e->sink = sink;
    e->arg = arg;
    e->no = 1;
    envelope_encrypt_opts oc;
    envelope_status s = env_encrypt_opts_get(o, &oc, err);
    if (s == ENVELOPE_OK && oc.threads > ENV_MAX_THREADS)
        s = env_fail(err, ENVELOPE_ERR_ARGUMENT, "encrypt options: threads is %zu, at most %d",
                     oc.threads, ENV_MAX_THREADS);
    if (s == ENVELOPE_OK)
        s = env_crypto_init(&e->c, lib, ENV_KEY_ENC, err);
    if (s == ENVELOPE_OK)
        s = env_hdrtmpl_build(&e->t, &e->c, o, 0, err); /* size known at final */
    if (s == ENVELOPE_OK && RAND_bytes_ex(lib->libctx, e->id, sizeof(e->id), 256) != 1)
        s = env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "random generator failed");
    if (s == ENVELOPE_OK) {
        e->pbuf = OPENSSL_malloc(e->t.frame_size);
        e->obuf = OPENSSL_malloc(5 + (size_t)e->t.frame_size + ENV_TAG_LEN);
        if (e->pbuf == NULL || e->obuf == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    if (s == ENVELOPE_OK && oc.threads > 1)
        s = par_start(e, oc.threads, err);
    if (s != ENVELOPE_OK) {
        envelope_encryptor_free(e);
        return s;
    }
    *out = e;
    return ENVELOPE_OK;
}

static envelope_status emit(envelope_encryptor *e, const uint8_t *b, size_t n, envelope_err *err)
{
    if (e->sink(e->arg, b, n) != 0)
        return env_fail(err, ENVELOPE_ERR_OUTPUT, "writing the output failed");
    return ENVELOPE_OK;
}

static envelope_status header(envelope_encryptor *e, envelope_err *err)
{
    if (e->header_done)
        return ENVELOPE_OK;
    if (e->hdr != NULL) {
        envelope_status ps = emit(e, e->hdr, e->hdrlen, err);
        e->header_done = ps == ENVELOPE_OK;
        return ps;
    }
    size_t n = env_hdrtmpl_len(&e->t);
    uint8_t *h = OPENSSL_malloc(n);
    if (h == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_status s = env_hdrtmpl_write(&e->t, &e->c, e->id, h, err);
    if (s == ENVELOPE_OK)
        s = emit(e, h, n, err);
    OPENSSL_free(h);
    e->header_done = s == ENVELOPE_OK;
    return s;
}

static envelope_status frame(envelope_encryptor *e, const uint8_t *pt, size_t len, int final,
                             envelope_err *err)
{
    if (e->no > ENVELOPE_MAX_FRAMES)
        return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES,
                        "input needs more than 2^32-1 frames; use a larger --frame-size");
    size_t off = 1;
    e->obuf[0] = final ? ENV_FRAME_FINAL : ENV_FRAME_REGULAR;
    if (final) {
        env_put_u32(e->obuf + 1, (uint32_t)len);
        off = 5;
    }
    ENV_GUARD(env_frame_seal(&e->c, e->id, e->no, final, pt, len, e->obuf + off,
                             e->obuf + off + len, err));
    e->no++;
    return emit(e, e->obuf, off + len + ENV_TAG_LEN, err);
}

static envelope_status fail(envelope_encryptor *e, envelope_status s, envelope_err *err)
{
    e->state = ENC_FAILED;
    env_penc_free(e->par); /* joins the workers now, not at free */
    e->par = NULL;
    if (err != NULL)
        e->failure = *err;
    else
        e->failure.code = s, e->failure.message[0] = '\0';
    return s;
}

static envelope_status refuse(envelope_encryptor *e, envelope_err *err)
{
    if (e->state == ENC_FAILED) {
        if (err != NULL)
            *err = e->failure;
        return e->failure.code;
    }
    return env_fail(err, ENVELOPE_ERR_STATE, "the encryptor is already finished");
}

envelope_status envelope_encryptor_update(envelope_encryptor *e, const uint8_t *in, size_t inlen,
                                          envelope_err *err)
{
    env_err_clear(err);
    if (e == NULL || (in == NULL && inlen > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_encryptor_update: NULL argument");
    if (e->state != ENC_OPEN)
        return refuse(e, err);
    envelope_status s = header(e, err);
    if (s == ENVELOPE_OK && e->par != NULL)
        s = env_penc_update(e->par, in, inlen, err);
    size_t fs = e->t.frame_size;
    while (e->par == NULL && s == ENVELOPE_OK && inlen > 0) {
        if (e->plen == fs) {
            /* More input exists, so the buffered frame is not the last. */
            s = frame(e, e->pbuf, fs, 0, err);
            e->plen = 0;
        } else if (e->plen == 0 && inlen > fs) {
            /* Whole frames straight from the caller's buffer: no copy. */
            s = frame(e, in, fs, 0, err);
            in += fs;
            inlen -= fs;
        } else {
            size_t take = fs - e->plen < inlen ? fs - e->plen : inlen;
            memcpy(e->pbuf + e->plen, in, take);
            e->plen += take;
            in += take;
            inlen -= take;
        }
    }
    return s == ENVELOPE_OK ? s : fail(e, s, err);
}

envelope_status envelope_encryptor_final(envelope_encryptor *e, envelope_err *err)
{
    env_err_clear(err);
    if (e == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_encryptor_final: NULL argument");
    if (e->state != ENC_OPEN)
        return refuse(e, err);
    envelope_status s = header(e, err);
    uint64_t total = (e->no - 1) * (uint64_t)e->t.frame_size + e->plen;
    if (s == ENVELOPE_OK && e->par != NULL)
        s = env_penc_final(e->par, &total, err);
    else if (s == ENVELOPE_OK)
        s = frame(e, e->pbuf, e->plen, 1, err);
    if (s == ENVELOPE_OK && e->t.reusable)
        env_reuse_account(e->lib, e->t.reuse_name, total); /* the DEK's bytes window */
    OPENSSL_cleanse(e->pbuf, e->t.frame_size);
    e->plen = 0;
    if (s != ENVELOPE_OK)
        return fail(e, s, err);
    env_penc_free(e->par); /* the workers' job is done */
    e->par = NULL;
    e->state = ENC_DONE;
    return ENVELOPE_OK;
}

envelope_status envelope_encryptor_buffer(envelope_encryptor *e, uint8_t **buf, size_t *len,
                                          envelope_err *err)
{
    env_err_clear(err);
    if (e == NULL || buf == NULL || len == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_encryptor_buffer: NULL argument");
    *buf = NULL;
    *len = 0;
    if (e->state != ENC_OPEN)
        return refuse(e, err);
    if (e->par != NULL) {
        envelope_status s = env_penc_buffer(e->par, buf, len, err);
        return s == ENVELOPE_OK ? s : fail(e, s, err);
    }
    /* Serially, whole frames are sealed straight from the caller's buffer
     * anyway: a buffer of its own saves the caller an allocation. */
    if (e->lend == NULL) {
        e->lendlen = ENV_LEND_BYTES;
        if ((e->lend = OPENSSL_malloc(e->lendlen)) == NULL)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    *buf = e->lend;
    *len = e->lendlen;
    return ENVELOPE_OK;
}

void envelope_encryptor_free(envelope_encryptor *e)
{
    if (e == NULL)
        return;
    if (e->pbuf)
        OPENSSL_clear_free(e->pbuf, e->t.frame_size);
    OPENSSL_free(e->obuf);
    env_penc_free(e->par); /* joins the workers before anything they use goes */
    OPENSSL_free(e->hdr);
    if (e->lend)
        OPENSSL_clear_free(e->lend, e->lendlen);
    env_crypto_cleanup(&e->c);
    env_hdrtmpl_cleanup(&e->t);
    OPENSSL_clear_free(e, sizeof(*e));
}
