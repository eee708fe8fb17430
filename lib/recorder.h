/*
 * recorder.h - the recorder's key tables (recorder_table.c), shared by
 * recorder.c only: a hash table of byte-string keys with an LRU order and
 * one 32-byte DEK per entry in a slice of the recorder's locked slab, and
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

enum { REC_FREE, REC_PENDING, REC_LIVE };

typedef struct rec_entry {
    uint64_t hash;
    uint8_t *key; /* the bytes that name the entry */
    size_t key_len;
    env_hdrtmpl t; /* sealing: the header parts its DEK's records share */
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
    uint8_t *deks; /* cap * 32 bytes of the locked slab */
    unsigned long gen;
} rec_table;

envelope_status rec_table_init(rec_table *t, size_t cap, uint8_t *deks, envelope_err *err);
void rec_table_cleanup(rec_table *t);
uint64_t rec_hash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* The entry named by key, or -1. */
int32_t rec_find(const rec_table *t, uint64_t hash, const uint8_t *key, size_t len);
/* A PENDING entry for key (a copy is made), evicting the least recently
 * used LIVE entry if the table is full; -1 if every entry is PENDING
 * (wait on t->cond and look again), -2 if out of memory. */
int32_t rec_insert(rec_table *t, uint64_t hash, const uint8_t *key, size_t len);
void rec_touch(rec_table *t, int32_t i);
/* Wipes the entry's DEK and frees it. */
void rec_remove(rec_table *t, int32_t i);
/* Empties the table in a child after fork(). */
void rec_check_fork(rec_table *t);
static inline uint8_t *rec_dek(const rec_table *t, int32_t i)
{
    return t->deks + (size_t)i * ENVELOPE_DEK_BYTES;
}

#endif
