/*
 * test_lib_recorder.c - envelope_recorder on software RSA KEKs, one thread:
 * a DEK's window (messages, bytes) and the LRU bound on live DEKs decide
 * how many DEKs are made; the seal bound holds; BUFFER_TOO_SMALL sets the
 * size; an expected context is required; a tampered record fails and is
 * not kept; the opening LRU serves every context it holds without an
 * unwrap. Compact records (suite 2): one key block per window, handed to
 * on_keyblock before its first record; 63 bytes per record; a fresh
 * recorder opens them after add_keyblock or through find_keyblock, once
 * per key block; a key block store that fails fails the seal; unknown DEK
 * ids, other contexts, tampering, a second key block under a held id and
 * the key-block LRU bound. (lib.softhsm.recorder: threads, a token,
 * locked memory.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "lib_test_util.h"

static envelope_recorder *make(size_t msgs, uint64_t bytes, size_t deks, size_t keys)
{
    static envelope_kek *a[1];
    a[0] = tu.k2;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.dek_messages = msgs;
    o.dek_bytes = bytes;
    o.max_deks = deks;
    o.max_keys = keys;
    envelope_recorder *r = NULL;
    envelope_err e;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_OK);
    return r;
}

static envelope_recorder_stats stats(envelope_recorder *r)
{
    envelope_recorder_stats st = ENVELOPE_RECORDER_STATS_INIT;
    envelope_err e;
    assert_int_equal(envelope_recorder_stats_get(r, &st, &e), ENVELOPE_OK);
    return st;
}

static void roundtrip(envelope_recorder *r, envelope_context *c, const char *text)
{
    uint8_t msg[2048], back[64];
    size_t mlen = 0, blen = 0, len = strlen(text);
    envelope_err e;
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)text, len, msg, sizeof(msg),
                                            &mlen, &e),
                     ENVELOPE_OK);
    assert_true(mlen <= envelope_recorder_seal_bound(r, c, len));
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    assert_int_equal(blen, len);
    assert_memory_equal(back, text, len);
}

static void test_windows(void **state)
{
    (void)state;
    envelope_context *c = tu_context((const char *const[]){"tenant=a", NULL});
    envelope_recorder *r = make(10, 0, 0, 0);
    for (int i = 0; i < 100; i++)
        roundtrip(r, c, "a record");
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_made, 10); /* 10 records per DEK */
    assert_int_equal(st.unwraps, 10);   /* each new DEK unwrapped once to open */
    assert_int_equal(st.seals, 100);
    envelope_recorder_free(r);
    r = make(0, 80, 0, 0); /* 80 bytes per DEK: 10 records of 8 */
    for (int i = 0; i < 100; i++)
        roundtrip(r, c, "8 bytes!");
    assert_int_equal(stats(r).deks_made, 10);
    envelope_recorder_free(r);
    envelope_context_free(c);
}

static void test_lru_bounds(void **state)
{
    (void)state;
    envelope_context *c[8];
    for (int i = 0; i < 8; i++) {
        char kv[16];
        snprintf(kv, sizeof(kv), "tenant=t%d", i);
        c[i] = tu_context((const char *const[]){kv, NULL});
    }
    /* room for every context: one DEK and one unwrap each */
    envelope_recorder *r = make(0, 0, 8, 8);
    for (int i = 0; i < 80; i++)
        roundtrip(r, c[i % 8], "x");
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_made, 8);
    assert_int_equal(st.unwraps, 8);
    assert_int_equal(st.deks_live, 8);
    assert_int_equal(st.keys_live, 8);
    envelope_recorder_free(r);
    /* room for 4 of 8 round robin: the least recently used is gone each time */
    r = make(0, 0, 4, 4);
    for (int i = 0; i < 80; i++)
        roundtrip(r, c[i % 8], "x");
    st = stats(r);
    assert_int_equal(st.deks_made, 80);
    assert_int_equal(st.deks_live, 4);
    assert_int_equal(st.keys_live, 4);
    envelope_recorder_free(r);
    for (int i = 0; i < 8; i++)
        envelope_context_free(c[i]);
}

