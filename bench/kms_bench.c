/*
 * kms_bench.c - wraps and unwraps per second of a 32-byte DEK through the
 * envelope provider to a KMS KEK (kms-bridge -> KMIP 1.4 -> PyKMIP), with
 * T threads, each with its own EVP_PKEY_CTX. The KMS round trip is what the
 * DEK cache must hide; this measures it as the provider sees it.
 *
 *   kms_bench URI SECONDS THREADS
 * needs OPENSSL_CONF loading envelope.so with pkcs11-module = the bridge.
 * Output: one line per direction: ops, ops/s, median and p99 latency (ms).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/store.h>

#include "envelope/provider.h"

#define MAX_SAMPLES 200000

typedef struct {
    EVP_PKEY *key;
    double seconds;
    int unwrap; /* 0: wrap, 1: unwrap */
    unsigned char blob[512];
    size_t bloblen;
    double *lat;
    size_t n, errors;
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static EVP_PKEY *load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *k = NULL;
    while (s != NULL && k == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (i != NULL && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY)
            k = OSSL_STORE_INFO_get1_PKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    return k;
}

static int one(EVP_PKEY *key, int unwrap, const unsigned char *in, size_t inlen, unsigned char *out,
               size_t *outlen)
{
    static const char aad[] = "bench=1";
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad,
                                              sizeof(aad) - 1),
                      OSSL_PARAM_END};
    int ok = c != NULL && (unwrap ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) == 1 &&
             EVP_PKEY_CTX_set_params(c, p) == 1 &&
             (unwrap ? EVP_PKEY_decrypt(c, out, outlen, in, inlen)
                     : EVP_PKEY_encrypt(c, out, outlen, in, inlen)) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static void *run(void *arg)
{
    worker *w = arg;
    unsigned char dek[32], out[512];
    RAND_bytes(dek, sizeof(dek));
    double end = now() + w->seconds;
    while (now() < end && w->n < MAX_SAMPLES) {
        size_t outlen = sizeof(out);
        double t0 = now();
        int ok = w->unwrap ? one(w->key, 1, w->blob, w->bloblen, out, &outlen)
                           : one(w->key, 0, dek, sizeof(dek), out, &outlen);
        if (!ok) {
            w->errors++;
            ERR_clear_error();
            continue;
        }
        w->lat[w->n++] = (now() - t0) * 1e3;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kms_bench URI SECONDS THREADS\n");
        return 2;
    }
    double secs = atof(argv[2]);
    int threads = atoi(argv[3]);
    if (threads < 1 || threads > 64 || secs <= 0)
        return 2;
    EVP_PKEY *key = load(argv[1]);
    if (key == NULL) {
        fprintf(stderr, "kms_bench: cannot load %s\n", argv[1]);
        ERR_print_errors_fp(stderr);
        return 2;
    }
    unsigned char dek[32] = {1}, blob[512];
    size_t bloblen = sizeof(blob);
    if (!one(key, 0, dek, sizeof(dek), blob, &bloblen)) {
        fprintf(stderr, "kms_bench: first wrap failed\n");
        ERR_print_errors_fp(stderr);
        return 2;
    }
    for (int dir = 0; dir < 2; dir++) {
        worker *w = calloc((size_t)threads, sizeof(*w));
        pthread_t *t = calloc((size_t)threads, sizeof(*t));
        double t0 = now();
        for (int i = 0; i < threads; i++) {
            w[i].key = key;
            w[i].seconds = secs;
            w[i].unwrap = dir;
            memcpy(w[i].blob, blob, bloblen);
            w[i].bloblen = bloblen;
            w[i].lat = calloc(MAX_SAMPLES, sizeof(double));
            pthread_create(&t[i], NULL, run, &w[i]);
        }
        size_t total = 0, errors = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
            total += w[i].n;
            errors += w[i].errors;
        }
        double el = now() - t0;
        double *all = calloc(total ? total : 1, sizeof(double));
        size_t k = 0;
        for (int i = 0; i < threads; i++) {
            memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
            k += w[i].n;
            free(w[i].lat);
        }
        qsort(all, total, sizeof(double), cmp);
        printf(
            "provider %-6s threads=%d ops=%zu errors=%zu ops/s=%.1f median_ms=%.2f p99_ms=%.2f\n",
            dir ? "unwrap" : "wrap", threads, total, errors, total / el,
            total ? all[total / 2] : 0.0, total ? all[(total * 99) / 100] : 0.0);
        free(all);
        free(w);
        free(t);
    }
    EVP_PKEY_free(key);
    return 0;
}
