/*
 * recorder_compact.c - the recorder's compact records: suite 2 key blocks
 * and records (docs/FORMAT.md §10) behind envelope_recorder_seal and
 * _open (include/envelope/envelope.h, docs/LIBRARY.md).
 *
 * Sealing: with `compact` the seal table holds, per encoded context, the
 * record key (K and CMAC's K1: env_kb_secrets) of that context's key block,
 * its DEK id and its window. A new window makes a key block (one wrap per
 * KEK, outside the lock) and hands it to on_keyblock before any record
 * under it exists: the entry stays PENDING, so the other threads of that
 * context wait, until the callback has said the key block is stored. A
 * callback that fails leaves nothing behind.
 *
 * Opening: the kbs table holds record keys by DEK id with each key block's
 * kb_body (public: the context is read from it, and a second key block
 * under a held id is compared with it, FORMAT.md §10.5). It is filled by
 * envelope_recorder_add_keyblock, by find_keyblock on a miss, and by the
 * recorder's own new key blocks.
 *
 * A call copies the record key, under the table's lock, into its worker's
 * own locked page (w->kb, a key block object of the worker's) and runs
 * XAES-256-GCM outside the lock. record.c keys its AES context by the
 * serial of the key block object an entry was filled from, which names
 * exactly one K in this process.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "recorder.h"
#include "secmem.h"

_Static_assert(ENV_KB_MAX_BODY <= REC_OPEN_KEY_MAX, "a worker's scratch holds a kb_body");

static envelope_status unknown_id(envelope_err *err)
{
    return env_fail(err, ENVELOPE_ERR_DEK_UNKNOWN,
                    "the record names a DEK id the recorder holds no key block for (never added, "
                    "or evicted past max_keyblocks); add its key block "
                    "(envelope_recorder_add_keyblock) or give the recorder find_keyblock");
}

/* ---- the worker's compact parts ---- */
static envelope_status worker_compact(envelope_recorder *r, rec_worker *w, envelope_err *err)
{
    if (w->rc != NULL)
        return ENVELOPE_OK;
    envelope_status s = envelope_record_ctx_new(r->lib, &w->rc, err);
    if (s == ENVELOPE_OK && !env_record_ctx_locked(w->rc))
        s = rec_locked_refused(err, rec_page_round(32));
    if (s == ENVELOPE_OK && (w->kb.s = envelope_secmem_alloc(sizeof(*w->kb.s))) == NULL)
        s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (s == ENVELOPE_OK && !envelope_secmem_locked(w->kb.s))
        s = rec_locked_refused(err, rec_page_round(REC_KB_STRIDE));
    if (s != ENVELOPE_OK) {
        rec_worker_compact_free(w);
        return s;
    }
    /* the recorder counts a key block's records itself (its window) */
    w->kb.max = UINT64_MAX;
    pthread_mutex_lock(&r->pool_lock);
    r->compact_workers++;
    pthread_mutex_unlock(&r->pool_lock);
    return ENVELOPE_OK;
}

void rec_worker_compact_free(rec_worker *w)
{
    envelope_record_ctx_free(w->rc);
    w->rc = NULL;
    envelope_secmem_free(w->kb.s);
    w->kb.s = NULL;
    OPENSSL_free(w->kbbuf);
    w->kbbuf = NULL;
}

/* ---- entries (every call with the table's lock held) ---- */
static void put_key(rec_table *t, int32_t i, const envelope_keyblock *kb)
{
    memcpy(rec_dek(t, i), kb->s, REC_KB_STRIDE);
    memcpy(t->e[i].id, kb->id, ENVELOPE_DEK_ID_BYTES);
    t->e[i].serial = kb->serial;
}

static void take_key(const rec_table *t, int32_t i, rec_worker *w)
{
    memcpy(w->kb.s, rec_dek(t, i), REC_KB_STRIDE);
    memcpy(w->kb.id, t->e[i].id, ENVELOPE_DEK_ID_BYTES);
    w->kb.serial = t->e[i].serial;
    w->kb.used = 0;
}

