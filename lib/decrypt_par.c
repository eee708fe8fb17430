/*
 * decrypt_par.c - the streaming decryptor's frames opened on worker
 * threads (envelope_decrypt_opts.threads > 1), releasing exactly what the
 * serial decryptor releases, in the same order:
 *
 *  - The caller's thread reads the frame structure (type bytes, a final
 *    frame's length: docs/FORMAT.md §4.3) as the bytes arrive, with the
 *    serial decryptor's checks and messages, and cuts the input into slots
 *    of whole frames.
 *  - A worker opens a slot's frames in order into the slot's output; at
 *    the first tag that fails it stops, and the output holds only the
 *    frames before it.
 *  - The caller's thread hands slots to the sink strictly in order, each
 *    only after its worker finished: plaintext of a frame reaches the sink
 *    only after its tag verified and after every earlier frame's did, and
 *    nothing of frame k or later when frame k fails (the later slots are
 *    dropped unwritten, and wiped at free).
 *  - Truncation (no final frame), bytes after the final frame and a bad
 *    structure are reported after the verified frames before them were
 *    written, as the serial decryptor does.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "workers.h"

typedef struct dslot {
    env_job job; /* first: the pool hands it back */
    uint8_t *in; /* encoded frames */
    size_t inlen;
    size_t scan; /* end of the complete frames */
    size_t nfr;  /* complete frames */
    uint64_t first_no;
    int has_final;
    uint8_t *out; /* verified plaintext */
    size_t outlen;
    size_t fs;
    const uint8_t *id;
    envelope_status st;
    envelope_err err;
} dslot;

struct env_pdec {
    env_workers *w;
    env_crypto *wc;
    size_t nw;
    dslot *slots;
    size_t nslots, k, incap, outcap, fs;
    size_t head, busy; /* slots[head..head+busy) are with the pool */
    dslot *cur;        /* being filled (slots[head+busy]), or NULL */
    uint64_t next_no;  /* number of cur's first frame */
    int saw_final;
    uint8_t scratch[64]; /* lent after the final frame: anything read is trailing */
    const uint8_t *id;
    envelope_sink_fn sink;
    void *arg;
};

static void open_slot(void *state, env_job *job)
{
    env_crypto *c = state;
    dslot *s = (dslot *)job;
    size_t off = 0, o = 0;
    s->st = ENVELOPE_OK;
    for (size_t i = 0; i < s->nfr; i++) {
        int final = s->in[off] == ENV_FRAME_FINAL;
        size_t hdr = final ? 5 : 1, len = s->fs;
        if (final)
            len = ((size_t)s->in[off + 1] << 24) | ((size_t)s->in[off + 2] << 16) |
                  ((size_t)s->in[off + 3] << 8) | s->in[off + 4];
        s->st = env_frame_open(c, s->id, s->first_no + i, final, s->in + off + hdr, len,
                               s->in + off + hdr + len, s->out + o, &s->err);
        if (s->st != ENVELOPE_OK)
            break; /* the failed frame's output is wiped; the earlier ones verified */
        o += len;
        off += hdr + len + ENV_TAG_LEN;
    }
    s->outlen = o;
}

void env_pdec_free(env_pdec *p)
{
    if (p == NULL)
        return;
    env_workers_free(p->w);
    for (size_t i = 0; p->wc != NULL && i < p->nw; i++)
        env_crypto_cleanup(&p->wc[i]);
    OPENSSL_free(p->wc);
    for (size_t i = 0; p->slots != NULL && i < p->nslots; i++) {
        OPENSSL_free(p->slots[i].in);
        OPENSSL_clear_free(p->slots[i].out, p->outcap);
    }
    OPENSSL_free(p->slots);
    OPENSSL_clear_free(p, sizeof(*p));
}

