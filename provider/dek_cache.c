/*
 * dek_cache.c - see dek_cache.h.
 *
 * One mutex guards the table; it is held only for lookups and bookkeeping,
 * never across a backend call. An entry is PENDING while its first caller
 * unwraps (later callers wait on the condition variable: single-flight),
 * READY with its DEK in the slab, or FAILED once its unwrap failed (then
 * out of the table: a new caller starts afresh; the waiters of that call
 * read its error and the last one frees the entry).
 */
#include "dek_cache_shard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "errors.h"
#include "secmem.h"

enum { E_FREE, E_PENDING, E_READY, E_FAILED };

struct entry {
    unsigned char key[32];
    int state;
    unsigned waiters;
    int refreshing;
    uint64_t expires_ms, ttl_ms;
    uint64_t validated_ms; /* when the key's home last gave this DEK */
    int retry;             /* FAILED for the leader's own reason: waiters try themselves */
    size_t dek_len;
    int fail_reason;
    char fail_msg[256];
    struct entry *hnext;               /* hash chain */
    struct entry *lru_prev, *lru_next; /* READY entries, most recent first */
    struct entry *free_next;
};

struct shard {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* an entry left PENDING, or a refresh ended */
    int pid;                /* process the table belongs to (0: being reset) */
    unsigned gen;           /* bumped when a forked child resets the table */
    uint64_t ttl_ms;
    size_t capacity, nbuckets, nready;
    struct entry *entries; /* capacity of them; entry i uses slab slot i */
    struct entry **buckets;
    struct entry *lru_head, *lru_tail, *free_list;
    void *slab_alloc;    /* the secmem allocation */
    unsigned char *slab; /* page-aligned inside it: the slots */
    size_t slab_len;
    unsigned nrefresh; /* refresh threads running */
    int stopping;      /* being freed: no new refresh */
    size_t sweep;      /* next entry the expiry sweep looks at */
    uint64_t sweep_ms; /* clock at the last sweep */
    /* a word in a MADV_WIPEONFORK page, nonzero while the table is this
     * process's: a forked child reads 0 (NULL when the kernel cannot) */
    volatile int *fork_canary;
    uint64_t (*clock)(void);
    envprov_cache_stats st;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned char *slot(struct shard *c, const struct entry *e)
{
    return c->slab + (size_t)(e - c->entries) * ENVPROV_CACHE_DEK_MAX;
}

static size_t bucket_of(const struct shard *c, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h)); /* a SHA-256: already uniform */
    return (size_t)(h & (c->nbuckets - 1));
}

static void table_reset(struct shard *c)
{
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
    memset(c->entries, 0, c->capacity * sizeof(*c->entries));
    OPENSSL_cleanse(c->slab, c->slab_len);
    c->lru_head = c->lru_tail = c->free_list = NULL;
    for (size_t i = c->capacity; i-- > 0;) {
        c->entries[i].free_next = c->free_list;
        c->free_list = &c->entries[i];
    }
    c->nready = 0;
}

