/*
 * recorder_table.c - see recorder.h. Names are hashed with FNV-1a (the
 * keys are public bytes: a context and an EDK list), compared in full.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "recorder.h"

envelope_status rec_table_init(rec_table *t, size_t cap, uint8_t *deks, size_t stride,
                               envelope_err *err)
{
    memset(t, 0, sizeof(*t));
    t->cap = cap;
    t->deks = deks;
    t->stride = stride;
    t->nbuckets = 16;
    while (t->nbuckets < 2 * cap)
        t->nbuckets *= 2;
    t->e = OPENSSL_zalloc(cap * sizeof(*t->e));
    t->buckets = OPENSSL_malloc(t->nbuckets * sizeof(*t->buckets));
    if (t->e == NULL || t->buckets == NULL) {
        OPENSSL_free(t->e);
        OPENSSL_free(t->buckets);
        memset(t, 0, sizeof(*t));
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        OPENSSL_free(t->e);
        OPENSSL_free(t->buckets);
        memset(t, 0, sizeof(*t));
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "cannot make a mutex");
    }
    if (pthread_cond_init(&t->cond, NULL) != 0) {
        pthread_mutex_destroy(&t->lock);
        OPENSSL_free(t->e);
        OPENSSL_free(t->buckets);
        memset(t, 0, sizeof(*t));
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "cannot make a condition variable");
    }
    for (size_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = -1;
    for (size_t i = 0; i < cap; i++)
        t->e[i].hnext = i + 1 < cap ? (int32_t)(i + 1) : -1;
    t->free_head = cap > 0 ? 0 : -1;
    t->mru = t->lru = -1;
    t->gen = env_fork_generation();
    return ENVELOPE_OK;
}

static void wipe_entry(rec_table *t, int32_t i)
{
    rec_entry *e = &t->e[i];
    OPENSSL_cleanse(rec_dek(t, i), t->stride);
    OPENSSL_free(e->key);
    OPENSSL_free(e->body);
    env_hdrtmpl_cleanup(&e->t);
    memset(e, 0, sizeof(*e));
}

void rec_table_cleanup(rec_table *t)
{
    if (t->e == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++)
        wipe_entry(t, (int32_t)i);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    OPENSSL_free(t->e);
    OPENSSL_free(t->buckets);
    memset(t, 0, sizeof(*t));
}

uint64_t rec_hash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ a[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < blen; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int32_t rec_find(const rec_table *t, uint64_t hash, const uint8_t *key, size_t len)
{
    for (int32_t i = t->buckets[hash & (t->nbuckets - 1)]; i >= 0; i = t->e[i].hnext) {
        const rec_entry *e = &t->e[i];
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return i;
    }
    return -1;
}

static void lru_unlink(rec_table *t, int32_t i)
{
    rec_entry *e = &t->e[i];
    if (e->lprev >= 0)
        t->e[e->lprev].lnext = e->lnext;
    else
        t->mru = e->lnext;
    if (e->lnext >= 0)
        t->e[e->lnext].lprev = e->lprev;
    else
        t->lru = e->lprev;
    e->lprev = e->lnext = -1;
}

static void lru_push(rec_table *t, int32_t i)
{
    rec_entry *e = &t->e[i];
    e->lprev = -1;
    e->lnext = t->mru;
    if (t->mru >= 0)
        t->e[t->mru].lprev = i;
    t->mru = i;
    if (t->lru < 0)
        t->lru = i;
}

void rec_touch(rec_table *t, int32_t i)
{
    if (t->mru == i)
        return;
    lru_unlink(t, i);
    lru_push(t, i);
}

void rec_remove(rec_table *t, int32_t i)
{
    rec_entry *e = &t->e[i];
    int32_t *p = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*p != i)
        p = &t->e[*p].hnext;
    *p = e->hnext;
    lru_unlink(t, i);
    wipe_entry(t, i);
    e->hnext = t->free_head;
    t->free_head = i;
    t->live--;
}

int32_t rec_insert(rec_table *t, uint64_t hash, const uint8_t *key, size_t len)
{
    if (t->free_head < 0) {
        int32_t v = t->lru;
        while (v >= 0 && t->e[v].state != REC_LIVE)
            v = t->e[v].lprev;
        if (v < 0)
            return -1; /* every entry is being filled */
        rec_remove(t, v);
    }
    uint8_t *copy = OPENSSL_memdup(key, len ? len : 1);
    if (copy == NULL)
        return -2;
    int32_t i = t->free_head;
    rec_entry *e = &t->e[i];
    t->free_head = e->hnext;
    e->hash = hash;
    e->key = copy;
    e->key_len = len;
    e->state = REC_PENDING;
    size_t b = hash & (t->nbuckets - 1);
    e->hnext = t->buckets[b];
    t->buckets[b] = i;
    e->lprev = e->lnext = -1;
    lru_push(t, i);
    t->live++;
    return i;
}

void rec_check_fork(rec_table *t)
{
    unsigned long gen = env_fork_generation();
    if (t->gen == gen)
        return;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].state != REC_FREE)
            rec_remove(t, (int32_t)i);
    t->gen = gen;
}
