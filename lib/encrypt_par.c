/*
 * encrypt_par.c - the streaming encryptor's frames sealed on worker
 * threads (envelope_encrypt_opts.threads > 1). The bytes are the serial
 * encryptor's, bit for bit: frame n is sealed with nonce n and the AAD of
 * docs/FORMAT.md §5.4 under the one data key, so no nonce repeats and the
 * choice of thread changes nothing in the output.
 *
 * The caller's thread fills slots with plaintext (copying, or not at all
 * when the input was read into the buffer env_penc_buffer lent), hands
 * each to the pool, and writes sealed slots to the sink in order. A full
 * slot is held back until more input arrives or final says it holds the
 * last frame (§4.3: a regular frame only once more plaintext is known to
 * follow), so each frame is sealed exactly once.
 *
 * CT: the data key is in each worker's env_crypto (locked memory). Slot
 * plaintext is overwritten by the next chunk and wiped at free (a wipe per
 * chunk would be one more pass over every byte).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "workers.h"

typedef struct eslot {
    env_job job; /* first: the pool hands it back */
    uint8_t *in;
    size_t inlen;
    uint8_t *out;
    size_t outlen;
    uint64_t first_no;
    size_t fs;
    int final;
    envelope_status st;
    envelope_err err;
    const uint8_t *id;
} eslot;

struct env_penc {
    env_workers *w;
    env_crypto *wc; /* one per worker */
    size_t nw;
    eslot *slots;
    size_t nslots, chunk, outcap, fs;
    size_t head, busy; /* slots[head..head+busy) are with the pool, in order */
    int held;          /* slots[head+busy] is full, its last frame's type not known */
    uint64_t next_no;  /* first frame of the next slot handed to the pool */
    uint64_t total;    /* plaintext bytes */
    const uint8_t *id;
    envelope_sink_fn sink;
    void *arg;
};

/* Frames of a slot of `len` plaintext bytes (all regular if !final). */
static uint64_t slot_frames(size_t len, size_t fs, int final)
{
    if (!final)
        return len / fs;
    return len == 0 ? 1 : (len + fs - 1) / fs;
}

static void seal_slot(void *state, env_job *job)
{
    env_crypto *c = state;
    eslot *s = (eslot *)job;
    size_t fs = s->fs, off = 0, o = 0;
    uint64_t no = s->first_no;
    uint64_t nregular = slot_frames(s->inlen, fs, s->final) - (s->final ? 1 : 0);
    s->st = ENVELOPE_OK;
    for (uint64_t i = 0; i < nregular && s->st == ENVELOPE_OK; i++) {
        s->out[o] = ENV_FRAME_REGULAR;
        s->st = env_frame_seal(c, s->id, no++, 0, s->in + off, fs, s->out + o + 1,
                               s->out + o + 1 + fs, &s->err);
        o += 1 + fs + ENV_TAG_LEN;
        off += fs;
    }
    if (s->st == ENVELOPE_OK && s->final) {
        size_t last = s->inlen - off;
        s->out[o] = ENV_FRAME_FINAL;
        env_put_u32(s->out + o + 1, (uint32_t)last);
        s->st = env_frame_seal(c, s->id, no, 1, s->in + off, last, s->out + o + 5,
                               s->out + o + 5 + last, &s->err);
        o += 5 + last + ENV_TAG_LEN;
    }
    s->outlen = o;
}

void env_penc_free(env_penc *p)
{
    if (p == NULL)
        return;
    env_workers_free(p->w); /* first: no worker touches a slot after this */
    for (size_t i = 0; p->wc != NULL && i < p->nw; i++)
        env_crypto_cleanup(&p->wc[i]);
    OPENSSL_free(p->wc);
    for (size_t i = 0; p->slots != NULL && i < p->nslots; i++) {
        OPENSSL_clear_free(p->slots[i].in, p->chunk);
        OPENSSL_free(p->slots[i].out);
    }
    OPENSSL_free(p->slots);
    OPENSSL_clear_free(p, sizeof(*p));
}

