/*
 * audit_bench.c URI SECONDS - cached unwraps per second through the envelope
 * provider (EVP_PKEY_decapsulate of 64 blobs, every one a cache hit after
 * the first round), on one thread, with whatever audit settings openssl.cnf
 * has (bench/audit_bench.sh runs it with the audit off, to a file with
 * audit-fsync = none, and with = every, and prints the ratios).
 *
 * Prints "ops/s=R caller-ns/op=C process-ns/op=P": C is the CPU time of the
 * calling thread per unwrap (what the audit adds on the caller's side: the
 * record into the ring), P that of the whole process (the writer thread's
 * formatting, hashing and writing included).
 */
#define _GNU_SOURCE
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

#define NBLOBS 64
static const unsigned char aad[] = "bench=audit";
static unsigned char blob[NBLOBS][1024], dek[NBLOBS][64];
static size_t blob_len[NBLOBS], dek_len[NBLOBS];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

int main(int argc, char **argv)
{
    if (argc != 3)
        DIE("usage: audit_bench URI SECONDS");
    double secs = atof(argv[2]);
    if (secs <= 0)
        DIE("SECONDS > 0");
    EVP_PKEY *kek = load(argv[1]);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, sizeof(aad)),
                      OSSL_PARAM_END};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, kek, NULL);
    if (c == NULL || EVP_PKEY_encapsulate_init(c, p) != 1)
        DIE("encapsulate_init");
    for (size_t i = 0; i < NBLOBS; i++) {
        blob_len[i] = sizeof(blob[i]);
        dek_len[i] = sizeof(dek[i]);
        if (EVP_PKEY_encapsulate(c, blob[i], &blob_len[i], dek[i], &dek_len[i]) != 1)
            DIE("encapsulate");
    }
    EVP_PKEY_CTX_free(c);
    c = EVP_PKEY_CTX_new_from_pkey(NULL, kek, NULL);
    if (c == NULL || EVP_PKEY_decapsulate_init(c, p) != 1)
        DIE("decapsulate_init");
    unsigned long ops = 0;
    /* one round first: every blob's entry made (misses, not timed) */
    for (size_t b = 0; b < NBLOBS; b++) {
        unsigned char out[64];
        size_t n = sizeof(out);
        if (EVP_PKEY_decapsulate(c, out, &n, blob[b], blob_len[b]) != 1)
            DIE("decapsulate");
    }
    double t0 = now(), c0 = cpu(RUSAGE_THREAD), p0 = cpu(RUSAGE_SELF), t = t0;
    size_t b = 0;
    while (t - t0 < secs) {
        for (int i = 0; i < 1024; i++) {
            unsigned char out[64];
            size_t n = sizeof(out);
            if (EVP_PKEY_decapsulate(c, out, &n, blob[b], blob_len[b]) != 1 || n != dek_len[b] ||
                memcmp(out, dek[b], n) != 0)
                DIE("decapsulate failed or returned another key");
            ops++;
            b = (b + 1) % NBLOBS;
        }
        t = now();
    }
    double dt = t - t0, dc = cpu(RUSAGE_THREAD) - c0, dp = cpu(RUSAGE_SELF) - p0;
    printf("ops=%lu seconds=%.2f ops/s=%.0f caller-ns/op=%.0f process-ns/op=%.0f\n", ops, dt,
           (double)ops / dt, dc * 1e9 / (double)ops, dp * 1e9 / (double)ops);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(kek);
    return 0;
}