static void test_contract(void **state)
{
    (void)state;
    envelope_context *c = tu_context((const char *const[]){"tenant=a", NULL});
    envelope_context *empty = tu_context(NULL);
    envelope_recorder *r = make(0, 0, 0, 0);
    envelope_err e;
    uint8_t msg[2048], back[64];
    size_t mlen = 0, blen = 0, need = 0;
    static const uint8_t text[] = "twenty bytes of text";
    assert_int_equal(envelope_recorder_seal(r, c, text, 20, msg, 10, &need, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(envelope_recorder_seal(r, c, text, 20, msg, need, &mlen, &e), ENVELOPE_OK);
    assert_int_equal(mlen, need);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, 19, &blen, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(blen, 20);
    assert_int_equal(envelope_recorder_open(r, NULL, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_int_equal(envelope_recorder_open(r, empty, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    assert_int_equal(blen, 20);
    /* a plain opener reads it */
    envelope_kek *a[] = {tu.k2};
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    dop.expected = c;
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &p, &plen, NULL, &e), ENVELOPE_OK);
    envelope_buffer_free(p, plen);
    /* tampered: AUTH, nothing released, and the good record still opens */
    msg[mlen - 20] ^= 1;
    memset(back, 0x55, sizeof(back));
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_ERR_AUTH);
    for (size_t i = 0; i < 20; i++)
        assert_int_not_equal(back[i], text[i]);
    msg[mlen - 20] ^= 1;
    assert_int_equal(envelope_recorder_open(r, c, msg, mlen, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    /* options */
    envelope_recorder *r2 = NULL;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r2, &e), ENVELOPE_ERR_KEK_COUNT);
    o.struct_size = 0;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r2, &e), ENVELOPE_ERR_ARGUMENT);
    assert_null(r2);
    envelope_recorder_free(r);
    envelope_context_free(c);
    envelope_context_free(empty);
}

/* ---- compact records ---- */

/* The caller's key-block store: write-once by DEK id (FORMAT.md §10.5). */
#define STORE_MAX 256
static struct {
    uint8_t id[ENVELOPE_DEK_ID_BYTES];
    uint8_t *bytes;
    size_t len;
} store[STORE_MAX];
static size_t stored, store_calls;
static int store_fail; /* on_keyblock's answer while non-zero */
static int find_mode;  /* 0: answer from the store, 1: "none", 2: fail, 3: another id's */
static size_t find_calls;

static int on_keyblock(void *user, const uint8_t *id, const uint8_t *bytes, size_t len)
{
    assert_ptr_equal(user, &stored);
    store_calls++;
    if (store_fail)
        return store_fail;
    for (size_t i = 0; i < stored; i++)
        assert_memory_not_equal(store[i].id, id, ENVELOPE_DEK_ID_BYTES); /* new ids only */
    assert_true(stored < STORE_MAX);
    memcpy(store[stored].id, id, ENVELOPE_DEK_ID_BYTES);
    store[stored].bytes = malloc(len);
    assert_non_null(store[stored].bytes);
    memcpy(store[stored].bytes, bytes, len);
    store[stored].len = len;
    stored++;
    return 0;
}

static int find_keyblock(void *user, const uint8_t *id, uint8_t *buf, size_t cap, size_t *len)
{
    assert_ptr_equal(user, &stored);
    assert_int_equal(cap, ENVELOPE_MAX_KEYBLOCK_BYTES);
    find_calls++;
    if (find_mode == 1)
        return 0;
    if (find_mode == 2)
        return -1;
    for (size_t i = 0; i < stored; i++) {
        int match = memcmp(store[i].id, id, ENVELOPE_DEK_ID_BYTES) == 0;
        if (find_mode == 3 ? !match : match) {
            memcpy(buf, store[i].bytes, store[i].len);
            *len = store[i].len;
            return 1;
        }
    }
    return 0;
}

static void store_clear(void)
{
    for (size_t i = 0; i < stored; i++)
        free(store[i].bytes);
    stored = store_calls = find_calls = 0;
    store_fail = find_mode = 0;
}

static envelope_recorder *make_compact(size_t msgs, size_t kbs, int find)
{
    static envelope_kek *a[1];
    a[0] = tu.k2;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.dek_messages = msgs;
    o.compact = 1;
    o.on_keyblock = on_keyblock;
    o.find_keyblock = find ? find_keyblock : NULL;
    o.user = &stored;
    o.max_keyblocks = kbs;
    envelope_recorder *r = NULL;
    envelope_err e;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_OK);
    return r;
}

