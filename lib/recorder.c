/*
 * recorder.c - envelope_recorder, one handle for the records of a service:
 * any thread, any context (include/envelope/envelope.h, docs/LIBRARY.md).
 *
 * Sealing: a table of DEKs by encoded context (the KEK set is the
 * recorder's), each with its header template (env_hdrtmpl: frame size,
 * context, EDK list) and its window (messages, bytes, age: the limits of
 * DEK reuse, lib/dek_reuse.c). Opening: a table of unwrapped DEKs by
 * (suite, context, EDK list), what a DEK is bound to, as the opener's
 * one-entry cache. A record's own keys still come from its own 256-bit
 * message id (docs/FORMAT.md §5.1).
 *
 * Compact records (suite 2, recorder_compact.c): the sealing table holds a
 * key block's record key per context instead of a DEK, and a third table
 * holds key blocks for opening by DEK id.
 *
 * Threads: each table has one lock, held only to look up, to copy a DEK
 * and the template out, and to count; KEK calls and AES-GCM run outside
 * it. Per-thread work (digest and cipher contexts, the derived keys, the
 * message id batch) comes from a pool of workers, each with its own
 * locked page. Every DEK is in the recorder's one locked slab; a worker
 * page or a slab that the kernel will not lock is refused, never used.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "recorder.h"
#include "secmem.h"

#define REC_DEKS_DEFAULT 1024u
#define REC_KEYS_DEFAULT 4096u
#define REC_KBS_DEFAULT 4096u   /* with compact */
#define REC_KBS_DEFAULT_S1 256u /* without: for reading compact records */
#define REC_MAX_ENTRIES (1u << 20)

uint64_t rec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t rec_page_round(size_t n)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t p = ps > 0 ? (size_t)ps : 4096;
    return (n + p - 1) / p * p;
}

envelope_status rec_locked_refused(envelope_err *err, size_t bytes)
{
    return env_fail(err, ENVELOPE_ERR_LOCKED_MEMORY,
                    "the kernel refused to lock %zu more bytes for the recorder's keys "
                    "(RLIMIT_MEMLOCK); raise it (ulimit -l, LimitMEMLOCK= in a systemd unit) or "
                    "make the recorder with smaller max_deks, max_keys and max_keyblocks",
                    bytes);
}

/* ---- workers ---- */
static void worker_free(rec_worker *w)
{
    if (w == NULL)
        return;
    env_crypto_cleanup(&w->c);
    rec_worker_compact_free(w);
    OPENSSL_free(w->scratch);
    OPENSSL_clear_free(w, sizeof(*w));
}