envelope_status env_penc_new(envelope_lib *lib, const env_crypto *c, const uint8_t *id, size_t fs,
                             size_t threads, envelope_sink_fn sink, void *arg, env_penc **out,
                             envelope_err *err)
{
    *out = NULL;
    env_par_geom g;
    env_par_geometry(threads, fs, &g);
    env_penc *p = OPENSSL_zalloc(sizeof(*p));
    if (p == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    p->fs = fs;
    p->chunk = g.kframes * fs;
    p->outcap = g.kframes * (1 + fs + ENV_TAG_LEN) + 4; /* + a final frame's length */
    p->nslots = g.nslots;
    p->nw = threads;
    p->next_no = 1;
    p->id = id;
    p->sink = sink;
    p->arg = arg;
    p->slots = OPENSSL_zalloc(p->nslots * sizeof(*p->slots));
    p->wc = OPENSSL_zalloc(p->nw * sizeof(*p->wc));
    envelope_status s = p->slots && p->wc ? ENVELOPE_OK
                                          : env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == ENVELOPE_OK && i < p->nslots; i++) {
        eslot *sl = &p->slots[i];
        sl->fs = fs;
        sl->id = id;
        sl->in = OPENSSL_malloc(p->chunk);
        sl->out = OPENSSL_malloc(p->outcap);
        if (sl->in == NULL || sl->out == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    void *states[ENV_MAX_THREADS];
    for (size_t i = 0; s == ENVELOPE_OK && i < p->nw; i++) {
        s = env_crypto_init(&p->wc[i], lib, ENV_KEY_ENC, err);
        if (s == ENVELOPE_OK)
            s = env_crypto_key_copy(&p->wc[i], c, err);
        states[i] = &p->wc[i];
    }
    if (s == ENVELOPE_OK)
        s = env_workers_new(p->nw, seal_slot, states, &p->w, err);
    if (s != ENVELOPE_OK) {
        env_penc_free(p);
        return s;
    }
    *out = p;
    return ENVELOPE_OK;
}

/* Writes slots[head] (waiting for it if `block`); 1 if one was written. */
static int write_oldest(env_penc *p, int block, envelope_status *st, envelope_err *err)
{
    eslot *s = &p->slots[p->head];
    if (p->busy == 0 || (!block && !env_workers_done(p->w, &s->job)))
        return 0;
    env_workers_wait(p->w, &s->job);
    *st = s->st;
    if (*st != ENVELOPE_OK) {
        if (err != NULL)
            *err = s->err;
    } else if (p->sink(p->arg, s->out, s->outlen) != 0) {
        *st = env_fail(err, ENVELOPE_ERR_OUTPUT, "writing the output failed");
    }
    s->inlen = 0; /* overwritten by the next chunk, wiped at free */
    p->head = (p->head + 1) % p->nslots;
    p->busy--;
    return 1;
}

static envelope_status submit(env_penc *p, int final, envelope_err *err)
{
    eslot *s = &p->slots[(p->head + p->busy) % p->nslots];
    uint64_t n = slot_frames(s->inlen, p->fs, final);
    if (p->next_no - 1 + n > ENVELOPE_MAX_FRAMES)
        return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES,
                        "input needs more than 2^32-1 frames; use a larger --frame-size");
    s->first_no = p->next_no;
    s->final = final;
    p->next_no += n;
    p->total += s->inlen;
    p->busy++;
    p->held = 0;
    env_workers_submit(p->w, &s->job);
    /* Write what is already sealed: keeps slots free without waiting. */
    envelope_status st = ENVELOPE_OK;
    while (st == ENVELOPE_OK && write_oldest(p, 0, &st, err))
        ;
    return st;
}

/* The slot to fill next (after a held one), waiting for the oldest slot
 * in flight to be written if every slot is taken. */
static envelope_status fill_slot(env_penc *p, eslot **out, envelope_err *err)
{
    envelope_status st = ENVELOPE_OK;
    while (p->busy + (size_t)p->held >= p->nslots)
        if (!write_oldest(p, 1, &st, err) || st != ENVELOPE_OK)
            return st != ENVELOPE_OK ? st : env_fail(err, ENVELOPE_ERR_INTERNAL, "no free slot");
    *out = &p->slots[(p->head + p->busy + (size_t)p->held) % p->nslots];
    return ENVELOPE_OK;
}

envelope_status env_penc_buffer(env_penc *p, uint8_t **buf, size_t *len, envelope_err *err)
{
    eslot *s = NULL;
    ENV_GUARD(fill_slot(p, &s, err));
    if (s->inlen == p->chunk) { /* full but not held: cannot happen, held is set */
        *buf = NULL;
        *len = 0;
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "slot state");
    }
    *buf = s->in + s->inlen;
    *len = p->chunk - s->inlen;
    return ENVELOPE_OK;
}

envelope_status env_penc_update(env_penc *p, const uint8_t *in, size_t inlen, envelope_err *err)
{
    while (inlen > 0) {
        if (p->held) /* more plaintext follows the held slot: all regular */
            ENV_GUARD(submit(p, 0, err));
        eslot *s = NULL;
        ENV_GUARD(fill_slot(p, &s, err));
        size_t take = p->chunk - s->inlen < inlen ? p->chunk - s->inlen : inlen;
        /* The input may already be in place: read into env_penc_buffer. */
        if (in != s->in + s->inlen)
            memmove(s->in + s->inlen, in, take);
        s->inlen += take;
        in += take;
        inlen -= take;
        if (s->inlen == p->chunk)
            p->held = 1;
    }
    return ENVELOPE_OK;
}

envelope_status env_penc_final(env_penc *p, uint64_t *total, envelope_err *err)
{
    /* The held slot, or the partly filled one (empty only for an empty
     * message: a new slot is taken only for input that goes into it). */
    if (!p->held) {
        eslot *s = NULL;
        ENV_GUARD(fill_slot(p, &s, err));
    }
    ENV_GUARD(submit(p, 1, err));
    envelope_status st = ENVELOPE_OK;
    while (st == ENVELOPE_OK && write_oldest(p, 1, &st, err))
        ;
    *total = p->total;
    return st;
}