struct shard *envprov_shard_new(uint64_t ttl_ms, size_t capacity)
{
    if (ttl_ms == 0 || capacity == 0)
        return NULL;
    if (capacity > ENVPROV_CACHE_CAPACITY_MAX)
        capacity = ENVPROV_CACHE_CAPACITY_MAX;
    struct shard *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    c->ttl_ms = ttl_ms > ENVPROV_CACHE_TTL_MAX_MS ? ENVPROV_CACHE_TTL_MAX_MS : ttl_ms;
    c->capacity = capacity;
    for (c->nbuckets = 16; c->nbuckets < 2 * capacity; c->nbuckets <<= 1)
        ;
    c->entries = calloc(capacity, sizeof(*c->entries));
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    c->slab_len = (capacity * ENVPROV_CACHE_DEK_MAX + pg - 1) / pg * pg;
    /* one page more, so the slots can start on a page boundary of their
     * own, and one for the fork canary after them */
    c->slab_alloc = envelope_secmem_alloc(c->slab_len + 2 * pg);
    if (c->entries == NULL || c->buckets == NULL || c->slab_alloc == NULL ||
        pthread_mutex_init(&c->lock, NULL) != 0) {
        envelope_secmem_free(c->slab_alloc);
        free(c->entries);
        free(c->buckets);
        free(c);
        return NULL;
    }
    pthread_cond_init(&c->changed, NULL);
    c->slab = (unsigned char *)(((uintptr_t)c->slab_alloc + pg - 1) & ~(uintptr_t)(pg - 1));
#ifdef MADV_WIPEONFORK
    /* A forked child sees zeros here: it starts with no DEK of ours. The
     * lazy reset below (pid check) wipes again where the kernel cannot. */
    if (madvise(c->slab, c->slab_len + pg, MADV_WIPEONFORK) != 0)
        envcore_debug("cache: MADV_WIPEONFORK unavailable (%s); a child wipes at first use",
                      ENVCORE_ERRNO_TEXT(errno));
    else
        c->fork_canary = (volatile int *)(void *)(c->slab + c->slab_len);
#endif
    table_reset(c);
    c->clock = now_ms;
    c->pid = (int)getpid();
    if (c->fork_canary != NULL)
        __atomic_store_n(c->fork_canary, 1, __ATOMIC_RELEASE);
    return c;
}

/*
 * In a forked child the table, its lock and the refresh threads belong to
 * the parent: the first call in the child resets them (one thread does it;
 * others wait for pid to be ours). Only the forking thread exists in the
 * child, and it held no cache lock (a backend call is never made with it).
 */
static void ensure_ours(struct shard *c)
{
    /* the hot path: no getpid() system call while the canary stands */
    if (c->fork_canary != NULL && __atomic_load_n(c->fork_canary, __ATOMIC_ACQUIRE) != 0)
        return;
    int me = (int)getpid();
    int seen = __atomic_load_n(&c->pid, __ATOMIC_ACQUIRE);
    if (seen == me)
        return;
    if (seen != 0 &&
        __atomic_compare_exchange_n(&c->pid, &seen, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->changed, NULL);
        table_reset(c);
        memset(&c->st, 0, sizeof(c->st));
        c->nrefresh = 0;
        c->gen++;
        if (c->fork_canary != NULL)
            __atomic_store_n(c->fork_canary, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&c->pid, me, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&c->pid, __ATOMIC_ACQUIRE) != me)
        sched_yield();
}

static struct entry *find(struct shard *c, const unsigned char key[32])
{
    for (struct entry *e = c->buckets[bucket_of(c, key)]; e != NULL; e = e->hnext)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static void unlink_hash(struct shard *c, struct entry *e)
{
    for (struct entry **p = &c->buckets[bucket_of(c, e->key)]; *p != NULL; p = &(*p)->hnext)
        if (*p == e) {
            *p = e->hnext;
            e->hnext = NULL;
            return;
        }
}

static void lru_unlink(struct shard *c, struct entry *e)
{
    if (e->lru_prev != NULL)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next != NULL)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct shard *c, struct entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head != NULL)
        c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (c->lru_tail == NULL)
        c->lru_tail = e;
}

/* Back to the free list, its slot wiped. */
static void release(struct shard *c, struct entry *e)
{
    OPENSSL_cleanse(slot(c, e), ENVPROV_CACHE_DEK_MAX);
    memset(e, 0, sizeof(*e));
    e->free_next = c->free_list;
    c->free_list = e;
}

/* A READY entry leaves: out of the table and the LRU list, wiped. */
static void drop_ready(struct shard *c, struct entry *e)
{
    unlink_hash(c, e);
    lru_unlink(c, e);
    c->nready--;
    release(c, e);
}

