/* test_dek_cache.c - the provider's unwrap cache (provider/dek_cache.c)
 * with a stand-in job whose calls are counted and can be held back, so
 * that concurrency is forced, not hoped for: single-flight, the same error
 * for every waiter, TTL expiry, LRU eviction with the slot wiped,
 * refresh-ahead that no caller waits for and that never extends a failed
 * entry, a per-call bypass, and a forked child that starts empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "dek_cache.h"
#include "errors.h"

/* ---- a job: counts calls; can block until released; can fail ---- */
typedef struct {
    envprov_unwrap_job base;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls, hold, fail;
    unsigned char dek[32];
} fake_job;

static int fake_run(envprov_unwrap_job *j, unsigned char *out, size_t *outlen, size_t outsize)
{
    fake_job *f = (fake_job *)j;
    pthread_mutex_lock(&f->lock);
    f->calls++;
    pthread_cond_broadcast(&f->cond);
    while (f->hold)
        pthread_cond_wait(&f->cond, &f->lock);
    int fail = f->fail;
    pthread_mutex_unlock(&f->lock);
    if (fail) {
        ENVCORE_RAISE(ENVCORE_R_BACKEND_UNAVAILABLE, "the fake backend is down");
        return ENVCORE_R_BACKEND_UNAVAILABLE;
    }
    assert_true(outsize >= sizeof(f->dek));
    memcpy(out, f->dek, sizeof(f->dek));
    *outlen = sizeof(f->dek);
    return ENVCORE_R_OK;
}

/* The clone shares the counters (the test reads them); freeing it is a no-op. */
static envprov_unwrap_job *fake_clone(const envprov_unwrap_job *j)
{
    return (envprov_unwrap_job *)j;
}

static void fake_free(envprov_unwrap_job *j)
{
    (void)j;
}

static void fake_init(fake_job *f, unsigned char fill)
{
    memset(f, 0, sizeof(*f));
    f->base = (envprov_unwrap_job){.run = fake_run, .clone = fake_clone, .free = fake_free};
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    memset(f->dek, fill, sizeof(f->dek));
}

static void fake_set(fake_job *f, int hold, int fail)
{
    pthread_mutex_lock(&f->lock);
    f->hold = hold;
    f->fail = fail;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static int fake_calls(fake_job *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void key_of(unsigned char key[32], int n)
{
    memset(key, 0, 32);
    key[0] = (unsigned char)n;
    key[31] = (unsigned char)(n >> 8);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static envprov_cache_stats stats(envprov_dek_cache *c)
{
    envprov_cache_stats s;
    envprov_dek_cache_stats(c, &s);
    return s;
}

static int get(envprov_dek_cache *c, int n, fake_job *f, unsigned char out[64])
{
    unsigned char key[32];
    size_t len = 0;
    key_of(key, n);
    return envprov_dek_cache_unwrap(c, key, UINT64_MAX, &f->base, out, &len, 64);
}

static void hit_after_miss(void **state)
{
    (void)state;
    envprov_dek_cache *c = envprov_dek_cache_new(60000, 16);
    fake_job f;
    unsigned char out[64];
    fake_init(&f, 0xA5);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_memory_equal(out, f.dek, 32);
    assert_int_equal(fake_calls(&f), 1);
    envprov_cache_stats s = stats(c);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.backend_calls, 1);
    assert_int_equal(s.entries, 1);
    /* a call that bypasses runs the job and keeps nothing new */
    unsigned char key[32];
    size_t len = 0;
    key_of(key, 2);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 0, &f.base, out, &len, 64), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 2);
    assert_int_equal(stats(c).entries, 1);
    envprov_dek_cache_free(c);
}

/* ---- single-flight ---- */
struct caller {
    envprov_dek_cache *c;
    fake_job *f;
    int rc, reason;
    unsigned char out[64];
};

static void *caller_main(void *p)
{
    struct caller *a = p;
    a->rc = get(a->c, 7, a->f, a->out);
    a->reason = a->rc != ENVCORE_R_OK ? ERR_GET_REASON(ERR_peek_last_error()) : 0;
    ERR_clear_error();
    return NULL;
}

