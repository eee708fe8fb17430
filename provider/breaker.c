/*
 * breaker.c - see breaker.h.
 */
#include "breaker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "uri_match.h"

#define HOMES_MAX 32
#define HOME_NAME_MAX 160

struct home {
    char name[HOME_NAME_MAX];
    uint64_t open_until_ms; /* 0: closed */
    uint64_t failed_at_ms;
    int probing;       /* a half-open probe is in flight */
    unsigned failures; /* fast unreachable failures in a row */
};

struct envprov_breaker {
    pthread_mutex_t lock;
    uint64_t window_ms;
    struct home homes[HOMES_MAX];
    size_t n;
    struct envprov_breaker *next_live; /* the list the fork handler resets */
};

/* Fork: a child is a copy of the forking thread alone, so a breaker lock
 * another thread held at fork() would stay held in the child for ever, and
 * a probe in flight (probing = 1) would never finish there. The child
 * handler resets every breaker: new lock, every home closed (the child
 * learns for itself which homes are down). No prepare handler takes the
 * locks: one would have to be ordered against the PKCS#11 client's fork
 * gate (hsm/hsm_fork.c), whose prepare waits for threads that may still
 * need a breaker lock on their way out. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static envprov_breaker *live_list;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void breaker_child(void)
{
    pthread_mutex_init(&live_lock, NULL);
    for (envprov_breaker *b = live_list; b != NULL; b = b->next_live) {
        pthread_mutex_init(&b->lock, NULL);
        memset(b->homes, 0, sizeof(b->homes));
        b->n = 0;
    }
}

static void breaker_install(void)
{
    (void)pthread_atfork(NULL, NULL, breaker_child);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

envprov_breaker *envprov_breaker_new(uint64_t window_ms)
{
    if (window_ms == 0)
        return NULL;
    envprov_breaker *b = calloc(1, sizeof(*b));
    if (b == NULL || pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b);
        return NULL;
    }
    b->window_ms = window_ms;
    pthread_once(&fork_once, breaker_install);
    pthread_mutex_lock(&live_lock);
    b->next_live = live_list;
    live_list = b;
    pthread_mutex_unlock(&live_lock);
    return b;
}

void envprov_breaker_free(envprov_breaker *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&live_lock);
    for (envprov_breaker **p = &live_list; *p != NULL; p = &(*p)->next_live)
        if (*p == b) {
            *p = b->next_live;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* "scheme:token=T;serial=S" from a URI (what is known of its home). */
static void home_of(const char *uri, char *out, size_t size)
{
    size_t sl = strcspn(uri, ":");
    char token[64] = "", serial[64] = "";
    envcore_uri_attribute(uri, "token", token, sizeof(token));
    envcore_uri_attribute(uri, "serial", serial, sizeof(serial));
    snprintf(out, size, "%.*s:%s%s%s%s", (int)(sl < 32 ? sl : 32), uri, token[0] ? "token=" : "",
             token, serial[0] ? ";serial=" : "", serial);
}

/* Whether any home has a slot (one failed at some time). Homes are only
 * added under the lock; a stale 0 read here only means a call that began as
 * a home's first failure was being recorded, which the next call sees.
 * This spares the common path (nothing ever failed) the URI parsing of
 * home_of, ≈ 2.6 k instructions per call (bench/README.md). */
static int any_home(envprov_breaker *b)
{
    return __atomic_load_n(&b->n, __ATOMIC_ACQUIRE) != 0;
}

static struct home *find(envprov_breaker *b, const char *name, int create)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->homes[i].name, name) == 0)
            return &b->homes[i];
    if (!create)
        return NULL;
    if (b->n == HOMES_MAX) { /* reuse a closed slot */
        for (size_t i = 0; i < b->n; i++)
            if (b->homes[i].open_until_ms == 0 && !b->homes[i].probing) {
                memset(&b->homes[i], 0, sizeof(b->homes[i]));
                snprintf(b->homes[i].name, sizeof(b->homes[i].name), "%s", name);
                return &b->homes[i];
            }
        return NULL; /* 32 homes down at once: no breaker for the 33rd */
    }
    struct home *h = &b->homes[b->n];
    snprintf(h->name, sizeof(h->name), "%s", name);
    __atomic_store_n(&b->n, b->n + 1, __ATOMIC_RELEASE);
    return h;
}

int envprov_breaker_enter(envprov_breaker *b, const char *uri, envprov_breaker_ticket *t)
{
    t->probe = 0;
    t->start_ms = now_ms();
    if (b == NULL || uri == NULL || !any_home(b))
        return ENVCORE_R_OK; /* no home has failed: nothing to look up */
    char name[HOME_NAME_MAX];
    home_of(uri, name, sizeof(name));
    pthread_mutex_lock(&b->lock);
    struct home *h = find(b, name, 0);
    uint64_t now = now_ms();
    int r = ENVCORE_R_OK;
    if (h != NULL && h->open_until_ms != 0) {
        if (now >= h->open_until_ms && !h->probing) {
            h->probing = 1; /* half-open: this one call tries the home */
            t->probe = 1;
        } else {
            r = ENVCORE_R_BACKEND_UNAVAILABLE;
        }
    }
    uint64_t ago = h != NULL ? now - h->failed_at_ms : 0;
    uint64_t left = h != NULL && h->open_until_ms > now ? h->open_until_ms - now : 0;
    pthread_mutex_unlock(&b->lock);
    if (r != ENVCORE_R_OK)
        ENVCORE_RAISE(r,
                      "backend unavailable: %s failed %llu ms ago; it is not asked again for "
                      "another %llu ms (breaker-window)",
                      name, (unsigned long long)ago, (unsigned long long)left);
    return r;
}

void envprov_breaker_leave(envprov_breaker *b, const char *uri, const envprov_breaker_ticket *t,
                           int reason)
{
    if (b == NULL || uri == NULL)
        return;
    int down = reason == ENVCORE_R_BACKEND_UNAVAILABLE || reason == ENVCORE_R_TOKEN_NOT_PRESENT;
    uint64_t now = now_ms();
    int slow = now - t->start_ms >= ENVPROV_BREAKER_SLOW_MS;
    if (!down && !any_home(b))
        return; /* an answer, and no home to close */
    char name[HOME_NAME_MAX];
    home_of(uri, name, sizeof(name));
    pthread_mutex_lock(&b->lock);
    struct home *h = find(b, name, down);
    if (h != NULL) {
        if (t->probe)
            h->probing = 0;
        if (down && !slow && !t->probe && h->open_until_ms == 0 &&
            ++h->failures < ENVPROV_BREAKER_FAST_FAILURES) {
            /* one quick failure: the next call may well succeed */
        } else if (down) {
            h->failures = 0;
            h->failed_at_ms = now;
            h->open_until_ms = now + b->window_ms;
            envcore_debug("breaker: %s is down; calls to it fail at once for %llu ms", name,
                          (unsigned long long)b->window_ms);
        } else if (h->open_until_ms == 0 || t->probe || !h->probing) {
            if (h->open_until_ms != 0)
                envcore_debug("breaker: %s answers again", name);
            h->open_until_ms = 0; /* it answered: closed */
            h->failures = 0;
        }
    }
    pthread_mutex_unlock(&b->lock);
}
