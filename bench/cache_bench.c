/*
 * cache_bench.c URI THREADS SECONDS - unwraps per second of 64 blobs (so that
 * hits spread over the cache's shards, as many messages' would)
 * through the envelope provider (EVP_PKEY_decapsulate), on THREADS threads
 * for SECONDS, with whatever unwrap cache openssl.cnf configures
 * (bench/cache_bench.sh runs it with the cache off and on, on 1 and 2
 * threads, and prints the ratios). Each thread has its own ctx; every
 * result is checked against the encapsulated DEK.
 *
 * Prints "threads=T ops=N seconds=S ops/s=R cpu-ns/op=C vcsw=V".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "envelope/provider.h"

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        ERR_print_errors_fp(stderr);                                                               \
        exit(1);                                                                                   \
    } while (0)

static const unsigned char aad[] = "bench=cache";
#define NBLOBS 64
static EVP_PKEY *kek;
static unsigned char blob[NBLOBS][1024], dek[NBLOBS][64];
static size_t blob_len[NBLOBS], dek_len[NBLOBS];
static volatile int stop;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY *load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;
    if (s == NULL)
        DIE("cannot open %s", uri);
    while (pk == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(s);
        if (info == NULL)
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(s);
    if (pk == NULL)
        DIE("no key at %s", uri);
    return pk;
}

static void *worker(void *arg)
{
    unsigned long *ops = arg;
    size_t b = (size_t)((uintptr_t)ops / 64) % NBLOBS; /* each thread starts elsewhere */
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, sizeof(aad)),
                      OSSL_PARAM_END};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, kek, NULL);
    if (c == NULL || EVP_PKEY_decapsulate_init(c, p) != 1)
        DIE("decapsulate_init");
    while (!stop) {
        unsigned char out[64];
        size_t n = sizeof(out);
        if (EVP_PKEY_decapsulate(c, out, &n, blob[b], blob_len[b]) != 1 || n != dek_len[b] ||
            memcmp(out, dek[b], n) != 0)
            DIE("decapsulate failed or returned another key");
        (*ops)++;
        b = (b + 1) % NBLOBS;
    }
    EVP_PKEY_CTX_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        DIE("usage: cache_bench URI THREADS SECONDS");
    int threads = atoi(argv[2]);
    double secs = atof(argv[3]);
    if (threads < 1 || threads > 64 || secs <= 0)
        DIE("THREADS 1..64, SECONDS > 0");
    kek = load(argv[1]);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, kek, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, sizeof(aad)),
                      OSSL_PARAM_END};
    if (c == NULL || EVP_PKEY_encapsulate_init(c, p) != 1)
        DIE("encapsulate_init");
    for (size_t i = 0; i < NBLOBS; i++) {
        blob_len[i] = sizeof(blob[i]);
        dek_len[i] = sizeof(dek[i]);
        if (EVP_PKEY_encapsulate(c, blob[i], &blob_len[i], dek[i], &dek_len[i]) != 1)
            DIE("encapsulate");
    }
    EVP_PKEY_CTX_free(c);
    pthread_t t[64];
    /* one cache line per thread's counter: adjacent counters would make
     * every increment bounce a line between the cores (false sharing) */
    struct {
        _Alignas(64) unsigned long n;
    } ops[64];
    memset(ops, 0, sizeof(ops));
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0 = (double)ru0.ru_utime.tv_sec + (double)ru0.ru_utime.tv_usec / 1e6 +
                  (double)ru0.ru_stime.tv_sec + (double)ru0.ru_stime.tv_usec / 1e6;
    long vcsw0 = ru0.ru_nvcsw;
    double t0 = now();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, worker, &ops[i].n) != 0)
            DIE("pthread_create");
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    stop = 1;
    unsigned long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += ops[i].n;
    }
    double dt = now() - t0;
    /* CPU time per unwrap and voluntary context switches: a path that
     * serialises its callers either spins (CPU per unwrap grows with the
     * threads) or sleeps (the switches grow); neither depends on how
     * loaded the machine is, as ops/s does */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6 - cpu0;
    printf("threads=%d ops=%lu seconds=%.2f ops/s=%.0f cpu-ns/op=%.0f vcsw=%ld\n", threads, total,
           dt, (double)total / dt, total ? cpu * 1e9 / (double)total : 0.0, ru.ru_nvcsw - vcsw0);
    EVP_PKEY_free(kek);
    return 0;
}