rec_worker *rec_worker_get(envelope_recorder *r, envelope_status *st, envelope_err *err)
{
    *st = ENVELOPE_OK;
    pthread_mutex_lock(&r->pool_lock);
    rec_worker *w = r->idle;
    if (w != NULL)
        r->idle = w->next;
    pthread_mutex_unlock(&r->pool_lock);
    if (w == NULL) {
        w = OPENSSL_zalloc(sizeof(*w));
        if (w == NULL) {
            *st = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
            return NULL;
        }
        envelope_status s = env_crypto_init(&w->c, r->lib, ENV_KEY_ENC | ENV_KEY_DEC, err);
        if (s == ENVELOPE_OK && !envelope_secmem_locked(w->c.s))
            s = rec_locked_refused(err, rec_page_round(sizeof(env_secrets)));
        if (s == ENVELOPE_OK && (w->scratch = OPENSSL_malloc(REC_OPEN_KEY_MAX)) == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        if (s != ENVELOPE_OK) {
            worker_free(w);
            *st = s;
            return NULL;
        }
        pthread_mutex_lock(&r->pool_lock);
        r->workers++;
        pthread_mutex_unlock(&r->pool_lock);
    }
    return w;
}

void rec_worker_put(envelope_recorder *r, rec_worker *w)
{
    OPENSSL_cleanse(w->c.s, sizeof(*w->c.s));
    if (w->kb.s != NULL)
        OPENSSL_cleanse(w->kb.s, sizeof(*w->kb.s));
    pthread_mutex_lock(&r->pool_lock);
    w->next = r->idle;
    r->idle = w;
    pthread_mutex_unlock(&r->pool_lock);
}

/* ---- creation ---- */
envelope_status envelope_recorder_new(envelope_lib *lib, const envelope_recorder_opts *o,
                                      envelope_recorder **out, envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || o == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_recorder_new: NULL argument");
    *out = NULL;
    /* every size from the first layout (0.2.0, through max_keys) to ours;
     * fields past the caller's struct_size read as zero */
    envelope_recorder_opts oc;
    memset(&oc, 0, sizeof(oc));
    size_t first = offsetof(envelope_recorder_opts, compact);
    if (o->struct_size < first || o->struct_size > sizeof(oc))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "recorder options: struct_size is %zu, this library takes %zu..%zu; "
                        "start from ENVELOPE_RECORDER_OPTS_INIT",
                        o->struct_size, first, sizeof(oc));
    memcpy(&oc, o, o->struct_size);
    if (oc.compact != 0 && oc.compact != 1)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "recorder options: compact is 0 or 1 (got %d)",
                        oc.compact);
    if (oc.compact && oc.on_keyblock == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "compact records need on_keyblock: the caller must store every key block, "
                        "or its records can never be opened");
    if (oc.nkeks == 0 || oc.nkeks > ENVELOPE_MAX_EDKS || oc.keks == NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_COUNT, "a recorder needs 1..%d KEKs (got %zu)",
                        ENVELOPE_MAX_EDKS, oc.nkeks);
    size_t fs = oc.frame_size ? oc.frame_size : ENVELOPE_FRAME_SIZE_DEFAULT;
    if (fs < ENVELOPE_FRAME_SIZE_MIN || fs > ENVELOPE_FRAME_SIZE_MAX)
        return env_fail(err, ENVELOPE_ERR_FRAME_SIZE, "frame size %zu is outside %u..%u bytes", fs,
                        ENVELOPE_FRAME_SIZE_MIN, ENVELOPE_FRAME_SIZE_MAX);
    size_t nd = oc.max_deks ? oc.max_deks : REC_DEKS_DEFAULT;
    size_t nk = oc.max_keys ? oc.max_keys : REC_KEYS_DEFAULT;
    size_t nb = oc.max_keyblocks ? oc.max_keyblocks
                                 : (oc.compact ? REC_KBS_DEFAULT : REC_KBS_DEFAULT_S1);
    if (nd > REC_MAX_ENTRIES || nk > REC_MAX_ENTRIES || nb > REC_MAX_ENTRIES)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "max_deks, max_keys and max_keyblocks are at most %u", REC_MAX_ENTRIES);
    if (oc.dek_seconds > UINT64_MAX / 1000)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "dek_seconds is too large");
    envelope_recorder *r = OPENSSL_zalloc(sizeof(*r));
    if (r == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    r->lib = lib;
    r->frame_size = (uint32_t)fs;
    r->max_messages = oc.dek_messages ? oc.dek_messages : (1ull << 32);
    if (oc.compact && r->max_messages > ENV_KB_MAX_RECORDS)
        r->max_messages = ENV_KB_MAX_RECORDS; /* FORMAT.md §10.6 */
    r->compact = oc.compact;
    r->on_keyblock = oc.on_keyblock;
    r->find_keyblock = oc.find_keyblock;
    r->user = oc.user;
    size_t sstride = oc.compact ? REC_KB_STRIDE : ENVELOPE_DEK_BYTES;
    r->max_bytes = oc.dek_bytes ? oc.dek_bytes : ENV_REUSE_BYTES_DEFAULT;
    r->max_ms = (oc.dek_seconds ? oc.dek_seconds : ENV_REUSE_SECONDS_DEFAULT) * 1000;
    envelope_status s = ENVELOPE_OK;
    r->edk_bound = 1;
    for (size_t i = 0; i < oc.nkeks && s == ENVELOPE_OK; i++) {
        if ((r->keks[i] = oc.keks[i]) == NULL)
            s = env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK %zu is NULL", i + 1);
        else
            r->edk_bound += 1 + 1 + 2 + strlen(r->keks[i]->ref) + 1 + r->keks[i]->key_id_len + 2 +
                            ENVELOPE_MAX_WRAPPED;
    }
    r->nkeks = oc.nkeks;
    if (s == ENVELOPE_OK && pthread_mutex_init(&r->pool_lock, NULL) != 0)
        s = env_fail(err, ENVELOPE_ERR_INTERNAL, "cannot make a mutex");
    r->pool_lock_made = s == ENVELOPE_OK;
    if (s == ENVELOPE_OK) {
        r->slab_len = nd * sstride + nk * ENVELOPE_DEK_BYTES + nb * REC_KB_STRIDE;
        r->slab = envelope_secmem_alloc(r->slab_len);
        if (r->slab == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        else if (!envelope_secmem_locked(r->slab))
            s = rec_locked_refused(err, rec_page_round(r->slab_len));
    }
    if (s == ENVELOPE_OK)
        s = rec_table_init(&r->seal, nd, r->slab, sstride, err);
    if (s == ENVELOPE_OK)
        s = rec_table_init(&r->open, nk, r->slab + nd * sstride, ENVELOPE_DEK_BYTES, err);
    if (s == ENVELOPE_OK)
        s = rec_table_init(&r->kbs, nb, r->slab + nd * sstride + nk * ENVELOPE_DEK_BYTES,
                           REC_KB_STRIDE, err);
    if (s != ENVELOPE_OK) {
        envelope_recorder_free(r);
        return s;
    }
    *out = r;
    return ENVELOPE_OK;
}

void envelope_recorder_free(envelope_recorder *r)
{
    if (r == NULL)
        return;
    rec_table_cleanup(&r->seal);
    rec_table_cleanup(&r->open);
    rec_table_cleanup(&r->kbs);
    envelope_secmem_free(r->slab);
    while (r->idle != NULL) {
        rec_worker *w = r->idle;
        r->idle = w->next;
        worker_free(w);
    }
    if (r->pool_lock_made)
        pthread_mutex_destroy(&r->pool_lock);
    OPENSSL_clear_free(r, sizeof(*r));
}

envelope_status envelope_recorder_stats_get(envelope_recorder *r, envelope_recorder_stats *st,
                                            envelope_err *err)
{
    env_err_clear(err);
    if (r == NULL || st == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_recorder_stats_get: NULL argument");
    /* every size from the first layout (0.2.0, through locked_bytes) to
     * ours; only the fields the caller's struct has are written */
    size_t first = offsetof(envelope_recorder_stats, keyblocks_live);
    if (st->struct_size < first || st->struct_size > sizeof(*st))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "recorder stats: struct_size is %zu, this library fills %zu..%zu; start "
                        "from ENVELOPE_RECORDER_STATS_INIT",
                        st->struct_size, first, sizeof(*st));
    st->seals = __atomic_load_n(&r->seals, __ATOMIC_RELAXED);
    st->opens = __atomic_load_n(&r->opens, __ATOMIC_RELAXED);
    st->deks_made = __atomic_load_n(&r->deks_made, __ATOMIC_RELAXED);
    st->unwraps = __atomic_load_n(&r->unwraps, __ATOMIC_RELAXED);
    pthread_mutex_lock(&r->seal.lock);
    st->deks_live = r->seal.live;
    pthread_mutex_unlock(&r->seal.lock);
    pthread_mutex_lock(&r->open.lock);
    st->keys_live = r->open.live;
    pthread_mutex_unlock(&r->open.lock);
    pthread_mutex_lock(&r->pool_lock);
    /* a worker's page; with compact, the record context's and its key
     * block copy's */
    st->locked_bytes = rec_page_round(r->slab_len) +
                       r->workers * rec_page_round(sizeof(env_secrets)) +
                       r->compact_workers * (rec_page_round(32) + rec_page_round(REC_KB_STRIDE));
    pthread_mutex_unlock(&r->pool_lock);
    if (st->struct_size >=
        offsetof(envelope_recorder_stats, keyblocks_evicted) + sizeof(st->keyblocks_evicted)) {
        pthread_mutex_lock(&r->kbs.lock);
        st->keyblocks_live = r->kbs.live;
        st->keyblocks_evicted = r->kb_evicted;
        pthread_mutex_unlock(&r->kbs.lock);
    }
    return ENVELOPE_OK;
}

/* ---- sealing ---- */
size_t envelope_recorder_seal_bound(const envelope_recorder *r, const envelope_context *context,
                                    size_t inlen)
{
    if (r == NULL)
        return 0;
    if (r->compact)
        return envelope_record_sealed_size(inlen);
    size_t clen = env_context_encoded_len(context);
    size_t h = ENV_PREFIX_LEN + ENVELOPE_MESSAGE_ID_BYTES + 4 + clen + 2 + ENV_COMMIT_LEN +
               ENV_TAG_LEN + r->edk_bound;
    size_t f = env_frames_len(inlen, r->frame_size);
    return f == 0 || f > SIZE_MAX - h ? 0 : f + h;
}

/* Under the table's lock: the template of entry i into the worker's
 * scratch, as a template whose parts point there. */
static void take_template(const rec_entry *e, rec_worker *w, env_hdrtmpl *t)
{
    memset(t, 0, sizeof(*t));
    memcpy(w->scratch, e->t.mid, e->t.mid_len);
    memcpy(w->scratch + e->t.mid_len, e->t.edks, e->t.edks_len);
    t->mid = w->scratch;
    t->mid_len = e->t.mid_len;
    t->edks = w->scratch + e->t.mid_len;
    t->edks_len = e->t.edks_len;
    t->frame_size = e->t.frame_size;
}

int rec_window_open(const envelope_recorder *r, const rec_entry *e, uint64_t bytes, uint64_t now)
{
    return e->messages < r->max_messages && e->bytes <= r->max_bytes &&
           bytes <= r->max_bytes - e->bytes && now - e->born_ms < r->max_ms;
}

/* The DEK (into w->c.s->dek) and template (into w's scratch) for a record
 * of `bytes` with this encoded context: a live entry's, or a new DEK
 * wrapped for every KEK, made by one thread while the others wait. */
static envelope_status seal_keys(envelope_recorder *r, rec_worker *w,
                                 const envelope_context *context, const uint8_t *ctx_enc,
                                 size_t clen, uint64_t bytes, env_hdrtmpl *t, envelope_err *err)
{
    rec_table *tb = &r->seal;
    uint64_t h = rec_hash(ctx_enc, clen, NULL, 0);
    pthread_mutex_lock(&tb->lock);
    rec_check_fork(tb);
    for (;;) {
        int32_t i = rec_find(tb, h, ctx_enc, clen);
        if (i >= 0 && tb->e[i].state == REC_PENDING) {
            pthread_cond_wait(&tb->cond, &tb->lock);
            continue;
        }
        if (i >= 0 && rec_window_open(r, &tb->e[i], bytes, rec_now_ms())) {
            rec_entry *e = &tb->e[i];
            e->messages++;
            e->bytes += bytes;
            memcpy(w->c.s->dek, rec_dek(tb, i), ENVELOPE_DEK_BYTES);
            take_template(e, w, t);
            rec_touch(tb, i);
            pthread_mutex_unlock(&tb->lock);
            return ENVELOPE_OK;
        }
        if (i >= 0)
            rec_remove(tb, i); /* its window is over */
        if ((i = rec_insert(tb, h, ctx_enc, clen)) == -1) {
            pthread_cond_wait(&tb->cond, &tb->lock);
            continue;
        }
        pthread_mutex_unlock(&tb->lock);
        if (i == -2)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        /* the one KEK call per DEK, outside the lock */
        envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
        eo.keks = r->keks;
        eo.nkeks = r->nkeks;
        eo.context = context;
        eo.frame_size = r->frame_size;
        env_hdrtmpl nt;
        envelope_status s = env_hdrtmpl_build(&nt, &w->c, &eo, ENV_NO_REUSE, err);
        pthread_mutex_lock(&tb->lock);
        rec_entry *e = &tb->e[i];
        if (s != ENVELOPE_OK || e->state != REC_PENDING || e->hash != h) {
            /* failed, or the table was emptied by a fork meanwhile */
            if (s == ENVELOPE_OK)
                env_hdrtmpl_cleanup(&nt);
            if (e->state == REC_PENDING && e->hash == h)
                rec_remove(tb, i);
            pthread_cond_broadcast(&tb->cond);
            pthread_mutex_unlock(&tb->lock);
            return s != ENVELOPE_OK ? s : env_fail(err, ENVELOPE_ERR_STATE, "forked during a seal");
        }
        __atomic_add_fetch(&r->deks_made, 1, __ATOMIC_RELAXED);
        e->t = nt;
        memcpy(rec_dek(tb, i), w->c.s->dek, ENVELOPE_DEK_BYTES);
        e->messages = 1;
        e->bytes = bytes;
        e->born_ms = rec_now_ms();
        e->state = REC_LIVE;
        take_template(e, w, t);
        pthread_cond_broadcast(&tb->cond);
        pthread_mutex_unlock(&tb->lock);
        return ENVELOPE_OK;
    }
}

envelope_status envelope_recorder_seal(envelope_recorder *r, const envelope_context *context,
                                       const uint8_t *in, size_t inlen, uint8_t *out,
                                       size_t outsize, size_t *outlen, envelope_err *err)
{
    env_err_clear(err);
    if (r == NULL || out == NULL || outlen == NULL || (in == NULL && inlen > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_recorder_seal: NULL argument");
    *outlen = 0;
    uint8_t ctx_enc[2 + ENVELOPE_MAX_CONTEXT_BYTES];
    size_t clen = env_context_encoded_len(context);
    if (clen > sizeof(ctx_enc))
        return env_fail(err, ENVELOPE_ERR_CONTEXT_INVALID, "context over %d bytes",
                        ENVELOPE_MAX_CONTEXT_BYTES);
    env_context_encode(context, ctx_enc);
    if (r->compact) {
        envelope_status cs = rec_compact_seal(r, context, ctx_enc, clen, in, inlen, out, outsize,
                                              outlen, err);
        if (cs == ENVELOPE_OK)
            __atomic_add_fetch(&r->seals, 1, __ATOMIC_RELAXED);
        return cs;
    }
    size_t frames = env_frames_len(inlen, r->frame_size);
    if (frames == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "record too large");
    envelope_status s = ENVELOPE_OK;
    rec_worker *w = rec_worker_get(r, &s, err);
    if (w == NULL)
        return s;
    w->c.which = ENV_KEY_ENC; /* key only the context this record uses */
    env_hdrtmpl t;
    s = seal_keys(r, w, context, ctx_enc, clen, inlen, &t, err);
    size_t hl = s == ENVELOPE_OK ? env_hdrtmpl_len(&t) : 0;
    if (s == ENVELOPE_OK && (hl > SIZE_MAX - frames || outsize < hl + frames)) {
        *outlen = hl + frames; /* the size to allocate */
        s = env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                     "output buffer has %zu bytes, the record needs %zu", outsize, hl + frames);
    }
    uint8_t id[ENVELOPE_MESSAGE_ID_BYTES];
    if (s == ENVELOPE_OK)
        s = env_idpool_next(&w->ids, r->lib, id, err);
    if (s == ENVELOPE_OK)
        s = env_hdrtmpl_write(&t, &w->c, id, out, err);
    if (s == ENVELOPE_OK)
        s = env_seal_frames(&w->c, id, r->frame_size, in, inlen, out + hl, err);
    rec_worker_put(r, w);
    if (s != ENVELOPE_OK) {
        if (s != ENVELOPE_ERR_BUFFER_TOO_SMALL && hl > 0)
            OPENSSL_cleanse(out, hl + frames < outsize ? hl + frames : outsize);
        return s;
    }
    __atomic_add_fetch(&r->seals, 1, __ATOMIC_RELAXED);
    *outlen = hl + frames;
    return ENVELOPE_OK;
}

/* ---- opening ---- */
/* The DEK for h into w->c.s->dek with the keys derived and the header
 * checked: an unwrapped DEK kept for this (suite, context, EDK list), or
 * one unwrap with the recorder's KEKs while other threads wait. */
static envelope_status open_keys(envelope_recorder *r, rec_worker *w, const env_header *h,
                                 envelope_err *err)
{
    rec_table *tb = &r->open;
    uint8_t *key = w->scratch;
    size_t klen = 2 + h->ctx_enc_len + h->edk_list_len;
    key[0] = (uint8_t)(h->suite >> 8);
    key[1] = (uint8_t)h->suite;
    memcpy(key + 2, h->ctx_enc, h->ctx_enc_len);
    memcpy(key + 2 + h->ctx_enc_len, h->edk_list, h->edk_list_len);
    uint64_t hash = rec_hash(key, klen, NULL, 0);
    pthread_mutex_lock(&tb->lock);
    rec_check_fork(tb);
    for (;;) {
        int32_t i = rec_find(tb, hash, key, klen);
        if (i >= 0 && tb->e[i].state == REC_PENDING) {
            pthread_cond_wait(&tb->cond, &tb->lock);
            continue;
        }
        if (i >= 0) {
            memcpy(w->c.s->dek, rec_dek(tb, i), ENVELOPE_DEK_BYTES);
            rec_touch(tb, i);
            pthread_mutex_unlock(&tb->lock);
            ENV_GUARD(env_crypto_derive(&w->c, h->message_id, err));
            return env_header_verify(&w->c, h, err);
        }
        if ((i = rec_insert(tb, hash, key, klen)) == -1) {
            pthread_cond_wait(&tb->cond, &tb->lock);
            continue;
        }
        pthread_mutex_unlock(&tb->lock);
        if (i == -2)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        __atomic_add_fetch(&r->unwraps, 1, __ATOMIC_RELAXED);
        /* unwrap, commitment and header tag, outside the lock */
        envelope_status s = env_unwrap_header(&w->c, r->keks, r->nkeks, h, err);
        pthread_mutex_lock(&tb->lock);
        rec_entry *e = &tb->e[i];
        int ours = e->state == REC_PENDING && e->hash == hash;
        if (s == ENVELOPE_OK && ours) {
            memcpy(rec_dek(tb, i), w->c.s->dek, ENVELOPE_DEK_BYTES);
            e->state = REC_LIVE;
        } else if (ours) {
            rec_remove(tb, i); /* a failure is not kept: the next record tries again */
        }
        pthread_cond_broadcast(&tb->cond);
        pthread_mutex_unlock(&tb->lock);
        return s;
    }
}

envelope_status envelope_recorder_open(envelope_recorder *r, const envelope_context *expected,
                                       const uint8_t *in, size_t inlen, uint8_t *out,
                                       size_t outsize, size_t *outlen, envelope_err *err)
{
    env_err_clear(err);
    if (r == NULL || in == NULL || outlen == NULL || (out == NULL && outsize > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_recorder_open: NULL argument");
    *outlen = 0;
    if (expected == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "envelope_recorder_open: no expected context; pass the pairs every "
                        "record must carry (an empty context checks none)");
    if (inlen >= 4 && memcmp(in, "ENVR", 4) == 0) { /* a compact record (FORMAT.md §10.3) */
        envelope_status cs = rec_compact_open(r, expected, in, inlen, out, outsize, outlen, err);
        if (cs == ENVELOPE_OK)
            __atomic_add_fetch(&r->opens, 1, __ATOMIC_RELAXED);
        return cs;
    }
    env_header h;
    ENV_GUARD(env_header_parse(in, inlen, &h, NULL, err));
    ENV_GUARD(env_context_check(expected, h.ctx_enc, h.ctx_enc_len, err));
    size_t need = 0;
    if (outsize < inlen - h.total_len && env_plaintext_len(&h, in, inlen, &need) &&
        need > outsize) {
        *outlen = need;
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "plaintext buffer has %zu bytes, the record holds %zu", outsize, need);
    }
    envelope_status s = ENVELOPE_OK;
    rec_worker *w = rec_worker_get(r, &s, err);
    if (w == NULL)
        return s;
    w->c.which = ENV_KEY_DEC;
    size_t pt = 0;
    s = open_keys(r, w, &h, err);
    if (s == ENVELOPE_OK)
        s = env_open_frames(&w->c, &h, in, inlen, out, outsize, &pt, err);
    rec_worker_put(r, w);
    if (s != ENVELOPE_OK) {
        if (pt > 0)
            OPENSSL_cleanse(out, pt);
        return s;
    }
    __atomic_add_fetch(&r->opens, 1, __ATOMIC_RELAXED);
    *outlen = pt;
    return ENVELOPE_OK;
}