/* A PENDING entry for a DEK id in kbs, counting an eviction. */
static int32_t kbs_insert(envelope_recorder *r, uint64_t h, const uint8_t *id)
{
    int evicts = r->kbs.free_head < 0;
    int32_t i = rec_insert(&r->kbs, h, id, ENVELOPE_DEK_ID_BYTES);
    if (i >= 0 && evicts)
        r->kb_evicted++;
    return i;
}

/* The expected pairs against a kb_body's context (FORMAT.md §10.2: after
 * the fixed part, before extensions and commitment). */
static envelope_status check_context(const envelope_context *expected, const uint8_t *body,
                                     size_t len, envelope_err *err)
{
    if (len < ENV_KB_FIXED + 2 + ENV_COMMIT_LEN)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "key block body too short");
    return env_context_check(expected, body + ENV_KB_FIXED, len - ENV_KB_FIXED - 2 - ENV_COMMIT_LEN,
                             err);
}

/* ---- loading key blocks ---- */
/* Parses a key block, checks its DEK id against want (if not NULL) and
 * expected against its context, with no key: what can be refused before a
 * KEK call. id and body_len (optional) are copied out. */
static envelope_status precheck(const uint8_t *bytes, size_t len, const uint8_t *want,
                                const envelope_context *expected, uint8_t id[ENVELOPE_DEK_ID_BYTES],
                                size_t *body_len, envelope_err *err)
{
    env_kb_parsed *p = OPENSSL_malloc(sizeof(*p)); /* ~1 KiB: not on the stack */
    if (p == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_status s = env_kb_parse(bytes, len, p, err);
    /* the store must answer for the id asked: a key block under another
     * id is not this record's, whatever it holds */
    if (s == ENVELOPE_OK && want != NULL && memcmp(p->id, want, ENVELOPE_DEK_ID_BYTES) != 0)
        s = env_fail(err, ENVELOPE_ERR_DEK_UNKNOWN,
                     "find_keyblock returned a key block with another DEK id than the record's; "
                     "the record's key block is not in the store");
    if (s == ENVELOPE_OK)
        s = env_context_check(expected, p->h.ctx_enc, p->h.ctx_enc_len, err);
    if (s == ENVELOPE_OK) {
        memcpy(id, p->id, ENVELOPE_DEK_ID_BYTES);
        if (body_len != NULL)
            *body_len = p->h.body_len;
    }
    OPENSSL_free(p);
    return s;
}

/* One unwrap with the recorder's KEKs only; secrets in locked memory only. */
static envelope_status load(envelope_recorder *r, const uint8_t *bytes, size_t len,
                            const envelope_context *expected, envelope_keyblock **kb,
                            uint8_t **body, envelope_err *err)
{
    envelope_decrypt_opts o = ENVELOPE_DECRYPT_OPTS_INIT;
    o.keks = r->keks;
    o.nkeks = r->nkeks;
    o.expected = expected;
    __atomic_add_fetch(&r->unwraps, 1, __ATOMIC_RELAXED);
    ENV_GUARD(env_kb_load(r->lib, &o, bytes, len, ENV_KB_LOCKED, kb, err));
    if ((*body = OPENSSL_memdup((*kb)->bytes, (*kb)->body_len)) == NULL) {
        envelope_keyblock_free(*kb);
        *kb = NULL;
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    return ENVELOPE_OK;
}

/* Ends the PENDING kbs entry i: filled from kb (s OK; body is taken) and
 * copied to w if given, or removed. Frees kb and what is not taken. */
static envelope_status settle(envelope_recorder *r, uint64_t h, int32_t i, envelope_keyblock *kb,
                              uint8_t *body, rec_worker *w, envelope_status s, envelope_err *err)
{
    rec_table *t = &r->kbs;
    int fill = s == ENVELOPE_OK && kb != NULL; /* load sets kb with OK */
    pthread_mutex_lock(&t->lock);
    rec_entry *e = &t->e[i];
    int ours = e->state == REC_PENDING && e->hash == h;
    if (fill && ours) {
        put_key(t, i, kb);
        e->body = body;
        e->body_len = kb->body_len;
        body = NULL;
        e->state = REC_LIVE;
        if (w != NULL)
            take_key(t, i, w);
    } else if (ours) {
        rec_remove(t, i); /* a failure is not kept: the next record tries again */
    }
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    OPENSSL_free(body);
    envelope_keyblock_free(kb);
    if (s == ENVELOPE_OK && !fill)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "no key block loaded");
    if (s == ENVELOPE_OK && !ours)
        return env_fail(err, ENVELOPE_ERR_STATE, "forked while a key block was loaded");
    return s;
}

/* A miss with find_keyblock: the store's key block for id, loaded. */
static envelope_status fetch(envelope_recorder *r, rec_worker *w, const uint8_t *id, uint64_t h,
                             int32_t i, const envelope_context *expected, envelope_err *err)
{
    envelope_status s = ENVELOPE_OK;
    envelope_keyblock *kb = NULL;
    uint8_t *body = NULL, got[ENVELOPE_DEK_ID_BYTES];
    size_t len = 0;
    if (w->kbbuf == NULL && (w->kbbuf = OPENSSL_malloc(ENVELOPE_MAX_KEYBLOCK_BYTES)) == NULL)
        s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (s == ENVELOPE_OK) {
        int found = r->find_keyblock(r->user, id, w->kbbuf, ENVELOPE_MAX_KEYBLOCK_BYTES, &len);
        if (found == 0)
            s = unknown_id(err);
        else if (found != 1)
            s = env_fail(err, ENVELOPE_ERR_OUTPUT,
                         "find_keyblock failed (returned %d); the record was not opened", found);
        else if (len > ENVELOPE_MAX_KEYBLOCK_BYTES)
            s = env_fail(err, ENVELOPE_ERR_OUTPUT,
                         "find_keyblock gave a length of %zu bytes, over its buffer's %u", len,
                         ENVELOPE_MAX_KEYBLOCK_BYTES);
    }
    if (s == ENVELOPE_OK)
        s = precheck(w->kbbuf, len, id, expected, got, NULL, err);
    if (s == ENVELOPE_OK)
        s = load(r, w->kbbuf, len, expected, &kb, &body, err);
    return settle(r, h, i, kb, body, w, s, err);
}

/* The record key for DEK id into w->kb, with expected checked against its
 * key block's context. */
static envelope_status open_key(envelope_recorder *r, rec_worker *w, const uint8_t *id,
                                const envelope_context *expected, envelope_err *err)
{
    rec_table *t = &r->kbs;
    uint64_t h = rec_hash(id, ENVELOPE_DEK_ID_BYTES, NULL, 0);
    pthread_mutex_lock(&t->lock);
    rec_check_fork(t);
    for (;;) {
        int32_t i = rec_find(t, h, id, ENVELOPE_DEK_ID_BYTES);
        if (i >= 0 && t->e[i].state == REC_PENDING) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        if (i >= 0) {
            size_t bl = t->e[i].body_len;
            take_key(t, i, w);
            memcpy(w->scratch, t->e[i].body, bl); /* at most ENV_KB_MAX_BODY */
            rec_touch(t, i);
            pthread_mutex_unlock(&t->lock);
            return check_context(expected, w->scratch, bl, err);
        }
        if (r->find_keyblock == NULL) {
            pthread_mutex_unlock(&t->lock);
            return unknown_id(err);
        }
        if ((i = kbs_insert(r, h, id)) == -1) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        if (i == -2)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        return fetch(r, w, id, h, i, expected, err);
    }
}

envelope_status envelope_recorder_add_keyblock(envelope_recorder *r, const uint8_t *bytes,
                                               size_t len, const envelope_context *expected,
                                               envelope_err *err)
{
    env_err_clear(err);
    if (r == NULL || bytes == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "envelope_recorder_add_keyblock: NULL argument");
    if (expected == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "envelope_recorder_add_keyblock: no expected context; pass the pairs the "
                        "key block must carry (an empty context checks none)");
    uint8_t id[ENVELOPE_DEK_ID_BYTES];
    size_t body_len = 0;
    ENV_GUARD(precheck(bytes, len, NULL, expected, id, &body_len, err));
    rec_table *t = &r->kbs;
    uint64_t h = rec_hash(id, sizeof(id), NULL, 0);
    pthread_mutex_lock(&t->lock);
    rec_check_fork(t);
    for (;;) {
        int32_t i = rec_find(t, h, id, sizeof(id));
        if (i >= 0 && t->e[i].state == REC_PENDING) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        if (i >= 0) { /* held: the same authenticated part, or refused */
            int same = t->e[i].body_len == body_len && memcmp(t->e[i].body, bytes, body_len) == 0;
            if (same)
                rec_touch(t, i);
            pthread_mutex_unlock(&t->lock);
            return same ? ENVELOPE_OK
                        : env_fail(err, ENVELOPE_ERR_DEK_ID_CONFLICT,
                                   "a different key block with this DEK id is already held; the "
                                   "new one was refused");
        }
        if ((i = kbs_insert(r, h, id)) == -1) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        if (i == -2)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        envelope_keyblock *kb = NULL;
        uint8_t *body = NULL;
        envelope_status s = load(r, bytes, len, expected, &kb, &body, err);
        return settle(r, h, i, kb, body, NULL, s, err);
    }
}

/* ---- sealing ---- */
/* Keeps a key block the recorder made for opening its records too (body
 * is taken). Best effort: with every entry PENDING it is not kept, and a
 * record under it then needs find_keyblock like anyone else's. */
static void kbs_keep(envelope_recorder *r, const envelope_keyblock *kb, uint8_t *body)
{
    rec_table *t = &r->kbs;
    uint64_t h = rec_hash(kb->id, ENVELOPE_DEK_ID_BYTES, NULL, 0);
    pthread_mutex_lock(&t->lock);
    rec_check_fork(t);
    int32_t i = rec_find(t, h, kb->id, ENVELOPE_DEK_ID_BYTES);
    if (i < 0 && (i = kbs_insert(r, h, kb->id)) >= 0) {
        put_key(t, i, kb);
        t->e[i].body = body;
        t->e[i].body_len = kb->body_len;
        t->e[i].state = REC_LIVE;
        body = NULL;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    OPENSSL_free(body);
}

/* A new window for the PENDING seal entry i: a key block made, stored by
 * the caller, then the entry's. */
static envelope_status new_window(envelope_recorder *r, rec_worker *w,
                                  const envelope_context *context, uint64_t h, int32_t i,
                                  uint64_t bytes, envelope_err *err)
{
    rec_table *tb = &r->seal;
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    eo.keks = r->keks;
    eo.nkeks = r->nkeks;
    eo.context = context;
    envelope_keyblock *kb = NULL;
    uint8_t *body = NULL;
    envelope_status s = env_kb_new(r->lib, &eo, 0, ENV_KB_NO_REUSE | ENV_KB_LOCKED, &kb, err);
    if (s == ENVELOPE_OK) {
        __atomic_add_fetch(&r->deks_made, 1, __ATOMIC_RELAXED);
        if ((body = OPENSSL_memdup(kb->bytes, kb->body_len)) == NULL)
            s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    if (s == ENVELOPE_OK) {
        int rc = r->on_keyblock(r->user, kb->id, kb->bytes, kb->len);
        if (rc != 0)
            s = env_fail(err, ENVELOPE_ERR_OUTPUT,
                         "on_keyblock returned %d: the new key block was not stored, so no record "
                         "was sealed under it (the next seal of this context makes another)",
                         rc);
    }
    /* held for opening before the first record under it can exist (a
     * thread of this context may open what it sealed at once) */
    if (s == ENVELOPE_OK) {
        kbs_keep(r, kb, body);
        body = NULL;
    }
    pthread_mutex_lock(&tb->lock);
    rec_entry *e = &tb->e[i];
    int ours = e->state == REC_PENDING && e->hash == h;
    if (s == ENVELOPE_OK && ours) {
        put_key(tb, i, kb);
        e->messages = 1;
        e->bytes = bytes;
        e->born_ms = rec_now_ms();
        e->state = REC_LIVE;
        take_key(tb, i, w);
    } else if (ours) {
        rec_remove(tb, i);
    }
    pthread_cond_broadcast(&tb->cond);
    pthread_mutex_unlock(&tb->lock);
    if (s == ENVELOPE_OK && !ours)
        s = env_fail(err, ENVELOPE_ERR_STATE, "forked during a seal");
    OPENSSL_free(body);
    envelope_keyblock_free(kb);
    return s;
}

/* The record key of this context's key block into w->kb, counting the
 * record into its window. */
static envelope_status seal_key(envelope_recorder *r, rec_worker *w,
                                const envelope_context *context, const uint8_t *ctx_enc,
                                size_t clen, uint64_t bytes, envelope_err *err)
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
            tb->e[i].messages++;
            tb->e[i].bytes += bytes;
            take_key(tb, i, w);
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
        return new_window(r, w, context, h, i, bytes, err);
    }
}

envelope_status rec_compact_seal(envelope_recorder *r, const envelope_context *context,
                                 const uint8_t *ctx_enc, size_t clen, const uint8_t *in,
                                 size_t inlen, uint8_t *out, size_t outsize, size_t *outlen,
                                 envelope_err *err)
{
    size_t need = envelope_record_sealed_size(inlen);
    if (need == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "record is %zu bytes; a compact record holds at most %u", inlen,
                        ENVELOPE_RECORD_MAX_PLAINTEXT);
    if (outsize < need) {
        *outlen = need;
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "output buffer has %zu bytes, the record needs %zu", outsize, need);
    }
    envelope_status s = ENVELOPE_OK;
    rec_worker *w = rec_worker_get(r, &s, err);
    if (w == NULL)
        return s;
    s = worker_compact(r, w, err);
    if (s == ENVELOPE_OK)
        s = seal_key(r, w, context, ctx_enc, clen, inlen, err);
    if (s == ENVELOPE_OK)
        s = envelope_record_seal(w->rc, &w->kb, NULL, 0, in, inlen, out, outsize, outlen, err);
    rec_worker_put(r, w);
    return s;
}

envelope_status rec_compact_open(envelope_recorder *r, const envelope_context *expected,
                                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outsize,
                                 size_t *outlen, envelope_err *err)
{
    const uint8_t *id = NULL;
    ENV_GUARD(envelope_record_dek_id(in, inlen, &id, err));
    size_t len = inlen - ENVELOPE_RECORD_OVERHEAD;
    if (outsize < len) {
        *outlen = len;
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL,
                        "plaintext buffer has %zu bytes, the record holds %zu", outsize, len);
    }
    envelope_status s = ENVELOPE_OK;
    rec_worker *w = rec_worker_get(r, &s, err);
    if (w == NULL)
        return s;
    s = worker_compact(r, w, err);
    if (s == ENVELOPE_OK)
        s = open_key(r, w, id, expected, err);
    if (s == ENVELOPE_OK)
        s = envelope_record_open(w->rc, &w->kb, NULL, 0, in, inlen, out, outsize, outlen, err);
    rec_worker_put(r, w);
    return s;
}