envelope_status env_pdec_new(envelope_lib *lib, const env_crypto *c, const uint8_t *id, size_t fs,
                             size_t threads, envelope_sink_fn sink, void *arg, env_pdec **out,
                             envelope_err *err)
{
    *out = NULL;
    env_par_geom g;
    env_par_geometry(threads, fs, &g);
    env_pdec *p = OPENSSL_zalloc(sizeof(*p));
    if (p == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    p->fs = fs;
    p->k = g.kframes;
    /* k regular frames, or k-1 and a final frame of F bytes (4 more) */
    p->incap = g.kframes * (1 + fs + ENV_TAG_LEN) + 4;
    p->outcap = g.kframes * fs;
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
        dslot *sl = &p->slots[i];
        sl->fs = fs;
        sl->id = id;
        sl->in = OPENSSL_malloc(p->incap);
        sl->out = OPENSSL_malloc(p->outcap);
        if (sl->in == NULL || sl->out == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    void *states[ENV_MAX_THREADS];
    for (size_t i = 0; s == ENVELOPE_OK && i < p->nw; i++) {
        s = env_crypto_init(&p->wc[i], lib, ENV_KEY_DEC, err);
        if (s == ENVELOPE_OK)
            s = env_crypto_key_copy(&p->wc[i], c, err);
        states[i] = &p->wc[i];
    }
    if (s == ENVELOPE_OK)
        s = env_workers_new(p->nw, open_slot, states, &p->w, err);
    if (s != ENVELOPE_OK) {
        env_pdec_free(p);
        return s;
    }
    *out = p;
    return ENVELOPE_OK;
}

/* Writes the oldest slot in flight, waiting for it if `block`: its
 * verified frames, then its failure if it had one. 1 if one was taken. */
static int write_oldest(env_pdec *p, int block, envelope_status *st, envelope_err *err)
{
    dslot *s = &p->slots[p->head];
    if (p->busy == 0 || (!block && !env_workers_done(p->w, &s->job)))
        return 0;
    env_workers_wait(p->w, &s->job);
    *st = ENVELOPE_OK;
    if (s->outlen > 0 && p->sink(p->arg, s->out, s->outlen) != 0)
        *st = env_fail(err, ENVELOPE_ERR_OUTPUT, "writing the plaintext failed");
    else if (s->st != ENVELOPE_OK) {
        *st = s->st;
        if (err != NULL)
            *err = s->err;
    }
    p->head = (p->head + 1) % p->nslots;
    p->busy--;
    return 1;
}

static envelope_status drain(env_pdec *p, envelope_err *err)
{
    envelope_status st = ENVELOPE_OK;
    while (st == ENVELOPE_OK && write_oldest(p, 1, &st, err))
        ;
    return st;
}

static envelope_status submit(env_pdec *p, envelope_err *err)
{
    dslot *s = p->cur;
    s->inlen = s->scan; /* only whole frames go */
    s->first_no = p->next_no;
    p->next_no += s->nfr;
    p->cur = NULL;
    p->busy++;
    env_workers_submit(p->w, &s->job);
    envelope_status st = ENVELOPE_OK;
    while (st == ENVELOPE_OK && write_oldest(p, 0, &st, err))
        ;
    return st;
}

/* p->cur, taken if there is none (waiting for a slot to be written). */
static envelope_status take_slot(env_pdec *p, envelope_err *err)
{
    if (p->cur != NULL)
        return ENVELOPE_OK;
    envelope_status st = ENVELOPE_OK;
    while (p->busy >= p->nslots)
        if (!write_oldest(p, 1, &st, err) || st != ENVELOPE_OK)
            return st;
    dslot *s = &p->slots[(p->head + p->busy) % p->nslots];
    s->inlen = s->scan = s->nfr = 0;
    s->has_final = 0;
    p->cur = s;
    return ENVELOPE_OK;
}

/* The frames complete in cur, with the serial decryptor's checks
 * (decrypt_stream.c frame_target). */
static envelope_status scan(env_pdec *p, envelope_err *err)
{
    dslot *s = p->cur;
    while (s->nfr < p->k && s->scan < s->inlen) {
        const uint8_t *f = s->in + s->scan;
        size_t have = s->inlen - s->scan, target;
        uint64_t no = p->next_no + s->nfr;
        if (no > ENVELOPE_MAX_FRAMES)
            return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES,
                            "message has more than 2^32-1 frames");
        if (f[0] == ENV_FRAME_REGULAR) {
            target = 1 + p->fs + ENV_TAG_LEN;
        } else if (f[0] == ENV_FRAME_FINAL) {
            if (have < 5)
                return ENVELOPE_OK;
            uint32_t len = ((uint32_t)f[1] << 24) | ((uint32_t)f[2] << 16) | ((uint32_t)f[3] << 8) |
                           f[4];
            if (len > p->fs || (len == 0 && no != 1))
                return env_fail(
                    err, ENVELOPE_ERR_FRAME_LENGTH,
                    "final frame length %u is not allowed (1..%zu, or 0 for an empty message)", len,
                    p->fs);
            target = 5 + (size_t)len + ENV_TAG_LEN;
        } else {
            return env_fail(err, ENVELOPE_ERR_FRAME_TYPE, "frame %llu has unknown type 0x%02x",
                            (unsigned long long)no, f[0]);
        }
        if (have < target)
            return ENVELOPE_OK;
        s->scan += target;
        s->nfr++;
        if (f[0] == ENV_FRAME_FINAL) {
            s->has_final = 1;
            p->saw_final = 1;
            return ENVELOPE_OK;
        }
    }
    return ENVELOPE_OK;
}

/* A failure found on the caller's thread (structure, trailing bytes):
 * the verified frames before it are written first, as serially; a frame
 * that fails its tag before it is the one reported. */
static envelope_status fail_after_drain(env_pdec *p, envelope_status st, envelope_err *err)
{
    envelope_err mine = {st, ""};
    if (err != NULL)
        mine = *err;
    envelope_status d = ENVELOPE_OK;
    if (p->cur != NULL && p->cur->nfr > 0)
        d = submit(p, err);
    if (d == ENVELOPE_OK)
        d = drain(p, err);
    if (d != ENVELOPE_OK)
        return d;
    if (err != NULL)
        *err = mine;
    return st;
}

static envelope_status trailing(env_pdec *p, envelope_err *err)
{
    return fail_after_drain(p,
                            env_fail(err, ENVELOPE_ERR_TRAILING_DATA,
                                     "bytes follow the final frame; the message was appended to"),
                            err);
}

envelope_status env_pdec_buffer(env_pdec *p, uint8_t **buf, size_t *len, envelope_err *err)
{
    if (p->saw_final) {
        *buf = p->scratch;
        *len = sizeof(p->scratch);
        return ENVELOPE_OK;
    }
    ENV_GUARD(take_slot(p, err));
    *buf = p->cur->in + p->cur->inlen;
    *len = p->incap - p->cur->inlen;
    return ENVELOPE_OK;
}

envelope_status env_pdec_update(env_pdec *p, const uint8_t *in, size_t inlen, envelope_err *err)
{
    while (inlen > 0) {
        if (p->saw_final)
            return trailing(p, err);
        ENV_GUARD(take_slot(p, err));
        dslot *s = p->cur;
        size_t take = p->incap - s->inlen < inlen ? p->incap - s->inlen : inlen;
        /* Input read into env_pdec_buffer is in place already. */
        if (in != s->in + s->inlen)
            memmove(s->in + s->inlen, in, take);
        s->inlen += take;
        in += take;
        inlen -= take;
        envelope_status st = scan(p, err);
        if (st != ENVELOPE_OK)
            return fail_after_drain(p, st, err);
        if (s->has_final) {
            int extra = s->inlen > s->scan || inlen > 0;
            ENV_GUARD(submit(p, err));
            if (extra)
                return trailing(p, err);
        } else if (s->nfr == p->k) {
            /* The next frame's first bytes (at most 4: incap's slack). */
            uint8_t carry[8];
            size_t nc = s->inlen - s->scan;
            if (nc > sizeof(carry))
                return env_fail(err, ENVELOPE_ERR_INTERNAL, "frame slot overrun");
            memcpy(carry, s->in + s->scan, nc);
            ENV_GUARD(submit(p, err));
            if (nc > 0) {
                ENV_GUARD(take_slot(p, err));
                memcpy(p->cur->in, carry, nc);
                p->cur->inlen = nc;
                OPENSSL_cleanse(carry, sizeof(carry));
            }
        }
    }
    return ENVELOPE_OK;
}

envelope_status env_pdec_final(env_pdec *p, envelope_err *err)
{
    if (!p->saw_final)
        return fail_after_drain(p,
                                env_fail(err, ENVELOPE_ERR_TRUNCATED,
                                         "message ends before its final frame (truncated)"),
                                err);
    return drain(p, err);
}