/* The least recently used READY entry that no waiter is about to read
 * (a pinned entry stays until its waiters have copied the DEK). A refresh
 * in flight for the victim later finds it gone, which is harmless. */
static struct entry *take_free(struct shard *c)
{
    if (c->free_list == NULL) {
        struct entry *victim = c->lru_tail;
        while (victim != NULL && victim->waiters > 0)
            victim = victim->lru_prev;
        if (victim != NULL) {
            drop_ready(c, victim);
            c->st.evictions++;
        }
    }
    struct entry *e = c->free_list;
    if (e != NULL)
        c->free_list = e->free_next;
    return e; /* NULL: every entry is PENDING (more concurrent misses than capacity) */
}

/* Wipes expired entries a couple at a time, on every call, so that a DEK
 * does not outlive its TTL in memory by much more than the next use of the
 * cache (and the whole slab is wiped when the provider is unloaded). */
/*
 * Wipes expired entries nobody looks up again: two entries per millisecond
 * since the shard's last sweep, at most the whole shard. A busy shard pays
 * a cache miss or two per millisecond rather than per call (the entries are
 * cold), and an idle one is swept whole at its next call.
 */
static void sweep_expired(struct shard *c, uint64_t now)
{
    if (now <= c->sweep_ms)
        return;
    uint64_t due = now - c->sweep_ms;
    c->sweep_ms = now;
    due = due > c->capacity / 2 ? c->capacity : due * 2;
    for (uint64_t n = 0; n < due; n++) {
        struct entry *e = &c->entries[c->sweep];
        if (++c->sweep == c->capacity)
            c->sweep = 0;
        if (e->state == E_READY && e->waiters == 0 && now >= e->expires_ms) {
            drop_ready(c, e);
            c->st.expirations++;
        }
    }
}

/* Copies the failing call's reason so that every waiter can raise it. */
static void record_failure(struct entry *e, int reason)
{
    const char *data = NULL;
    int flags = 0;
    ERR_peek_last_error_data(&data, &flags);
    e->fail_reason = reason != ENVCORE_R_OK ? reason : ENVCORE_R_INTERNAL;
    snprintf(e->fail_msg, sizeof(e->fail_msg), "%s",
             data != NULL && (flags & ERR_TXT_STRING) ? data : "unwrap failed");
}

struct refresh_arg {
    struct shard *c;
    envprov_unwrap_job *job;
    unsigned char key[32];
    unsigned gen;
};

