/*
 * lib_recorder_compact.c URI THREADS RECORDS CONTEXTS DEK_MESSAGES - the
 * shared recorder's compact records (suite 2) on a real KEK
 * (lib_recorder.sh runs it on a SoftHSM2 AES key and counts the token's
 * calls). Prints "key=value" lines for the script.
 *
 * 1. One compact recorder shared by THREADS threads, each sealing RECORDS
 *    records over CONTEXTS interleaved contexts {tenant=tN}, DEK_MESSAGES
 *    records per key block. on_keyblock stores each key block in a store
 *    that refuses a second one under a DEK id; after every seal the thread
 *    checks that the record's DEK id is already in the store (the key
 *    block is handed over before its first record) and that the record has
 *    63 bytes of overhead, then opens it with the same recorder (its own
 *    key blocks: no unwrap) and, now and then, with another context
 *    (ENVELOPE_ERR_CONTEXT_MISMATCH). "windows" is the number of key blocks
 *    the window rule gives for these counts.
 * 2. A fresh recorder is given every stored key block
 *    (envelope_recorder_add_keyblock, the threads sharing the work: one
 *    unwrap each), then THREADS threads open every record with its
 *    context (each thread its own records and the next thread's: every
 *    record twice, by two threads at once).
 * 3. Another fresh recorder with find_keyblock only (no add): the same
 *    opens; key blocks are fetched on a miss, one unwrap per key block
 *    however many threads ask at once.
 * 4. On the recorder of step 2: a tampered record is ENVELOPE_ERR_AUTH
 *    with the output wiped, a record whose DEK id no key block has is
 *    ENVELOPE_ERR_DEK_UNKNOWN, an expected context that is not the key
 *    block's is ENVELOPE_ERR_CONTEXT_MISMATCH.
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

#define PT_MAX 96
#define REC_MAX (PT_MAX + ENVELOPE_RECORD_OVERHEAD)

/* ---- the caller's key-block store: write-once per DEK id ---- */
typedef struct {
    uint8_t id[ENVELOPE_DEK_ID_BYTES];
    uint8_t *bytes;
    size_t len;
} kb_entry;
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static kb_entry *store;
static size_t stored, store_cap;

/* Index of the entry with id, or -1 (store_lock held). */
static long store_find(const uint8_t *id)
{
    for (size_t i = stored; i-- > 0;) /* newest first: the likely one */
        if (memcmp(store[i].id, id, ENVELOPE_DEK_ID_BYTES) == 0)
            return (long)i;
    return -1;
}

static int on_keyblock(void *user, const uint8_t *id, const uint8_t *bytes, size_t len)
{
    (void)user;
    int rc = 0;
    pthread_mutex_lock(&store_lock);
    if (store_find(id) >= 0) {
        rc = 1; /* write-once: a second key block under an id is refused */
    } else if (stored == store_cap || (store[stored].bytes = malloc(len)) == NULL) {
        rc = 2;
    } else {
        memcpy(store[stored].id, id, ENVELOPE_DEK_ID_BYTES);
        memcpy(store[stored].bytes, bytes, len);
        store[stored].len = len;
        stored++;
    }
    pthread_mutex_unlock(&store_lock);
    return rc;
}

static int find_keyblock(void *user, const uint8_t *id, uint8_t *buf, size_t cap, size_t *len)
{
    (void)user;
    int found = 0;
    pthread_mutex_lock(&store_lock);
    long i = store_find(id);
    if (i >= 0 && store[i].len <= cap) {
        memcpy(buf, store[i].bytes, store[i].len);
        *len = store[i].len;
        found = 1;
    }
    pthread_mutex_unlock(&store_lock);
    return found;
}

static int refuse_keyblock(void *user, const uint8_t *id, const uint8_t *bytes, size_t len)
{
    (void)user;
    (void)id;
    (void)bytes;
    (void)len;
    FAIL("a reader's recorder made a key block");
}

/* ---- the run ---- */
static envelope_lib *lib;
static envelope_kek *kek;
static envelope_recorder *rec;
static envelope_context **ctx;
static size_t nthreads, records, contexts;
static uint8_t *recs; /* [thread][record][REC_MAX] */
static size_t *rlens;
static int phase;

static size_t ctx_of(size_t t, size_t n)
{
    return (n * 7919 + t * 104729) % contexts; /* interleaved */
}

static int plaintext(size_t t, size_t n, char pt[PT_MAX])
{
    return snprintf(pt, PT_MAX, "record %zu of thread %zu in context %zu", n, t, ctx_of(t, n));
}