#define NREC 40
static uint8_t recs[NREC][128];
static size_t rlens[NREC];

static void seal_all(envelope_recorder *r, envelope_context *const *c, size_t nc)
{
    envelope_err e;
    for (size_t i = 0; i < NREC; i++) {
        char pt[32];
        int n = snprintf(pt, sizeof(pt), "compact record %zu", i);
        assert_int_equal(envelope_recorder_seal(r, c[i % nc], (const uint8_t *)pt, (size_t)n,
                                                recs[i], sizeof(recs[i]), &rlens[i], &e),
                         ENVELOPE_OK);
        assert_int_equal(rlens[i], (size_t)n + ENVELOPE_RECORD_OVERHEAD); /* 63 bytes */
        assert_int_equal(rlens[i], envelope_recorder_seal_bound(r, c[i % nc], (size_t)n));
        assert_memory_equal(recs[i], "ENVR", 4);
    }
}

static envelope_status open_one(envelope_recorder *r, const envelope_context *c, size_t i)
{
    uint8_t back[128];
    size_t blen = 0;
    envelope_err e;
    envelope_status s = envelope_recorder_open(r, c, recs[i], rlens[i], back, sizeof(back), &blen,
                                               &e);
    if (s == ENVELOPE_OK) {
        char pt[32];
        int n = snprintf(pt, sizeof(pt), "compact record %zu", i);
        assert_int_equal(blen, (size_t)n);
        assert_memory_equal(back, pt, blen);
    } else {
        assert_int_equal(e.code, s);
        assert_int_equal(blen, 0);
    }
    return s;
}

static envelope_context **contexts(size_t n)
{
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    envelope_context **c = calloc(n, sizeof(*c));
    assert_non_null(c);
    for (size_t i = 0; i < n; i++) {
        char kv[32];
        snprintf(kv, sizeof(kv), "tenant=c%zu", i);
        c[i] = tu_context((const char *const[]){kv, NULL});
    }
    return c;
}

static void contexts_free(envelope_context **c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        envelope_context_free(c[i]);
    free(c);
}

static void test_compact_windows(void **state)
{
    (void)state;
    envelope_context **c = contexts(2);
    envelope_recorder *r = make_compact(5, 0, 0);
    seal_all(r, c, 2); /* 20 records per context, 5 per key block */
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_made, 8);
    assert_int_equal(stored, 8); /* every key block stored, once */
    assert_int_equal(store_calls, 8);
    assert_int_equal(st.seals, NREC);
    /* the recorder opens its own records with no unwrap */
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(open_one(r, c[i % 2], i), ENVELOPE_OK);
    st = stats(r);
    assert_int_equal(st.unwraps, 0);
    assert_int_equal(st.keyblocks_live, 8);
    assert_int_equal(st.opens, NREC);
    /* each stored key block: its context, readable by a plain keyring */
    envelope_kek *a[] = {tu.k2};
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.keks = a;
    dop.nkeks = 1;
    dop.expected = c[0];
    envelope_keyblock *kb = NULL;
    envelope_err e;
    assert_int_equal(envelope_keyblock_load(tu.lib, &dop, store[0].bytes, store[0].len, &kb, &e),
                     ENVELOPE_OK);
    const uint8_t *id = NULL;
    assert_int_equal(envelope_record_dek_id(recs[0], rlens[0], &id, &e), ENVELOPE_OK);
    assert_memory_equal(id, envelope_keyblock_dek_id(kb), ENVELOPE_DEK_ID_BYTES);
    envelope_record_ctx *rc = NULL;
    uint8_t back[128];
    size_t blen = 0;
    assert_int_equal(envelope_record_ctx_new(tu.lib, &rc, &e), ENVELOPE_OK);
    assert_int_equal(envelope_record_open(rc, kb, NULL, 0, recs[0], rlens[0], back, sizeof(back),
                                          &blen, &e),
                     ENVELOPE_OK);
    assert_memory_equal(back, "compact record 0", blen);
    envelope_record_ctx_free(rc);
    envelope_keyblock_free(kb);
    envelope_recorder_free(r);
    store_clear();
    /* a byte window: 3 records of 16 bytes per key block */
    static envelope_kek *k[1];
    k[0] = tu.k2;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    o.keks = k;
    o.nkeks = 1;
    o.dek_bytes = 48;
    o.compact = 1;
    o.on_keyblock = on_keyblock;
    o.user = &stored;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_OK);
    for (int i = 0; i < 9; i++) {
        size_t l = 0;
        assert_int_equal(envelope_recorder_seal(r, c[0], (const uint8_t *)"sixteen bytes!!!", 16,
                                                recs[0], sizeof(recs[0]), &l, &e),
                         ENVELOPE_OK);
    }
    assert_int_equal(stats(r).deks_made, 3);
    envelope_recorder_free(r);
    store_clear();
    contexts_free(c, 2);
}

