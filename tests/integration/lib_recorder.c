/*
 * lib_recorder.c URI THREADS RECORDS CONTEXTS [MAX_DEKS MAX_KEYS] - one
 * envelope_recorder shared by THREADS threads, each sealing and opening
 * RECORDS records over CONTEXTS interleaved contexts {tenant=tN}
 * (lib_recorder.sh runs it on a SoftHSM2 KEK and counts the token's calls).
 * Every record opens to its bytes with its own context and never with
 * another's; every 101st is also opened by a plain envelope_open (any
 * reader reads a recorder's records). Prints the recorder's statistics as
 * "key=value" lines. "locked" mode: URI locked MAX_DEKS
 * [MAX_KEYBLOCKS] only makes a recorder and prints its status (the script
 * runs it under a small RLIMIT_MEMLOCK).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static envelope_lib *lib;
static envelope_kek *kek;
static envelope_recorder *rec;
static envelope_context **ctx;
static size_t records, contexts;
static unsigned long plain_opens; /* envelope_open calls: one unwrap each */

static void *worker(void *arg)
{
    size_t t = (size_t)arg;
    uint8_t msg[4096], back[256];
    envelope_err err;
    for (size_t n = 0; n < records; n++) {
        size_t c = (n * 7919 + t * 104729) % contexts; /* interleaved */
        char pt[96];
        int len = snprintf(pt, sizeof(pt), "record %zu of thread %zu in context %zu", n, t, c);
        size_t mlen = 0, blen = 0;
        if (envelope_recorder_seal(rec, ctx[c], (const uint8_t *)pt, (size_t)len, msg, sizeof(msg),
                                   &mlen, &err) != ENVELOPE_OK)
            FAIL("seal %zu/%zu: %s", t, n, err.message);
        if (envelope_recorder_open(rec, ctx[c], msg, mlen, back, sizeof(back), &blen, &err) !=
                ENVELOPE_OK ||
            blen != (size_t)len || memcmp(back, pt, blen) != 0)
            FAIL("open %zu/%zu: %s", t, n, err.message);
        if (contexts > 1 && n % 97 == 0) {
            envelope_status s = envelope_recorder_open(rec, ctx[(c + 1) % contexts], msg, mlen,
                                                       back, sizeof(back), &blen, &err);
            if (s != ENVELOPE_ERR_CONTEXT_MISMATCH)
                FAIL("record of context %zu opened with another context: %s", c,
                     envelope_status_name(s));
        }
        if (n % 101 == 0) {
            envelope_kek *keks[] = {kek};
            envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
            dop.keks = keks;
            dop.nkeks = 1;
            dop.expected = ctx[c];
            uint8_t *p = NULL;
            size_t plen = 0;
            if (envelope_open(lib, &dop, msg, mlen, &p, &plen, NULL, &err) != ENVELOPE_OK ||
                plen != (size_t)len || memcmp(p, pt, plen) != 0)
                FAIL("envelope_open of a recorder's record: %s", err.message);
            envelope_buffer_free(p, plen);
            __atomic_add_fetch(&plain_opens, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    envelope_err err;
    if (argc < 3)
        FAIL("usage: lib_recorder URI THREADS RECORDS CONTEXTS [MAX_DEKS MAX_KEYS] | URI locked "
             "MAX_DEKS [MAX_KEYBLOCKS]");
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    envelope_kek *keks[] = {kek};
    envelope_recorder_opts ro = ENVELOPE_RECORDER_OPTS_INIT;
    ro.keks = keks;
    ro.nkeks = 1;
    if (strcmp(argv[2], "locked") == 0) {
        ro.max_deks = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
        ro.max_keys = ro.max_deks;
        ro.max_keyblocks = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
        envelope_status s = envelope_recorder_new(lib, &ro, &rec, &err);
        printf("status=%s\n", envelope_status_name(s));
        if (s != ENVELOPE_OK)
            printf("message=%s\n", err.message);
        envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
        if (s == ENVELOPE_OK && envelope_recorder_stats_get(rec, &st, &err) == ENVELOPE_OK)
            printf("locked_bytes=%zu\n", st.locked_bytes);
        envelope_recorder_free(rec);
        envelope_kek_free(kek);
        envelope_lib_free(lib);
        return 0;
    }
    if (argc < 5)
        FAIL("usage: lib_recorder URI THREADS RECORDS CONTEXTS");
    size_t threads = strtoul(argv[2], NULL, 10);
    records = strtoul(argv[3], NULL, 10);
    contexts = strtoul(argv[4], NULL, 10);
    if (threads < 1 || threads > 64 || records < 1 || contexts < 1 || contexts > 100000)
        FAIL("THREADS 1..64, RECORDS >= 1, CONTEXTS 1..100000");
    if (argc > 6) {
        ro.max_deks = strtoul(argv[5], NULL, 10);
        ro.max_keys = strtoul(argv[6], NULL, 10);
    }
    if (envelope_recorder_new(lib, &ro, &rec, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    ctx = calloc(contexts, sizeof(*ctx));
    if (ctx == NULL)
        FAIL("out of memory");
    for (size_t c = 0; c < contexts; c++) {
        char v[24];
        snprintf(v, sizeof(v), "t%zu", c);
        if (envelope_context_new(&ctx[c], &err) != ENVELOPE_OK ||
            envelope_context_add(ctx[c], "tenant", v, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    pthread_t th[64];
    for (size_t t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0)
            FAIL("pthread_create");
    for (size_t t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
    if (envelope_recorder_stats_get(rec, &st, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    printf("seals=%llu\nopens=%llu\ndeks_made=%llu\nunwraps=%llu\ndeks_live=%zu\nkeys_live=%zu\n"
           "locked_bytes=%zu\nplain_opens=%lu\n",
           (unsigned long long)st.seals, (unsigned long long)st.opens,
           (unsigned long long)st.deks_made, (unsigned long long)st.unwraps, st.deks_live,
           st.keys_live, st.locked_bytes, plain_opens);
    for (size_t c = 0; c < contexts; c++)
        envelope_context_free(ctx[c]);
    free(ctx);
    envelope_recorder_free(rec);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return 0;
}