static void run_herd(int fail)
{
    enum { N = 8 };
    envprov_dek_cache *c = envprov_dek_cache_new(60000, 16);
    fake_job f;
    pthread_t t[N];
    struct caller a[N];
    fake_init(&f, 0x3C);
    fake_set(&f, 1, fail); /* the one backend call waits until every caller is in */
    for (int i = 0; i < N; i++) {
        a[i] = (struct caller){c, &f, -1, 0, {0}};
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &a[i]), 0);
    }
    while (stats(c).joins < N - 1) /* all but the first are waiting for it */
        sleep_ms(1);
    assert_int_equal(fake_calls(&f), 1);
    fake_set(&f, 0, fail);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(fake_calls(&f), 1);
    for (int i = 0; i < N; i++) {
        if (fail) { /* everyone gets the one call's error, with its reason */
            assert_int_equal(a[i].rc, ENVCORE_R_BACKEND_UNAVAILABLE);
            assert_int_equal(a[i].reason, ENVCORE_R_BACKEND_UNAVAILABLE);
        } else {
            assert_int_equal(a[i].rc, ENVCORE_R_OK);
            assert_memory_equal(a[i].out, f.dek, 32);
        }
    }
    envprov_cache_stats s = stats(c);
    assert_int_equal(s.backend_calls, 1);
    assert_int_equal(s.joins, N - 1);
    assert_int_equal(s.backend_errors, fail ? 1 : 0);
    assert_int_equal(s.entries, fail ? 0 : 1);
    if (fail) { /* a failure is not kept: the next caller asks again */
        unsigned char out[64];
        assert_int_equal(get(c, 7, &f, out), ENVCORE_R_BACKEND_UNAVAILABLE);
        ERR_clear_error();
        assert_int_equal(fake_calls(&f), 2);
    }
    envprov_dek_cache_free(c);
}

static void single_flight(void **state)
{
    (void)state;
    run_herd(0);
}

static void single_flight_failure(void **state)
{
    (void)state;
    run_herd(1);
}

/* A clock the test moves: no test here depends on how fast the machine is. */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
    return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static void set_now(uint64_t ms)
{
    __atomic_store_n(&fake_now, ms, __ATOMIC_SEQ_CST);
}

static envprov_dek_cache *new_clocked(uint64_t ttl_ms, size_t capacity)
{
    envprov_dek_cache *c = envprov_dek_cache_new(ttl_ms, capacity);
    assert_non_null(c);
    set_now(1000000);
    envprov_dek_cache_set_clock_for_test(c, fake_clock);
    return c;
}

static void ttl_expiry(void **state)
{
    (void)state;
    envprov_dek_cache *c = new_clocked(50, 16);
    fake_job f;
    unsigned char out[64];
    fake_init(&f, 1);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    set_now(1000000 + 44); /* before the refresh window: a plain hit */
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 1);
    set_now(1000000 + 50); /* at the TTL */
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 2);
    assert_int_equal(stats(c).expirations, 1);
    /* a caller's TTL shortens an entry's life, never extends it */
    unsigned char key[32];
    size_t len = 0;
    key_of(key, 9);
    set_now(2000000);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 3600 * 1000, &f.base, out, &len, 64),
                     ENVCORE_R_OK);
    set_now(2000000 + 50);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 3600 * 1000, &f.base, out, &len, 64),
                     ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 4);
    key_of(key, 10);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 10, &f.base, out, &len, 64), ENVCORE_R_OK);
    set_now(2000000 + 60);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 10, &f.base, out, &len, 64), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 6);
    envprov_dek_cache_free(c);
}

static void lru_eviction_wipes(void **state)
{
    (void)state;
    static const unsigned char zero[64];
    envprov_dek_cache *c = envprov_dek_cache_new(60000, 2);
    fake_job f;
    unsigned char out[64], key[32];
    fake_init(&f, 0x77);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_int_equal(get(c, 2, &f, out), ENVCORE_R_OK);
    key_of(key, 1);
    const unsigned char *slot1 = envprov_dek_cache_slot_for_test(c, key);
    assert_non_null(slot1);
    assert_memory_equal(slot1, f.dek, 32);
    assert_int_equal(get(c, 2, &f, out), ENVCORE_R_OK); /* 2 is now the most recent */
    fake_set(&f, 0, 1);
    /* a miss for 3 evicts 1 (least recently used), then fails: nothing is kept */
    assert_int_equal(get(c, 3, &f, out), ENVCORE_R_BACKEND_UNAVAILABLE);
    ERR_clear_error();
    assert_int_equal(stats(c).evictions, 1);
    assert_null(envprov_dek_cache_slot_for_test(c, key));
    assert_memory_equal(slot1, zero, 64); /* 1's DEK is gone from memory */
    key_of(key, 2);
    assert_non_null(envprov_dek_cache_slot_for_test(c, key)); /* 2 stays */
    envprov_dek_cache_free(c);
}