static void test_compact_fresh_reader(void **state)
{
    (void)state;
    envelope_context **c = contexts(4);
    envelope_context *empty = tu_context(NULL);
    envelope_recorder *w = make_compact(4, 0, 0);
    seal_all(w, c, 4); /* 10 per context: 3 key blocks each */
    assert_int_equal(stored, 12);
    envelope_recorder_free(w);

    envelope_recorder *r = make_compact(0, 0, 0);
    envelope_err e;
    /* nothing added: every record names an unknown DEK id, no KEK call */
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_ERR_DEK_UNKNOWN);
    /* add each key block once, with its own context expected */
    for (size_t i = 0; i < stored; i++) {
        assert_int_equal(envelope_recorder_add_keyblock(r, store[i].bytes, store[i].len, empty, &e),
                         ENVELOPE_OK);
    }
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.unwraps, 12);
    assert_int_equal(st.keyblocks_live, 12);
    assert_int_equal(st.deks_made, 0);
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(open_one(r, c[i % 4], i), ENVELOPE_OK);
    /* adding one again: same bytes, no unwrap */
    assert_int_equal(envelope_recorder_add_keyblock(r, store[0].bytes, store[0].len, empty, &e),
                     ENVELOPE_OK);
    assert_int_equal(stats(r).unwraps, 12);
    /* another tenant's record: the context error, from the key block's context */
    assert_int_equal(open_one(r, c[1], 0), ENVELOPE_ERR_CONTEXT_MISMATCH);
    assert_int_equal(open_one(r, empty, 0), ENVELOPE_OK);
    /* tampered: AUTH, the output wiped */
    uint8_t back[128];
    size_t blen = 0;
    recs[0][rlens[0] - 20] ^= 1;
    memset(back, 0x55, sizeof(back));
    assert_int_equal(envelope_recorder_open(r, c[0], recs[0], rlens[0], back, sizeof(back), &blen,
                                            &e),
                     ENVELOPE_ERR_AUTH);
    assert_int_equal(blen, 0);
    assert_memory_not_equal(back, "compact record 0", 16);
    recs[0][rlens[0] - 20] ^= 1;
    /* the DEK id changed to another key block's: that block's key, another AAD */
    uint8_t moved[128];
    memcpy(moved, recs[0], rlens[0]);
    memcpy(moved + 7, recs[16] + 7, ENVELOPE_DEK_ID_BYTES); /* c[0]'s 2nd key block */
    assert_int_equal(envelope_recorder_open(r, c[0], moved, rlens[0], back, sizeof(back), &blen,
                                            &e),
                     ENVELOPE_ERR_AUTH);
    /* a DEK id nobody has */
    moved[7] ^= 0xff;
    assert_int_equal(envelope_recorder_open(r, c[0], moved, rlens[0], back, sizeof(back), &blen,
                                            &e),
                     ENVELOPE_ERR_DEK_UNKNOWN);
    /* a different key block under a held DEK id is refused, the held one stays */
    uint8_t *forged = malloc(store[1].len);
    assert_non_null(forged);
    memcpy(forged, store[1].bytes, store[1].len);
    memcpy(forged + 8, store[0].id, ENVELOPE_DEK_ID_BYTES);
    assert_int_equal(envelope_recorder_add_keyblock(r, forged, store[1].len, empty, &e),
                     ENVELOPE_ERR_DEK_ID_CONFLICT);
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_OK);
    free(forged);
    /* add_keyblock: expected checked before any KEK call, NULL refused */
    envelope_recorder *r2 = make_compact(0, 0, 0);
    assert_int_equal(envelope_recorder_add_keyblock(r2, store[0].bytes, store[0].len, c[1], &e),
                     ENVELOPE_ERR_CONTEXT_MISMATCH);
    assert_int_equal(envelope_recorder_add_keyblock(r2, store[0].bytes, store[0].len, NULL, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_int_equal(envelope_recorder_add_keyblock(r2, store[0].bytes, store[0].len - 1, c[0], &e),
                     ENVELOPE_ERR_TRUNCATED);
    assert_int_equal(stats(r2).unwraps, 0);
    assert_int_equal(stats(r2).keyblocks_live, 0);
    /* a suite-1 recorder reads compact records too, once given their key block */
    envelope_recorder_free(r2);
    r2 = make(0, 0, 0, 0);
    assert_int_equal(open_one(r2, c[0], 0), ENVELOPE_ERR_DEK_UNKNOWN);
    assert_int_equal(envelope_recorder_add_keyblock(r2, store[0].bytes, store[0].len, c[0], &e),
                     ENVELOPE_OK);
    assert_int_equal(open_one(r2, c[0], 0), ENVELOPE_OK);
    envelope_recorder_free(r2);
    envelope_recorder_free(r);
    store_clear();
    envelope_context_free(empty);
    contexts_free(c, 4);
}

static void test_compact_find(void **state)
{
    (void)state;
    envelope_context **c = contexts(4);
    envelope_recorder *w = make_compact(4, 0, 0);
    seal_all(w, c, 4);
    envelope_recorder_free(w);
    assert_int_equal(stored, 12);
    /* the store answers misses: one find and one unwrap per key block */
    envelope_recorder *r = make_compact(0, 0, 1);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < NREC; i++)
            assert_int_equal(open_one(r, c[i % 4], i), ENVELOPE_OK);
    assert_int_equal(find_calls, 12);
    assert_int_equal(stats(r).unwraps, 12);
    envelope_recorder_free(r);
    /* a store that has none, that fails, that answers with another id's block */
    find_calls = 0;
    r = make_compact(0, 0, 1);
    find_mode = 1;
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_ERR_DEK_UNKNOWN);
    find_mode = 2;
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_ERR_OUTPUT);
    find_mode = 3;
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_ERR_DEK_UNKNOWN);
    assert_int_equal(stats(r).unwraps, 0); /* refused before any KEK call */
    /* a miss for a record of another context: the found key block's
     * context is checked before it is unwrapped */
    find_mode = 0;
    assert_int_equal(open_one(r, c[1], 0), ENVELOPE_ERR_CONTEXT_MISMATCH);
    assert_int_equal(stats(r).unwraps, 0);
    assert_int_equal(stats(r).keyblocks_live, 0); /* failures are not kept */
    assert_int_equal(open_one(r, c[0], 0), ENVELOPE_OK);
    assert_int_equal(find_calls, 5);
    envelope_recorder_free(r);
    /* the LRU bound: 2 key blocks held, 12 used round robin */
    r = make_compact(0, 2, 1);
    find_calls = 0;
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(open_one(r, c[i % 4], i), ENVELOPE_OK);
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.keyblocks_live, 2);
    assert_int_equal(st.keyblocks_evicted, st.unwraps - 2);
    assert_int_equal(find_calls, st.unwraps);
    envelope_recorder_free(r);
    /* without find_keyblock an evicted key block is a DEK_UNKNOWN, said */
    r = make_compact(0, 2, 0);
    envelope_err e;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(envelope_recorder_add_keyblock(r, store[i].bytes, store[i].len, c[i % 4],
                                                        &e),
                         ENVELOPE_OK);
    assert_int_equal(stats(r).keyblocks_evicted, 1);
    uint8_t back[128];
    size_t blen = 0;
    assert_int_equal(envelope_recorder_open(r, c[0], recs[0], rlens[0], back, sizeof(back), &blen,
                                            &e),
                     ENVELOPE_ERR_DEK_UNKNOWN);
    assert_non_null(strstr(e.message, "max_keyblocks"));
    envelope_recorder_free(r);
    store_clear();
    contexts_free(c, 4);
}

