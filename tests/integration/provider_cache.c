/*
 * provider_cache.c CASE URI - the provider's unwrap cache through the
 * public EVP API, on a real SoftHSM2 AES KEK (provider_cache.sh sets up
 * the token and openssl.cnf with the cache settings each case needs):
 *
 *   herd N     one blob, N threads decapsulate it at the same moment:
 *              exactly one backend unwrap (provider counters; the shell
 *              also counts C_Decrypt in the PKCS#11 debug log)
 *   expiry     cache-ttl = 1s: a second unwrap after 1.5 s asks the token
 *   capacity   cache-capacity = 2: a third blob evicts the least recent
 *   bypass     envelope-cache-ttl-ms = 0 on the ctx: every call asks
 *   counts N   N unwraps of one blob, then prints the counters (cache off
 *              or on: the shell compares them with the debug log)
 *   outage TTL a KMS key (kms-bridge on PyKMIP), cache-ttl = TTL seconds:
 *              with the server stopped (SIGSTOP to KMS_SERVER_PGID) every
 *              unwrap is still answered at once from the cache, the
 *              refresh-ahead starts and fails in the background, and the
 *              entry still expires at its TTL: then "backend unavailable";
 *              with the server continued (SIGCONT) the next unwrap works
 *
 * Each case checks the DEK it gets back against the one encapsulated.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "envelope/provider.h"
#include "it_check.h"

static const unsigned char aad[] = "tenant=acme";

static EVP_PKEY *load(const char *uri)
{
    EVP_PKEY *pk = it_store_load(uri);
    CHECK(pk != NULL);
    return pk;
}

typedef struct {
    unsigned char blob[1024];
    size_t blob_len;
    unsigned char dek[64];
    size_t dek_len;
} wrapped;

static void encapsulate(EVP_PKEY *pk, wrapped *w)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, sizeof(aad)),
                      OSSL_PARAM_END};
    w->blob_len = sizeof(w->blob);
    w->dek_len = sizeof(w->dek);
    CHECK(c != NULL && EVP_PKEY_encapsulate_init(c, p) == 1);
    CHECK(EVP_PKEY_encapsulate(c, w->blob, &w->blob_len, w->dek, &w->dek_len) == 1);
    EVP_PKEY_CTX_free(c);
}

/* One decapsulation; ttl_ms UINT64_MAX leaves the ctx param unset. */
static int decapsulate(EVP_PKEY *pk, const wrapped *w, uint64_t ttl_ms)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, sizeof(aad)),
                      OSSL_PARAM_uint64(ENVELOPE_PKEY_PARAM_CACHE_TTL, &ttl_ms), OSSL_PARAM_END};
    if (ttl_ms == UINT64_MAX)
        p[1] = p[2];
    unsigned char dek[64];
    size_t n = sizeof(dek);
    int ok = c != NULL && EVP_PKEY_decapsulate_init(c, p) == 1 &&
             EVP_PKEY_decapsulate(c, dek, &n, w->blob, w->blob_len) == 1 && n == w->dek_len &&
             memcmp(dek, w->dek, n) == 0;
    EVP_PKEY_CTX_free(c);
    return ok;
}

typedef struct {
    uint64_t hits, misses, joins, evictions, expirations, calls, errors, entries, refreshes,
        refresh_failures;
} counters;

static int get_counters(OSSL_PROVIDER *prov, void *arg)
{
    counters *k = arg;
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    OSSL_PARAM p[] = {OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_HITS, &k->hits),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_MISSES, &k->misses),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_JOINS, &k->joins),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_EVICTIONS, &k->evictions),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_EXPIRATIONS, &k->expirations),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_BACKEND_CALLS, &k->calls),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_BACKEND_ERRORS, &k->errors),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_ENTRIES, &k->entries),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_REFRESHES, &k->refreshes),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_REFRESH_FAILURES,
                                        &k->refresh_failures),
                      OSSL_PARAM_END};
    CHECK(OSSL_PROVIDER_get_params(prov, p) == 1);
    return 0;
}