static void refresh_ahead(void **state)
{
    (void)state;
    envprov_dek_cache *c = new_clocked(1000, 16);
    fake_job f;
    unsigned char out[64];
    fake_init(&f, 0x11);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* expires at 1001000 */
    set_now(1000000 + 950);                             /* in the last tenth of its life */
    fake_set(&f, 1, 0);                                 /* the home hangs (a stopped KMS) */
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* answered at once */
    while (fake_calls(&f) < 2)                          /* the refresh runs, held */
        sleep_ms(1);
    assert_int_equal(stats(c).refreshes, 1);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* one refresh at a time */
    assert_int_equal(stats(c).refreshes, 1);
    fake_set(&f, 0, 0);
    while (stats(c).backend_calls < 2)
        sleep_ms(1);
    set_now(1000000 + 1500); /* past the first expiry: the refresh renewed it */
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    assert_int_equal(stats(c).misses, 1);
    /* a refresh that fails does not extend the entry: it expires on time */
    uint64_t renewed = 1000000 + 950 + 1000;
    set_now(renewed - 50);
    fake_set(&f, 0, 1);
    int calls = fake_calls(&f);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* a hit; its refresh fails */
    while (stats(c).refresh_failures < 1)
        sleep_ms(1);
    assert_int_equal(fake_calls(&f), calls + 1);
    set_now(renewed - 1);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* still live... */
    while (stats(c).refresh_failures < 2)               /* (and refreshed again, failing) */
        sleep_ms(1);
    set_now(renewed);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_BACKEND_UNAVAILABLE); /* ...not after */
    ERR_clear_error();
    assert_int_equal(stats(c).expirations, 1);
    envprov_dek_cache_free(c);
}

/* A caller that accepts only a younger DEK than the entry's goes to the
 * home (and keeps nothing new); others still hit. */
static void caller_ttl_on_hit(void **state)
{
    (void)state;
    envprov_dek_cache *c = new_clocked(60000, 16);
    fake_job f;
    unsigned char out[64], key[32];
    size_t len = 0;
    fake_init(&f, 0x21);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    set_now(1000000 + 500);
    key_of(key, 1);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 100, &f.base, out, &len, 64), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 2);
    assert_int_equal(stats(c).hits, 0);
    assert_int_equal(envprov_dek_cache_unwrap(c, key, 1000, &f.base, out, &len, 64), ENVCORE_R_OK);
    assert_int_equal(fake_calls(&f), 2); /* 500 ms old is young enough for 1 s */
    assert_int_equal(stats(c).hits, 1);
    envprov_dek_cache_free(c);
}

/* An expired entry is wiped by later calls for other entries, without
 * being looked up again. */
static void sweep_wipes_expired(void **state)
{
    (void)state;
    static const unsigned char zero[64];
    envprov_dek_cache *c = new_clocked(50, 4);
    fake_job f;
    unsigned char out[64], key[32];
    fake_init(&f, 0x42);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    key_of(key, 1);
    const unsigned char *slot1 = envprov_dek_cache_slot_for_test(c, key);
    assert_non_null(slot1);
    set_now(1000000 + 60);
    /* another key with another DEK: the sweep may hand key 1's freed slot
     * to it, so the slot holds zeros or key 2's DEK, never key 1's */
    fake_job g;
    fake_init(&g, 0x17);
    for (int i = 0; i < 4; i++)
        assert_int_equal(get(c, 2, &g, out), ENVCORE_R_OK);
    unsigned char dek2[64] = {0};
    memset(dek2, 0x17, sizeof(g.dek));
    assert_true(memcmp(slot1, zero, 64) == 0 || memcmp(slot1, dek2, 64) == 0);
    assert_true(stats(c).expirations >= 1);
    envprov_dek_cache_free(c);
}

static void forked_child_starts_empty(void **state)
{
    (void)state;
    envprov_dek_cache *c = envprov_dek_cache_new(60000, 4);
    fake_job f;
    unsigned char out[64], key[32];
    fake_init(&f, 0x5A);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK);
    key_of(key, 1);
    const unsigned char *slot = envprov_dek_cache_slot_for_test(c, key);
    assert_non_null(slot);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const unsigned char zero[32];
        int bad = memcmp(slot, zero, 32) != 0; /* MADV_WIPEONFORK: zeros before any call */
        envprov_cache_stats s = stats(c);      /* the first call resets the table */
        bad |= s.entries != 0 || s.hits != 0;
        bad |= get(c, 1, &f, out) != ENVCORE_R_OK || fake_calls(&f) != 2; /* a miss */
        _exit(bad);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(get(c, 1, &f, out), ENVCORE_R_OK); /* the parent's entry is intact */
    assert_int_equal(fake_calls(&f), 1);
    envprov_dek_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_after_miss),
        cmocka_unit_test(single_flight),
        cmocka_unit_test(single_flight_failure),
        cmocka_unit_test(ttl_expiry),
        cmocka_unit_test(lru_eviction_wipes),
        cmocka_unit_test(refresh_ahead),
        cmocka_unit_test(caller_ttl_on_hit),
        cmocka_unit_test(sweep_wipes_expired),
        cmocka_unit_test(forked_child_starts_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