static void open_check(envelope_recorder *r, size_t t, size_t n, const char *what)
{
    char pt[PT_MAX];
    uint8_t back[PT_MAX];
    size_t blen = 0, i = t * records + n;
    int len = plaintext(t, n, pt);
    envelope_err err;
    if (envelope_recorder_open(r, ctx[ctx_of(t, n)], recs + i * REC_MAX, rlens[i], back,
                               sizeof(back), &blen, &err) != ENVELOPE_OK ||
        blen != (size_t)len || memcmp(back, pt, blen) != 0)
        FAIL("%s: open %zu/%zu: %s", what, t, n, err.message);
}

static void *seal_worker(void *arg)
{
    size_t t = (size_t)arg;
    envelope_err err;
    for (size_t n = 0; n < records; n++) {
        size_t c = ctx_of(t, n), i = t * records + n;
        char pt[PT_MAX];
        int len = plaintext(t, n, pt);
        uint8_t *out = recs + i * REC_MAX;
        if (envelope_recorder_seal(rec, ctx[c], (const uint8_t *)pt, (size_t)len, out, REC_MAX,
                                   &rlens[i], &err) != ENVELOPE_OK)
            FAIL("seal %zu/%zu: %s", t, n, err.message);
        if (rlens[i] != (size_t)len + 63)
            FAIL("a record of %d bytes is %zu bytes sealed, not %d + 63", len, rlens[i], len);
        const uint8_t *id = NULL;
        if (envelope_record_dek_id(out, rlens[i], &id, &err) != ENVELOPE_OK)
            FAIL("sealed record: %s", err.message);
        pthread_mutex_lock(&store_lock);
        long have = store_find(id);
        pthread_mutex_unlock(&store_lock);
        if (have < 0)
            FAIL("a record was returned before its key block was stored");
        open_check(rec, t, n, "sealing recorder");
        if (contexts > 1 && n % 97 == 0) {
            uint8_t back[PT_MAX];
            size_t blen = 0;
            envelope_status s = envelope_recorder_open(rec, ctx[(c + 1) % contexts], out, rlens[i],
                                                       back, sizeof(back), &blen, &err);
            if (s != ENVELOPE_ERR_CONTEXT_MISMATCH)
                FAIL("record of context %zu opened with another context: %s", c,
                     envelope_status_name(s));
        }
    }
    return NULL;
}