static void test_compact_contract(void **state)
{
    (void)state;
    envelope_context *c = tu_context((const char *const[]){"tenant=a", NULL});
    envelope_err e;
    static envelope_kek *a[1];
    a[0] = tu.k2;
    envelope_recorder_opts o = ENVELOPE_RECORDER_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.compact = 1;
    envelope_recorder *r = NULL;
    /* no store for key blocks: refused at creation */
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_ERR_ARGUMENT);
    assert_null(r);
    o.compact = 2;
    o.on_keyblock = on_keyblock;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_ERR_ARGUMENT);
    /* a caller built against the first layout (through max_keys) gets suite 1 */
    o.compact = 1;
    o.struct_size = offsetof(envelope_recorder_opts, compact);
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_OK);
    uint8_t out[2048];
    size_t ol = 0;
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)"x", 1, out, sizeof(out), &ol,
                                            &e),
                     ENVELOPE_OK);
    assert_memory_equal(out, "ENVL", 4);
    envelope_recorder_stats old = {.struct_size = offsetof(envelope_recorder_stats, keyblocks_live),
                                   .keyblocks_live = 77};
    assert_int_equal(envelope_recorder_stats_get(r, &old, &e), ENVELOPE_OK);
    assert_int_equal(old.keyblocks_live, 77); /* past its struct_size: not written */
    assert_int_equal(old.seals, 1);
    old.struct_size = sizeof(old) + 8;
    assert_int_equal(envelope_recorder_stats_get(r, &old, &e), ENVELOPE_ERR_ARGUMENT);
    envelope_recorder_free(r);
    o.struct_size = sizeof(o) + 8;
    assert_int_equal(envelope_recorder_new(tu.lib, &o, &r, &e), ENVELOPE_ERR_ARGUMENT);
    /* BUFFER_TOO_SMALL: the exact size, before any key block is made */
    r = make_compact(0, 0, 0);
    size_t need = 0;
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)"twelve bytes", 12, out, 20,
                                            &need, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, 12 + ENVELOPE_RECORD_OVERHEAD);
    assert_int_equal(stats(r).deks_made, 0);
    assert_int_equal(store_calls, 0);
    /* the store fails: the seal fails, nothing written, nothing kept */
    store_fail = 7;
    memset(out, 0, sizeof(out));
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)"twelve bytes", 12, out,
                                            sizeof(out), &ol, &e),
                     ENVELOPE_ERR_OUTPUT);
    assert_int_equal(ol, 0);
    assert_non_null(strstr(e.message, "on_keyblock returned 7"));
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], 0);
    envelope_recorder_stats st = stats(r);
    assert_int_equal(st.deks_live, 0);
    assert_int_equal(st.keyblocks_live, 0);
    assert_int_equal(st.seals, 0);
    /* the store works again: a new key block, stored, then the record */
    store_fail = 0;
    assert_int_equal(envelope_recorder_seal(r, c, (const uint8_t *)"twelve bytes", 12, out,
                                            sizeof(out), &ol, &e),
                     ENVELOPE_OK);
    assert_int_equal(e.code, ENVELOPE_OK);
    assert_int_equal(stored, 1);
    assert_int_equal(store_calls, 2);
    assert_int_equal(stats(r).deks_made, 2);
    /* open: BUFFER_TOO_SMALL sets the size; a record that is not one */
    uint8_t back[16];
    size_t blen = 0;
    assert_int_equal(envelope_recorder_open(r, c, out, ol, back, 11, &blen, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(blen, 12);
    assert_int_equal(envelope_recorder_open(r, c, out, 40, back, sizeof(back), &blen, &e),
                     ENVELOPE_ERR_TRUNCATED);
    assert_int_equal(envelope_recorder_open(r, c, out, ol, back, sizeof(back), &blen, &e),
                     ENVELOPE_OK);
    assert_int_equal(blen, 12);
    envelope_recorder_free(r);
    store_clear();
    envelope_context_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_lru_bounds),
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_compact_windows),
        cmocka_unit_test(test_compact_fresh_reader),
        cmocka_unit_test(test_compact_find),
        cmocka_unit_test(test_compact_contract),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
