/*
 * kem_reuse.c - see kem_reuse.h.
 *
 * Why it is opt-in twice (the configuration and the caller): a generic KEM
 * caller may assume that every encapsulate yields a fresh secret, and a
 * reused one is the same key for several messages. libenvelope is safe
 * with it because each message derives its own data key from the DEK and a
 * fresh message id (docs/FORMAT.md §5.1); a caller that asks for reuse
 * takes on that duty. The AAD is part of the window's name, so a caller
 * that binds a tenant or context into the AAD (as libenvelope's wrap AAD
 * does) never gets another tenant's secret.
 *
 * Sixty-four windows; secrets in one locked slab (core/secmem), wiped when
 * a window is used up, expires, is evicted or the provider unloads. In a
 * forked child the first call resets the table (the parent's secrets are
 * wiped and its lock, possibly held by a thread that does not exist in
 * the child, is made anew), as the unwrap cache does.
 */
#include "kem_reuse.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secmem.h"

#define SLOTS 64

struct slot {
    unsigned char name[32];
    int live;
    uint64_t uses, born_ms, used_ms;
    size_t bloblen;
    unsigned char blob[ENVPROV_KEM_REUSE_BLOB_MAX];
};

struct envprov_kem_reuse {
    pthread_mutex_t lock;
    int pid; /* 0 while a forked child resets the table */
    uint64_t max_messages, max_ms;
    unsigned char *secrets; /* secmem, SLOTS * ENVPROV_KEM_REUSE_SECRET */
    envprov_kem_reuse_stats st;
    struct slot s[SLOTS];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wipe(envprov_kem_reuse *r, size_t i)
{
    OPENSSL_cleanse(r->secrets + i * ENVPROV_KEM_REUSE_SECRET, ENVPROV_KEM_REUSE_SECRET);
    memset(&r->s[i], 0, sizeof(r->s[i]));
}

static void ensure_ours(envprov_kem_reuse *r)
{
    int me = (int)getpid();
    int seen = __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE);
    if (seen == me)
        return;
    if (seen != 0 &&
        __atomic_compare_exchange_n(&r->pid, &seen, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        pthread_mutex_init(&r->lock, NULL);
        for (size_t i = 0; i < SLOTS; i++)
            wipe(r, i);
        memset(&r->st, 0, sizeof(r->st));
        __atomic_store_n(&r->pid, me, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&r->pid, __ATOMIC_ACQUIRE) != me)
        sched_yield();
}

envprov_kem_reuse *envprov_kem_reuse_new(uint64_t max_messages, uint64_t max_ms)
{
    if (max_messages < 2 || max_ms == 0)
        return NULL;
    envprov_kem_reuse *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->secrets = envelope_secmem_alloc(SLOTS * ENVPROV_KEM_REUSE_SECRET);
    if (r->secrets == NULL || pthread_mutex_init(&r->lock, NULL) != 0) {
        envelope_secmem_free(r->secrets);
        free(r);
        return NULL;
    }
    r->max_messages = max_messages;
    r->max_ms = max_ms;
    r->pid = (int)getpid();
    return r;
}

void envprov_kem_reuse_free(envprov_kem_reuse *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        wipe(r, i);
    envelope_secmem_free(r->secrets);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int envprov_kem_reuse_take(envprov_kem_reuse *r, const unsigned char name[32],
                           unsigned char secret[ENVPROV_KEM_REUSE_SECRET], unsigned char *blob,
                           size_t *bloblen, size_t cap)
{
    int got = 0;
    ensure_ours(r);
    pthread_mutex_lock(&r->lock);
    uint64_t now = now_ms();
    for (size_t i = 0; i < SLOTS; i++) {
        struct slot *s = &r->s[i];
        if (!s->live || CRYPTO_memcmp(s->name, name, 32) != 0)
            continue;
        if (s->uses >= r->max_messages || now - s->born_ms >= r->max_ms) {
            wipe(r, i); /* its window is over: the caller wraps a new secret */
            break;
        }
        if (s->bloblen > cap)
            break; /* the caller's buffer is too small for it: wrap anew */
        memcpy(secret, r->secrets + i * ENVPROV_KEM_REUSE_SECRET, ENVPROV_KEM_REUSE_SECRET);
        memcpy(blob, s->blob, s->bloblen);
        *bloblen = s->bloblen;
        s->uses++;
        s->used_ms = now;
        r->st.reused++;
        got = 1;
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

void envprov_kem_reuse_put(envprov_kem_reuse *r, const unsigned char name[32],
                           const unsigned char secret[ENVPROV_KEM_REUSE_SECRET],
                           const unsigned char *blob, size_t bloblen)
{
    if (bloblen > ENVPROV_KEM_REUSE_BLOB_MAX)
        return;
    ensure_ours(r);
    pthread_mutex_lock(&r->lock);
    size_t victim = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (r->s[i].live && memcmp(r->s[i].name, name, 32) == 0) {
            victim = i; /* a racing caller's window for the same name: replace it */
            break;
        }
        if (!r->s[i].live) {
            victim = i;
            break;
        }
        if (r->s[i].used_ms < r->s[victim].used_ms)
            victim = i;
    }
    wipe(r, victim);
    struct slot *s = &r->s[victim];
    memcpy(s->name, name, 32);
    memcpy(r->secrets + victim * ENVPROV_KEM_REUSE_SECRET, secret, ENVPROV_KEM_REUSE_SECRET);
    memcpy(s->blob, blob, bloblen);
    s->bloblen = bloblen;
    s->live = 1;
    s->uses = 1;
    s->born_ms = s->used_ms = now_ms();
    r->st.windows++;
    pthread_mutex_unlock(&r->lock);
}

void envprov_kem_reuse_get_stats(envprov_kem_reuse *r, envprov_kem_reuse_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (r == NULL)
        return;
    ensure_ours(r);
    pthread_mutex_lock(&r->lock);
    *st = r->st;
    pthread_mutex_unlock(&r->lock);
}