static void *add_worker(void *arg)
{
    size_t t = (size_t)arg;
    envelope_err err;
    envelope_context *empty = NULL;
    if (envelope_context_new(&empty, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    for (size_t i = t; i < stored; i += nthreads)
        if (envelope_recorder_add_keyblock(rec, store[i].bytes, store[i].len, empty, &err) !=
            ENVELOPE_OK)
            FAIL("add_keyblock %zu: %s", i, err.message);
    envelope_context_free(empty);
    return NULL;
}

static void *open_worker(void *arg)
{
    size_t t = (size_t)arg;
    /* each thread opens its own records and the next thread's (of the
     * same key blocks: the contexts are interleaved) */
    for (size_t k = 0; k < (nthreads > 1 ? 2u : 1u); k++)
        for (size_t n = 0; n < records; n++)
            open_check(rec, (t + k) % nthreads, n, phase == 2 ? "added" : "found");
    return NULL;
}

static void run(void *(*fn)(void *))
{
    pthread_t th[64];
    for (size_t t = 0; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, fn, (void *)t) != 0)
            FAIL("pthread_create");
    for (size_t t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
}

static envelope_recorder *make(int seal, int find, size_t dek_messages, size_t max_kbs)
{
    envelope_kek *keks[] = {kek};
    envelope_recorder_opts ro = ENVELOPE_RECORDER_OPTS_INIT;
    ro.keks = keks;
    ro.nkeks = 1;
    ro.compact = 1;
    ro.dek_messages = dek_messages;
    ro.dek_seconds = 86400; /* the window is the count: "windows" below is exact */
    ro.max_deks = contexts;
    ro.max_keyblocks = max_kbs;
    ro.on_keyblock = seal ? on_keyblock : refuse_keyblock;
    ro.find_keyblock = find ? find_keyblock : NULL;
    envelope_recorder *r = NULL;
    envelope_err err;
    if (envelope_recorder_new(lib, &ro, &r, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    return r;
}

static envelope_recorder_stats stats_of(envelope_recorder *r)
{
    envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
    envelope_err err;
    if (envelope_recorder_stats_get(r, &st, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    return st;
}

/* Step 4 on the recorder r that holds every key block. */
static void hostile(envelope_recorder *r)
{
    envelope_err err;
    uint8_t bad[REC_MAX], back[PT_MAX];
    size_t blen = 0, len = rlens[0];
    memcpy(bad, recs, len);
    bad[len - 17] ^= 0x01; /* the last ciphertext byte */
    memset(back, 0xa5, sizeof(back));
    envelope_status s = envelope_recorder_open(r, ctx[ctx_of(0, 0)], bad, len, back, sizeof(back),
                                               &blen, &err);
    if (s != ENVELOPE_ERR_AUTH || blen != 0)
        FAIL("a tampered record: %s", envelope_status_name(s));
    for (size_t i = 0; i < len - ENVELOPE_RECORD_OVERHEAD; i++)
        if (back[i] != 0) /* wiped, not the 0xa5 left there, not plaintext */
            FAIL("a tampered record left bytes in the output");
    memcpy(bad, recs, len);
    bad[7] ^= 0x80; /* the DEK id */
    s = envelope_recorder_open(r, ctx[ctx_of(0, 0)], bad, len, back, sizeof(back), &blen, &err);
    if (s != ENVELOPE_ERR_DEK_UNKNOWN)
        FAIL("a record under an unknown DEK id: %s", envelope_status_name(s));
    if (contexts > 1) {
        s = envelope_recorder_open(r, ctx[(ctx_of(0, 0) + 1) % contexts], recs, len, back,
                                   sizeof(back), &blen, &err);
        if (s != ENVELOPE_ERR_CONTEXT_MISMATCH)
            FAIL("a record opened with another context: %s", envelope_status_name(s));
    }
}

int main(int argc, char **argv)
{
    envelope_err err;
    if (argc != 6)
        FAIL("usage: lib_recorder_compact URI THREADS RECORDS CONTEXTS DEK_MESSAGES");
    nthreads = strtoul(argv[2], NULL, 10);
    records = strtoul(argv[3], NULL, 10);
    contexts = strtoul(argv[4], NULL, 10);
    size_t per = strtoul(argv[5], NULL, 10);
    if (nthreads < 1 || nthreads > 64 || records < 1 || records > 1000000 || contexts < 1 ||
        contexts > 100000 || per < 1)
        FAIL("THREADS 1..64, RECORDS 1..10^6, CONTEXTS 1..100000, DEK_MESSAGES >= 1");
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    ctx = calloc(contexts, sizeof(*ctx));
    size_t *count = calloc(contexts, sizeof(*count));
    recs = malloc(nthreads * records * REC_MAX);
    rlens = calloc(nthreads * records, sizeof(*rlens));
    if (ctx == NULL || count == NULL || recs == NULL || rlens == NULL)
        FAIL("out of memory");
    for (size_t c = 0; c < contexts; c++) {
        char v[24];
        snprintf(v, sizeof(v), "t%zu", c);
        if (envelope_context_new(&ctx[c], &err) != ENVELOPE_OK ||
            envelope_context_add(ctx[c], "tenant", v, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    /* the key blocks the window rule gives: a new one every `per` records
     * of a context, whatever the threads' interleaving */
    size_t windows = 0;
    for (size_t t = 0; t < nthreads; t++)
        for (size_t n = 0; n < records; n++)
            count[ctx_of(t, n)]++;
    for (size_t c = 0; c < contexts; c++)
        windows += (count[c] + per - 1) / per;
    store_cap = windows;
    store = calloc(store_cap ? store_cap : 1, sizeof(*store));
    if (store == NULL)
        FAIL("out of memory");

    /* 1: seal (and open) through one shared compact recorder */
    phase = 1;
    rec = make(1, 0, per, windows);
    run(seal_worker);
    envelope_recorder_stats st = stats_of(rec);
    printf("windows=%zu\nseals=%llu\ndeks_made=%llu\nseal_unwraps=%llu\nstored=%zu\n"
           "seal_locked_bytes=%zu\noverhead=%u\n",
           windows, (unsigned long long)st.seals, (unsigned long long)st.deks_made,
           (unsigned long long)st.unwraps, stored, st.locked_bytes, ENVELOPE_RECORD_OVERHEAD);
    envelope_recorder_free(rec);

    /* 2: a fresh recorder given every stored key block */
    phase = 2;
    rec = make(0, 0, 0, stored);
    run(add_worker);
    run(open_worker);
    st = stats_of(rec);
    printf("add_unwraps=%llu\nadd_keyblocks=%zu\nadd_opens=%llu\n", (unsigned long long)st.unwraps,
           st.keyblocks_live, (unsigned long long)st.opens);
    hostile(rec);
    envelope_recorder_free(rec);

    /* 3: a fresh recorder that finds key blocks on a miss */
    phase = 3;
    rec = make(0, 1, 0, stored);
    run(open_worker);
    st = stats_of(rec);
    printf("find_unwraps=%llu\nfind_keyblocks=%zu\nfind_opens=%llu\n",
           (unsigned long long)st.unwraps, st.keyblocks_live, (unsigned long long)st.opens);
    envelope_recorder_free(rec);
    printf("hostile=ok\n");

    for (size_t i = 0; i < stored; i++)
        free(store[i].bytes);
    free(store);
    for (size_t c = 0; c < contexts; c++)
        envelope_context_free(ctx[c]);
    free(ctx);
    free(count);
    free(recs);
    free(rlens);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return 0;
}
