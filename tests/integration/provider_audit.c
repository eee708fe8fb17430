/*
 * provider_audit.c CASE URI ... - KEK operations through the public EVP API
 * for the audit trail and alarm tests (provider_audit.sh sets up SoftHSM2
 * and openssl.cnf with the audit-* and unwrap-alarm settings each case needs):
 *
 *   ops DEKFILE      three encapsulations under three contexts (their DEKs
 *                    written to DEKFILE in hex, for the scan of the log),
 *                    each decapsulated twice (a miss, then a cache hit),
 *                    then two that must fail: a tampered blob and a wrong
 *                    context
 *   make BLOBFILE    one encapsulation; the blob and its DEK to BLOBFILE
 *   one BLOBFILE     one decapsulation of that blob: exit 0 when it gives
 *                    back the DEK, 4 when refused by an unwrap alarm
 *                    (reason 25), 5 when refused for the audit sink
 *                    (reason 24), 1 otherwise
 *   loop N [READY GO] one encapsulation, N decapsulations of it (with READY
 *                    and GO: creates READY once the key is loaded, and starts
 *                    the decapsulations when GO exists); prints
 *                    "ok=A alarm=B audit=C"; exit 1 if any failed for
 *                    another reason or gave back a wrong DEK
 *   pace N MS        N decapsulations, MS milliseconds apart; prints the
 *                    outcome of each as a letter (o ok, a alarm refused)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "envelope/provider.h"
#include "it_check.h"

typedef struct {
    unsigned char blob[1024];
    size_t blob_len;
    unsigned char dek[64];
    size_t dek_len;
} wrapped;

static int quiet; /* loop and pace: outcomes counted, not printed */
static const char *ctxs[] = {"tenant=acme", "tenant=globex", "tenant=initech"};

static void encapsulate(EVP_PKEY *pk, const char *aad, wrapped *w)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad)),
                      OSSL_PARAM_END};
    w->blob_len = sizeof(w->blob);
    w->dek_len = sizeof(w->dek);
    CHECK(c != NULL && EVP_PKEY_encapsulate_init(c, p) == 1);
    CHECK(EVP_PKEY_encapsulate(c, w->blob, &w->blob_len, w->dek, &w->dek_len) == 1);
    EVP_PKEY_CTX_free(c);
}

/* 0 ok, else the provider's reason of the first error (or -1: wrong DEK). */
static int decapsulate(EVP_PKEY *pk, const char *aad, const wrapped *w)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad)),
                      OSSL_PARAM_END};
    unsigned char dek[64];
    size_t n = sizeof(dek);
    int ok = c != NULL && EVP_PKEY_decapsulate_init(c, p) == 1 &&
             EVP_PKEY_decapsulate(c, dek, &n, w->blob, w->blob_len) == 1;
    EVP_PKEY_CTX_free(c);
    if (ok) {
        ERR_clear_error();
        return n == w->dek_len && memcmp(dek, w->dek, n) == 0 ? 0 : -1;
    }
    int reason = 1000, flags = 0;
    unsigned long e;
    const char *data = NULL;
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *lib = ERR_lib_error_string(e);
        if (lib != NULL && strcmp(lib, "envelope") == 0 && reason == 1000) {
            reason = ERR_GET_REASON(e);
            if (!quiet) /* the provider's message, for the shell to check */
                fprintf(stderr, "reason %d: %s\n", reason,
                        data != NULL && (flags & ERR_TXT_STRING) ? data : "");
        }
    }
    return reason;
}

static void hex(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

static void write_wrapped(const char *path, const wrapped *w)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(w, sizeof(*w), 1, f) == 1 && fclose(f) == 0);
}

static void read_wrapped(const char *path, wrapped *w)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL && fread(w, sizeof(*w), 1, f) == 1);
    fclose(f);
}