static void *refresh_main(void *p)
{
    struct refresh_arg *a = p;
    struct shard *c = a->c;
    unsigned char *dek = envelope_secmem_alloc(ENVPROV_CACHE_DEK_MAX);
    size_t len = 0;
    int r = dek != NULL ? a->job->run(a->job, dek, &len, ENVPROV_CACHE_DEK_MAX)
                        : ENVCORE_R_INTERNAL;
    ERR_clear_error(); /* nobody reads this thread's queue */
    pthread_mutex_lock(&c->lock);
    if (a->gen == c->gen) {
        struct entry *e = find(c, a->key);
        c->st.backend_calls++;
        if (r != ENVCORE_R_OK) {
            /* the entry keeps its expiry: a failure never extends it */
            c->st.backend_errors++;
            c->st.refresh_failures++;
        }
        if (e != NULL && e->state == E_READY) {
            e->refreshing = 0;
            if (r == ENVCORE_R_OK && len == e->dek_len &&
                CRYPTO_memcmp(dek, slot(c, e), len) == 0) {
                e->validated_ms = c->clock();
                e->expires_ms = e->validated_ms + e->ttl_ms;
            } else if (r == ENVCORE_R_OK && e->waiters == 0) /* it answers otherwise now */
                drop_ready(c, e);
        }
    }
    pthread_mutex_unlock(&c->lock);
    /* Drop the KEK reference (and so maybe the backend's key) before the
     * refresh counts as done: teardown, which waits for nrefresh to reach
     * 0, frees the backends right after. */
    envelope_secmem_free(dek);
    a->job->free(a->job);
    unsigned gen = a->gen;
    free(a);
    pthread_mutex_lock(&c->lock);
    if (gen == c->gen) {
        c->nrefresh--;
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Under the lock: starts one background re-validation of e, if it can. */
#define REFRESH_MAX 4 /* per shard: a hung backend cannot collect threads */

static void start_refresh(struct shard *c, struct entry *e, const envprov_unwrap_job *job)
{
    if (c->stopping || c->nrefresh >= REFRESH_MAX)
        return; /* the entry expires on time; a later hit may refresh it */
    struct refresh_arg *a = calloc(1, sizeof(*a));
    envprov_unwrap_job *copy = a != NULL && job->clone != NULL ? job->clone(job) : NULL;
    pthread_attr_t attr;
    pthread_t t;
    if (copy == NULL) {
        free(a);
        return;
    }
    a->c = c;
    a->job = copy;
    a->gen = c->gen;
    memcpy(a->key, e->key, 32);
    e->refreshing = 1;
    c->nrefresh++;
    c->st.refreshes++;
    int ok = pthread_attr_init(&attr) == 0;
    ok = ok && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
         pthread_create(&t, &attr, refresh_main, a) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        e->refreshing = 0;
        c->nrefresh--;
        c->st.refreshes--;
        copy->free(copy);
        free(a);
    }
}

int envprov_shard_unwrap(struct shard *c, const unsigned char key[32], uint64_t ttl_ms,
                         envprov_unwrap_job *job, unsigned char *out, size_t *outlen,
                         size_t outsize)
{
    if (c == NULL || ttl_ms == 0)
        return job->run(job, out, outlen, outsize);
    ensure_ours(c);
    if (ttl_ms > c->ttl_ms)
        ttl_ms = c->ttl_ms; /* a caller may shorten the lifetime, never extend it */
    pthread_mutex_lock(&c->lock);
    uint64_t now = c->clock();
    sweep_expired(c, now);
    struct entry *e = find(c, key);
    if (e != NULL && e->state == E_READY && now >= e->expires_ms) {
        if (e->waiters > 0) { /* pinned by waiters still to copy it: go around it */
            pthread_mutex_unlock(&c->lock);
            return job->run(job, out, outlen, outsize);
        }
        drop_ready(c, e);
        c->st.expirations++;
        e = NULL;
    }
    if (e != NULL && e->state == E_READY && ttl_ms < c->ttl_ms && now - e->validated_ms >= ttl_ms) {
        /* older than this caller accepts: ask the home, keep nothing new */
        pthread_mutex_unlock(&c->lock);
        return job->run(job, out, outlen, outsize);
    }
    if (e != NULL && e->state == E_READY) {
        if (e->dek_len > outsize) {
            pthread_mutex_unlock(&c->lock);
            ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the key");
            return ENVCORE_R_BUFFER_TOO_SMALL;
        }
        c->st.hits++;
        memcpy(out, slot(c, e), e->dek_len);
        *outlen = e->dek_len;
        lru_unlink(c, e);
        lru_push(c, e);
        /* refresh-ahead: used in the last tenth of its life */
        if (!e->refreshing && now + e->ttl_ms / 10 >= e->expires_ms)
            start_refresh(c, e, job);
        pthread_mutex_unlock(&c->lock);
        return ENVCORE_R_OK;
    }
    if (e != NULL) { /* PENDING: another caller is unwrapping it; wait for its answer */
        unsigned gen = c->gen;
        c->st.joins++;
        job->joined = 1;
        e->waiters++;
        while (e->state == E_PENDING && gen == c->gen)
            pthread_cond_wait(&c->changed, &c->lock);
        int r = ENVCORE_R_OK;
        if (gen != c->gen) {
            r = ENVCORE_R_INTERNAL; /* unreachable: a reset happens only in a child */
        } else if (e->state == E_READY && e->dek_len <= outsize) {
            memcpy(out, slot(c, e), e->dek_len);
            *outlen = e->dek_len;
        } else if (e->state == E_FAILED && e->retry) {
            /* the leader failed for its own reason (its buffer): not ours */
            if (--e->waiters == 0)
                release(c, e);
            pthread_mutex_unlock(&c->lock);
            return job->run(job, out, outlen, outsize);
        } else {
            int reason = e->state == E_READY ? ENVCORE_R_BUFFER_TOO_SMALL : e->fail_reason;
            char msg[sizeof(e->fail_msg)];
            memcpy(msg, e->fail_msg, sizeof(msg));
            if (--e->waiters == 0 && e->state == E_FAILED)
                release(c, e);
            pthread_mutex_unlock(&c->lock);
            ENVCORE_RAISE(reason, "%s",
                          reason == ENVCORE_R_BUFFER_TOO_SMALL ? "output buffer "
                                                                 "too small"
                                                               : msg);
            return reason;
        }
        e->waiters--;
        pthread_mutex_unlock(&c->lock);
        return r;
    }
    /* A miss: this caller makes the one backend call. */
    c->st.misses++;
    c->st.backend_calls++;
    e = take_free(c);
    if (e == NULL) {
        pthread_mutex_unlock(&c->lock);
        return job->run(job, out, outlen, outsize);
    }
    unsigned gen = c->gen;
    memcpy(e->key, key, 32);
    e->state = E_PENDING;
    e->ttl_ms = ttl_ms;
    e->hnext = c->buckets[bucket_of(c, key)];
    c->buckets[bucket_of(c, key)] = e;
    pthread_mutex_unlock(&c->lock);

    int r = job->run(job, out, outlen, outsize);

    pthread_mutex_lock(&c->lock);
    if (gen == c->gen) {
        if (r == ENVCORE_R_OK && *outlen <= ENVPROV_CACHE_DEK_MAX) {
            memcpy(slot(c, e), out, *outlen);
            e->dek_len = *outlen;
            e->state = E_READY;
            e->validated_ms = c->clock();
            e->expires_ms = e->validated_ms + ttl_ms;
            lru_push(c, e);
            c->nready++;
        } else {
            if (r != ENVCORE_R_OK)
                record_failure(e, r);
            if (r != ENVCORE_R_OK && r != ENVCORE_R_BUFFER_TOO_SMALL)
                c->st.backend_errors++;
            /* a result that is about this caller (its buffer, a key too
             * long to keep) is not every waiter's: they try themselves */
            e->retry = r == ENVCORE_R_OK || r == ENVCORE_R_BUFFER_TOO_SMALL;
            unlink_hash(c, e);
            e->state = E_FAILED;
            if (e->waiters == 0)
                release(c, e);
        }
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

void envprov_shard_stats(struct shard *c, envprov_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    ensure_ours(c);
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    out->entries = c->nready;
    pthread_mutex_unlock(&c->lock);
}

const unsigned char *envprov_shard_slot(struct shard *c, const unsigned char key[32])
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    const unsigned char *s = e != NULL && e->state == E_READY ? slot(c, e) : NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

void envprov_shard_set_clock(struct shard *c, uint64_t (*clock)(void))
{
    c->clock = clock;
}

void envprov_shard_free(struct shard *c)
{
    if (c == NULL)
        return;
    ensure_ours(c);
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    /* refreshes hold KEK references and write into the table; each ends
     * when its backend call does (the backend's own timeout bounds it) */
    while (c->nrefresh > 0)
        pthread_cond_wait(&c->changed, &c->lock);
    pthread_mutex_unlock(&c->lock);
    OPENSSL_cleanse(c->slab, c->slab_len);
    envelope_secmem_free(c->slab_alloc);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c->buckets);
    free(c);
}