static counters now(void)
{
    counters k;
    memset(&k, 0xff, sizeof(k));
    OSSL_PROVIDER_do_all(NULL, get_counters, &k);
    CHECK(k.calls != UINT64_MAX); /* the envelope provider answered */
    return k;
}

static void print(const char *what, counters k)
{
    printf("%s: hits=%llu misses=%llu joins=%llu evictions=%llu expirations=%llu "
           "backend-calls=%llu backend-errors=%llu entries=%llu\n",
           what, (unsigned long long)k.hits, (unsigned long long)k.misses,
           (unsigned long long)k.joins, (unsigned long long)k.evictions,
           (unsigned long long)k.expirations, (unsigned long long)k.calls,
           (unsigned long long)k.errors, (unsigned long long)k.entries);
}

struct herd_arg {
    EVP_PKEY *pk;
    const wrapped *w;
    pthread_barrier_t *go;
    int ok;
};

static void *herd_main(void *p)
{
    struct herd_arg *a = p;
    pthread_barrier_wait(a->go);
    a->ok = decapsulate(a->pk, a->w, UINT64_MAX);
    ERR_clear_error();
    return NULL;
}

static void herd(EVP_PKEY *pk, int n)
{
    wrapped w;
    pthread_t t[64];
    struct herd_arg a[64];
    pthread_barrier_t go;
    CHECK(n > 1 && n <= 64);
    encapsulate(pk, &w);
    CHECK(pthread_barrier_init(&go, NULL, (unsigned)n) == 0);
    for (int i = 0; i < n; i++) {
        a[i] = (struct herd_arg){pk, &w, &go, 0};
        CHECK(pthread_create(&t[i], NULL, herd_main, &a[i]) == 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        CHECK(a[i].ok);
    }
    counters k = now();
    print("herd", k);
    CHECK(k.calls == 1 && k.misses == 1 && k.hits + k.joins == (uint64_t)n - 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void outage(EVP_PKEY *pk, int ttl_s)
{
    const char *g = getenv("KMS_SERVER_PGID");
    pid_t pgid = g != NULL ? (pid_t)atoi(g) : 0;
    wrapped w;
    CHECK(pgid > 1 && ttl_s >= 4);
    encapsulate(pk, &w);
    CHECK(decapsulate(pk, &w, UINT64_MAX)); /* the miss: the entry lives ttl_s from here */
    double cached_at = mono_s();
    CHECK(now().calls == 1);
    CHECK(kill(-pgid, SIGSTOP) == 0); /* the KMS hangs: any call to it would wait */
    int served = 0;
    while (now().refreshes == 0) { /* until the last tenth of the entry's life */
        if (mono_s() - cached_at > ttl_s)
            FAIL("the entry expired before a refresh started (no hit in its last tenth)");
        CHECK(decapsulate(pk, &w, UINT64_MAX)); /* from the cache, at once */
        served++;
        sleep_ms(50);
    }
    /* the refresh is now stuck on the stopped server; hits go on */
    while (mono_s() - cached_at < ttl_s - 0.25) {
        CHECK(decapsulate(pk, &w, UINT64_MAX));
        served++;
        sleep_ms(50);
    }
    counters k = now();
    print("during the outage", k);
    CHECK(k.misses == 1 && k.hits == (uint64_t)served && k.refreshes == 1);
    while (mono_s() - cached_at < ttl_s + 0.25)
        sleep_ms(50);
    /* past the TTL: the entry is gone, whatever the refresh did; the KMS is
     * still stopped, so this asks it and fails after the bridge's timeout */
    CHECK(!decapsulate(pk, &w, UINT64_MAX));
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_REASON(e) != ENVELOPE_PROV_R_BACKEND_UNAVAILABLE)
        FAIL("after the TTL with the KMS down: reason %d, wanted backend unavailable",
             ERR_GET_REASON(e));
    ERR_clear_error();
    k = now();
    print("after the TTL", k);
    CHECK(k.expirations == 1);
    /* the refresh asked the stopped KMS too: it fails (at the bridge's
     * timeout) and extended nothing */
    for (double until = mono_s() + 60; now().refresh_failures == 0;) {
        if (mono_s() > until)
            FAIL("the refresh against the stopped KMS never ended");
        sleep_ms(100);
    }
    /* that call hung until the bridge's timeout: the breaker is open, so
     * the next one fails at once, without asking the stopped KMS */
    CHECK(!decapsulate(pk, &w, UINT64_MAX));
    const char *data = NULL;
    int flags = 0;
    ERR_peek_last_error_data(&data, &flags);
    if (data == NULL || strstr(data, "breaker-window") == NULL)
        FAIL("the second call after the timeout was not refused by the breaker: %s",
             data ? data : "(no reason)");
    ERR_clear_error();
    CHECK(kill(-pgid, SIGCONT) == 0);
    /* recovered without a restart: once the breaker lets a probe through */
    int back = 0;
    for (double until = mono_s() + 60; !back && mono_s() < until; sleep_ms(200)) {
        back = decapsulate(pk, &w, UINT64_MAX);
        ERR_clear_error();
    }
    CHECK(back);
    k = now();
    print("after the KMS is back", k);
    CHECK(k.expirations == 1 && k.hits >= (uint64_t)served);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        FAIL("usage: provider_cache CASE URI [N]");
    const char *cs = argv[1];
    EVP_PKEY *pk = load(argv[2]);
    wrapped w[3];
    if (strcmp(cs, "herd") == 0) {
        herd(pk, argc > 3 ? atoi(argv[3]) : 8);
    } else if (strcmp(cs, "expiry") == 0) { /* cache-ttl = 1s */
        encapsulate(pk, &w[0]);
        CHECK(decapsulate(pk, &w[0], UINT64_MAX) && decapsulate(pk, &w[0], UINT64_MAX));
        CHECK(now().calls == 1);
        sleep_ms(1500); /* past the TTL (only a lower bound matters) */
        CHECK(decapsulate(pk, &w[0], UINT64_MAX));
        counters k = now();
        print("expiry", k);
        CHECK(k.calls == 2 && k.expirations == 1);
    } else if (strcmp(cs, "capacity") == 0) { /* cache-capacity = 2 */
        for (int i = 0; i < 3; i++)
            encapsulate(pk, &w[i]);
        for (int i = 0; i < 3; i++)
            CHECK(decapsulate(pk, &w[i], UINT64_MAX));
        CHECK(decapsulate(pk, &w[2], UINT64_MAX) && decapsulate(pk, &w[1], UINT64_MAX));
        CHECK(now().calls == 3); /* 1 and 2 still there, 0 evicted */
        CHECK(decapsulate(pk, &w[0], UINT64_MAX));
        counters k = now();
        print("capacity", k);
        CHECK(k.calls == 4 && k.evictions == 2 && k.entries == 2);
    } else if (strcmp(cs, "bypass") == 0) {
        encapsulate(pk, &w[0]);
        for (int i = 0; i < 3; i++)
            CHECK(decapsulate(pk, &w[0], 0));
        counters k = now();
        print("bypass", k);
        CHECK(k.calls == 0 && k.entries == 0); /* bypassed: the cache saw nothing */
    } else if (strcmp(cs, "outage") == 0) {
        outage(pk, argc > 3 ? atoi(argv[3]) : 10);
    } else if (strcmp(cs, "counts") == 0) {
        int n = argc > 3 ? atoi(argv[3]) : 5;
        encapsulate(pk, &w[0]);
        for (int i = 0; i < n; i++)
            CHECK(decapsulate(pk, &w[0], UINT64_MAX));
        print("counts", now());
    } else {
        FAIL("unknown case %s", cs);
    }
    EVP_PKEY_free(pk);
    return 0;
}