static int exit_for(int r)
{
    return r == 0                                   ? 0
           : r == ENVELOPE_PROV_R_UNWRAP_ALARM      ? 4
           : r == ENVELOPE_PROV_R_AUDIT_UNAVAILABLE ? 5
                                                    : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        FAIL("usage: provider_audit CASE URI ...");
    const char *cas = argv[1];
    /* SoftHSM2's file store can miss the token while other processes read it
     * at the same moment (seen with 4 processes starting together): retried */
    EVP_PKEY *pk = NULL;
    for (int i = 0; i < 10 && pk == NULL; i++) {
        if (i > 0) { /* the last attempt's errors stay for FAIL to print */
            ERR_clear_error();
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
        pk = it_store_load(argv[2]);
    }
    if (pk == NULL)
        FAIL("cannot load %s", argv[2]);
    int rc = 0;
    if (strcmp(cas, "ops") == 0 && argc == 4) {
        FILE *f = fopen(argv[3], "w");
        CHECK(f != NULL);
        wrapped w[3];
        for (int i = 0; i < 3; i++) {
            encapsulate(pk, ctxs[i], &w[i]);
            hex(f, w[i].dek, w[i].dek_len);
        }
        CHECK(fclose(f) == 0);
        for (int i = 0; i < 3; i++) {
            CHECK(decapsulate(pk, ctxs[i], &w[i]) == 0); /* a miss */
            CHECK(decapsulate(pk, ctxs[i], &w[i]) == 0); /* a hit */
        }
        quiet = 1;
        wrapped bad = w[0];
        bad.blob[bad.blob_len - 1] ^= 1;
        CHECK(decapsulate(pk, ctxs[0], &bad) == ENVELOPE_PROV_R_AUTHENTICATION_FAILED);
        CHECK(decapsulate(pk, ctxs[1], &w[0]) == ENVELOPE_PROV_R_AUTHENTICATION_FAILED);
        puts("ops: ok");
    } else if (strcmp(cas, "make") == 0 && argc == 4) {
        wrapped w;
        encapsulate(pk, ctxs[0], &w);
        write_wrapped(argv[3], &w);
    } else if (strcmp(cas, "one") == 0 && argc == 4) {
        wrapped w;
        read_wrapped(argv[3], &w);
        rc = exit_for(decapsulate(pk, ctxs[0], &w));
    } else if (strcmp(cas, "loop") == 0 && (argc == 4 || argc == 6)) {
        quiet = 1;
        wrapped w;
        encapsulate(pk, ctxs[0], &w);
        if (argc == 6) {
            FILE *r = fopen(argv[4], "w");
            CHECK(r != NULL && fclose(r) == 0);
            for (FILE *g; (g = fopen(argv[5], "r")) == NULL || fclose(g) != 0;) {
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
            }
        }
        long n = atol(argv[3]), ok = 0, alarm = 0, audit = 0;
        for (long i = 0; i < n; i++) {
            int r = decapsulate(pk, ctxs[0], &w);
            if (r == 0)
                ok++;
            else if (r == ENVELOPE_PROV_R_UNWRAP_ALARM)
                alarm++;
            else if (r == ENVELOPE_PROV_R_AUDIT_UNAVAILABLE)
                audit++;
            else
                FAIL("decapsulation %ld: %d", i, r);
        }
        printf("ok=%ld alarm=%ld audit=%ld\n", ok, alarm, audit);
    } else if (strcmp(cas, "pace") == 0 && argc == 5) {
        quiet = 1;
        wrapped w;
        encapsulate(pk, ctxs[0], &w);
        long n = atol(argv[3]), ms = atol(argv[4]);
        for (long i = 0; i < n; i++) {
            int r = decapsulate(pk, ctxs[0], &w);
            if (r != 0 && r != ENVELOPE_PROV_R_UNWRAP_ALARM)
                FAIL("decapsulation %ld: %d", i, r);
            putchar(r == 0 ? 'o' : 'a');
            fflush(stdout);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        putchar('\n');
    } else {
        FAIL("unknown case %s (or wrong arguments)", cas);
    }
    EVP_PKEY_free(pk);
    return rc;
}
