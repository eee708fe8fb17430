/*
 * recorder_bench.c URI RECORDS CONTEXTS - records/s of one shared
 * envelope_recorder against one envelope_sealer and one envelope_opener per
 * context, over CONTEXTS interleaved contexts (record i has context
 * i % CONTEXTS), 1 KiB records, one thread. Both sides first make every
 * context's keys (one wrap and one unwrap per context: not timed), then seal
 * RECORDS records and open them. Memory per context is the growth of the
 * process's resident and locked memory (VmRSS, VmLck in /proc/self/status)
 * while the contexts' keys are made, divided by CONTEXTS.
 * The "compact" side is the shared recorder with compact = 1 (suite 2:
 * a key block per context, kept in memory by on_keyblock, records opened by
 * the same recorder). Every side prints its mean sealed bytes per record.
 * Prints one line per side (bench/recorder_bench.sh makes the table).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope/envelope.h"

#define REC 1024
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t keyblocks, keyblock_bytes; /* what on_keyblock was given */

static int on_keyblock(void *user, const uint8_t *id, const uint8_t *bytes, size_t len)
{
    (void)user;
    (void)id;
    (void)bytes;
    keyblocks++;
    keyblock_bytes += len;
    return 0;
}

static double mean(const size_t *lens, size_t n)
{
    double t = 0;
    for (size_t i = 0; i < n; i++)
        t += (double)lens[i];
    return t / (double)n;
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        FAIL("usage: bench_recorder URI RECORDS CONTEXTS [recorder|per-context|compact]");
    const char *only = argc == 5 ? argv[4] : "";
    size_t n = strtoul(argv[2], NULL, 10), nc = strtoul(argv[3], NULL, 10);
    if (n == 0 || nc == 0 || nc > 100000)
        FAIL("RECORDS >= 1, CONTEXTS 1..100000");
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_err err;
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    envelope_kek *keks[] = {kek};
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    envelope_context **ctx = calloc(nc, sizeof(*ctx));
    for (size_t c = 0; c < nc; c++) {
        char v[24];
        snprintf(v, sizeof(v), "t%zu", c);
        if (envelope_context_new(&ctx[c], &err) != ENVELOPE_OK ||
            envelope_context_add(ctx[c], "tenant", v, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    uint8_t rec[REC], back[REC];
    memset(rec, 'r', sizeof(rec));
    size_t cap = 2048;
    uint8_t *msgs = malloc(n * cap);
    size_t *lens = calloc(n, sizeof(*lens));
    if (msgs == NULL || lens == NULL || ctx == NULL)
        FAIL("out of memory");
    memset(msgs, 0, n * cap); /* no page faults inside the timed loops */

    /* the shared recorder */
    envelope_recorder_opts ro = ENVELOPE_RECORDER_OPTS_INIT;
    ro.keks = keks;
    ro.nkeks = 1;
    ro.max_deks = nc;
    ro.max_keys = nc;
    int compact = strcmp(only, "compact") == 0;
    if (compact) {
        ro.compact = 1;
        ro.on_keyblock = on_keyblock;
        ro.max_keyblocks = nc;
    }
    envelope_recorder *r = NULL;
    if (strcmp(only, "per-context") == 0)
        goto per_context;
    long rss0 = status_kb("VmRSS"), lck0 = status_kb("VmLck");
    if (envelope_recorder_new(lib, &ro, &r, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    for (size_t c = 0; c < nc; c++) { /* every context's DEK made and unwrapped once */
        size_t l = 0, bl = 0;
        if (envelope_recorder_seal(r, ctx[c], rec, REC, msgs, cap, &l, &err) != ENVELOPE_OK ||
            envelope_recorder_open(r, ctx[c], msgs, l, back, REC, &bl, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    long rss1 = status_kb("VmRSS"), lck1 = status_kb("VmLck");
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        if (envelope_recorder_seal(r, ctx[i % nc], rec, REC, msgs + i * cap, cap, &lens[i], &err) !=
            ENVELOPE_OK)
            FAIL("%s", err.message);
    double t1 = now();
    for (size_t i = 0; i < n; i++) {
        size_t bl = 0;
        if (envelope_recorder_open(r, ctx[i % nc], msgs + i * cap, lens[i], back, REC, &bl, &err) !=
            ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    double t2 = now();
    envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
    if (envelope_recorder_stats_get(r, &st, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    printf("side=%s contexts=%zu seal/s=%.0f open/s=%.0f rss_per_context=%.0f "
           "locked_per_context=%.0f recorder_locked=%zu deks_made=%llu unwraps=%llu "
           "bytes_per_record=%.1f keyblock_bytes=%.0f\n",
           compact ? "compact" : "recorder", nc, (double)n / (t1 - t0), (double)n / (t2 - t1),
           (double)(rss1 - rss0) * 1024 / (double)nc, (double)(lck1 - lck0) * 1024 / (double)nc,
           st.locked_bytes, (unsigned long long)st.deks_made, (unsigned long long)st.unwraps,
           mean(lens, n), keyblocks ? (double)keyblock_bytes / (double)keyblocks : 0.0);
    envelope_recorder_free(r);
    if (strcmp(only, "recorder") == 0 || compact)
        goto done;

per_context:;
    /* one sealer and one opener per context */
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    envelope_sealer **s = calloc(nc, sizeof(*s));
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    envelope_opener **o = calloc(nc, sizeof(*o));
    if (s == NULL || o == NULL)
        FAIL("out of memory");
    long prss0 = status_kb("VmRSS"), plck0 = status_kb("VmLck");
    for (size_t c = 0; c < nc; c++) {
        envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
        eo.keks = keks;
        eo.nkeks = 1;
        eo.context = ctx[c];
        envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
        dop.keks = keks;
        dop.nkeks = 1;
        dop.expected = ctx[c];
        size_t l = 0, bl = 0;
        if (envelope_sealer_new(lib, &eo, 0, &s[c], &err) != ENVELOPE_OK ||
            envelope_opener_new(lib, &dop, &o[c], &err) != ENVELOPE_OK ||
            envelope_sealer_seal(s[c], rec, REC, msgs, cap, &l, &err) != ENVELOPE_OK ||
            envelope_opener_open(o[c], msgs, l, back, REC, &bl, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    long prss1 = status_kb("VmRSS"), plck1 = status_kb("VmLck");
    double p0 = now();
    for (size_t i = 0; i < n; i++)
        if (envelope_sealer_seal(s[i % nc], rec, REC, msgs + i * cap, cap, &lens[i], &err) !=
            ENVELOPE_OK)
            FAIL("%s", err.message);
    double p1 = now();
    for (size_t i = 0; i < n; i++) {
        size_t bl = 0;
        if (envelope_opener_open(o[i % nc], msgs + i * cap, lens[i], back, REC, &bl, &err) !=
            ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    double p2 = now();
    printf("side=per-context contexts=%zu seal/s=%.0f open/s=%.0f rss_per_context=%.0f "
           "locked_per_context=%.0f bytes_per_record=%.1f\n",
           nc, (double)n / (p1 - p0), (double)n / (p2 - p1),
           (double)(prss1 - prss0) * 1024 / (double)nc, (double)(plck1 - plck0) * 1024 / (double)nc,
           mean(lens, n));
    for (size_t c = 0; c < nc; c++) {
        envelope_sealer_free(s[c]);
        envelope_opener_free(o[c]);
    }
    free(s);
    free(o);
done:
    for (size_t c = 0; c < nc; c++)
        envelope_context_free(ctx[c]);
    free(ctx);
    free(msgs);
    free(lens);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return 0;
}
