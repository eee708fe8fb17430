/*
 * recorder.h - the recorder's key tables (recorder_table.c), shared by
 * recorder.c and recorder_compact.c only: a hash table of byte-string keys
 * with an LRU order and one secret per entry (a 32-byte DEK, or a key
 * block's record key: stride bytes) in a slice of the recorder's locked
 * slab, and
 * single flight (the entry a thread is filling is PENDING; the others
 * wait for it on the table's condition variable). Every call but
 * rec_table_init/_cleanup is made with the table's lock held.
 */
#ifndef ENVELOPE_LIB_RECORDER_H
#define ENVELOPE_LIB_RECORDER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "suite2.h"

enum { REC_FREE, REC_PENDING, REC_LIVE };

typedef struct rec_entry {
    uint64_t hash;
    uint8_t *key; /* the bytes that name the entry */
    size_t key_len;
    env_hdrtmpl t; /* sealing: the header parts its DEK's records share */
    /* key blocks: the DEK id, the key block object's serial (record.c keys
     * its AES context by it) and, for opening, the key block's kb_body */
    uint8_t id[ENVELOPE_DEK_ID_BYTES];
    uint64_t serial;
    uint8_t *body;
    size_t body_len;
    uint64_t messages, bytes, born_ms;
    int state;
    int32_t hnext;        /* hash chain, or the free list */
    int32_t lprev, lnext; /* LRU: lprev towards the most recently used */
} rec_entry;

typedef struct rec_table {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rec_entry *e;
    size_t cap, live;
    int32_t *buckets;
    size_t nbuckets; /* a power of 2 */
    int32_t mru, lru, free_head;
    uint8_t *deks; /* cap * stride bytes of the locked slab */
    size_t stride;
    unsigned long gen;
} rec_table;

envelope_status rec_table_init(rec_table *t, size_t cap, uint8_t *deks, size_t stride,
                               envelope_err *err);
void rec_table_cleanup(rec_table *t);
uint64_t rec_hash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* The entry named by key, or -1. */
int32_t rec_find(const rec_table *t, uint64_t hash, const uint8_t *key, size_t len);
/* A PENDING entry for key (a copy is made), evicting the least recently
 * used LIVE entry if the table is full; -1 if every entry is PENDING
 * (wait on t->cond and look again), -2 if out of memory. */
int32_t rec_insert(rec_table *t, uint64_t hash, const uint8_t *key, size_t len);
void rec_touch(rec_table *t, int32_t i);
/* Wipes the entry's secret and frees it. */
void rec_remove(rec_table *t, int32_t i);
/* Empties the table in a child after fork(). */
void rec_check_fork(rec_table *t);
static inline uint8_t *rec_dek(const rec_table *t, int32_t i)
{
    return t->deks + (size_t)i * t->stride;
}

/* ---- the recorder itself (recorder.c; compact records: recorder_compact.c) ---- */
typedef struct rec_worker {
    env_crypto c;
    env_idpool ids;
    uint8_t *scratch; /* REC_OPEN_KEY_MAX: a template, an open key or a kb_body */
    /* compact records, made on first use (rec_worker_compact): a record
     * context, a copy of the key block in use (kb.s in its own locked
     * page) and find_keyblock's buffer */
    envelope_record_ctx *rc;
    envelope_keyblock kb;
    uint8_t *kbbuf;
    struct rec_worker *next;
} rec_worker;

#define REC_OPEN_KEY_MAX (2 + ENV_MAX_HEADER) /* suite, context, EDK list */
#define REC_KB_STRIDE sizeof(env_kb_secrets)  /* a key block's record key: K, K1 */

struct envelope_recorder {
    envelope_lib *lib;
    envelope_kek *keks[ENVELOPE_MAX_EDKS];
    size_t nkeks;
    uint32_t frame_size;
    uint64_t max_messages, max_bytes, max_ms;
    size_t edk_bound; /* the largest EDK list these KEKs make */
    uint8_t *slab;    /* locked: the three tables' secrets */
    size_t slab_len;
    /* seal: by encoded context (a DEK, or with compact a key block's
     * record key); open: suite-1 DEKs by (suite, context, EDK list); kbs:
     * key blocks' record keys by DEK id */
    rec_table seal, open, kbs;
    int compact;
    envelope_keyblock_store_fn on_keyblock;
    envelope_keyblock_find_fn find_keyblock;
    void *user;
    uint64_t kb_evicted; /* under kbs.lock */
    pthread_mutex_t pool_lock;
    int pool_lock_made;
    rec_worker *idle;
    size_t workers, compact_workers;           /* under pool_lock */
    uint64_t seals, opens, deks_made, unwraps; /* atomics */
};

uint64_t rec_now_ms(void);
int rec_window_open(const envelope_recorder *r, const rec_entry *e, uint64_t bytes, uint64_t now);
envelope_status rec_locked_refused(envelope_err *err, size_t bytes);
size_t rec_page_round(size_t n);
/* A worker for one call from the pool (or a new one), or NULL with *st
 * and err saying why; _put wipes its keys and returns it. */
rec_worker *rec_worker_get(envelope_recorder *r, envelope_status *st, envelope_err *err);
void rec_worker_put(envelope_recorder *r, rec_worker *w);

/* recorder_compact.c: the compact halves of envelope_recorder_seal and
 * _open, called with the arguments checked (*outlen is 0). */
envelope_status rec_compact_seal(envelope_recorder *r, const envelope_context *context,
                                 const uint8_t *ctx_enc, size_t clen, const uint8_t *in,
                                 size_t inlen, uint8_t *out, size_t outsize, size_t *outlen,
                                 envelope_err *err);
envelope_status rec_compact_open(envelope_recorder *r, const envelope_context *expected,
                                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outsize,
                                 size_t *outlen, envelope_err *err);
/* Frees w's compact parts (worker_free). */
void rec_worker_compact_free(rec_worker *w);

#endif
