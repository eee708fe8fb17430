/*
 * records_bench.c URI RECORDS TENANTS - records per second through
 * libenvelope with a KEK in a real home: envelope_seal of RECORDS 1 KiB
 * records round-robin over TENANTS contexts, then envelope_open of all of
 * them. What openssl.cnf configures decides whether DEKs are reused
 * (dek-reuse-messages) and unwraps cached (cache-ttl); bench/records_bench.sh
 * runs the combinations and counts the token's calls.
 *
 * Prints "seal/s=N open/s=M".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope/envelope.h"

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        DIE("usage: records_bench URI RECORDS TENANTS");
    size_t n = strtoul(argv[2], NULL, 10);
    int tenants = atoi(argv[3]);
    if (n == 0 || n > 1000000 || tenants < 1 || tenants > 100)
        DIE("RECORDS 1..1000000, TENANTS 1..100");
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_err err = {0};
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK)
        DIE("%s", err.message);
    envelope_context *ctx[100];
    for (int t = 0; t < tenants; t++) {
        char v[16];
        snprintf(v, sizeof(v), "t%d", t);
        if (envelope_context_new(&ctx[t], &err) != ENVELOPE_OK ||
            envelope_context_add(ctx[t], "tenant", v, &err) != ENVELOPE_OK)
            DIE("%s", err.message);
    }
    uint8_t rec[1024];
    memset(rec, 'r', sizeof(rec));
    uint8_t **msg = calloc(n, sizeof(*msg));
    size_t *mlen = calloc(n, sizeof(*mlen));
    if (msg == NULL || mlen == NULL)
        DIE("out of memory");
    envelope_kek *keks[] = {kek};
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        envelope_encrypt_opts eo = {.struct_size = sizeof(eo),
                                    .keks = keks,
                                    .nkeks = 1,
                                    .context = ctx[i % (size_t)tenants],
                                    .frame_size = 0};
        if (envelope_seal(lib, &eo, rec, sizeof(rec), &msg[i], &mlen[i], &err) != ENVELOPE_OK)
            DIE("seal: %s", err.message);
    }
    double t1 = now();
    for (size_t i = 0; i < n; i++) {
        envelope_decrypt_opts dop = {.struct_size = sizeof(dop),
                                     .keks = keks,
                                     .nkeks = 1,
                                     .expected = ctx[i % (size_t)tenants]};
        uint8_t *pt = NULL;
        size_t ptlen = 0;
        envelope_context *got = NULL;
        if (envelope_open(lib, &dop, msg[i], mlen[i], &pt, &ptlen, &got, &err) != ENVELOPE_OK ||
            ptlen != sizeof(rec))
            DIE("open: %s", err.message);
        envelope_buffer_free(pt, ptlen);
        envelope_context_free(got);
    }
    double t2 = now();
    printf("seal/s=%.0f open/s=%.0f\n", (double)n / (t1 - t0), (double)n / (t2 - t1));
    for (size_t i = 0; i < n; i++)
        envelope_buffer_free(msg[i], mlen[i]);
    free(msg);
    free(mlen);
    for (int t = 0; t < tenants; t++)
        envelope_context_free(ctx[t]);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return 0;
}
