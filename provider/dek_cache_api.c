/*
 * dek_cache_api.c - the unwrap cache's public face (dek_cache.h): the
 * shards, each a table of its own (dek_cache.c), chosen by entry name.
 */
#include <stdlib.h>
#include <string.h>

#include "dek_cache_shard.h"

/*
 * The cache is split into shards, each with its own lock, table, LRU list
 * and slab, chosen by the entry's name: callers on different entries do not
 * wait for each other (a hit holds its shard's lock for a copy of the DEK
 * and two pointer moves). One shard per 256 entries, up to 16: a small
 * cache is one shard, so its LRU is exact; a large one evicts
 * least-recently-used per shard.
 */
#define SHARDS_MAX 16
#define SHARD_MIN_CAPACITY 256

struct envprov_dek_cache {
    size_t nshards;
    struct shard *shards[SHARDS_MAX];
};

envprov_dek_cache *envprov_dek_cache_new(uint64_t ttl_ms, size_t capacity)
{
    if (ttl_ms == 0 || capacity == 0)
        return NULL;
    if (capacity > ENVPROV_CACHE_CAPACITY_MAX)
        capacity = ENVPROV_CACHE_CAPACITY_MAX;
    envprov_dek_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->nshards = capacity / SHARD_MIN_CAPACITY;
    if (c->nshards < 1)
        c->nshards = 1;
    if (c->nshards > SHARDS_MAX)
        c->nshards = SHARDS_MAX;
    for (size_t i = 0; i < c->nshards; i++) {
        size_t share = capacity / c->nshards + (i < capacity % c->nshards);
        if ((c->shards[i] = envprov_shard_new(ttl_ms, share)) == NULL) {
            envprov_dek_cache_free(c);
            return NULL;
        }
    }
    return c;
}

static struct shard *shard_for(envprov_dek_cache *c, const unsigned char key[32])
{
    return c->shards[key[8] % c->nshards]; /* bytes 0..7 pick the bucket inside it */
}

int envprov_dek_cache_unwrap(envprov_dek_cache *c, const unsigned char key[32], uint64_t ttl_ms,
                             envprov_unwrap_job *job, unsigned char *out, size_t *outlen,
                             size_t outsize)
{
    if (c == NULL || ttl_ms == 0)
        return job->run(job, out, outlen, outsize);
    return envprov_shard_unwrap(shard_for(c, key), key, ttl_ms, job, out, outlen, outsize);
}

void envprov_dek_cache_stats(envprov_dek_cache *c, envprov_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; c != NULL && i < c->nshards; i++) {
        envprov_cache_stats s;
        envprov_shard_stats(c->shards[i], &s);
        out->hits += s.hits;
        out->misses += s.misses;
        out->joins += s.joins;
        out->refreshes += s.refreshes;
        out->refresh_failures += s.refresh_failures;
        out->evictions += s.evictions;
        out->expirations += s.expirations;
        out->backend_calls += s.backend_calls;
        out->backend_errors += s.backend_errors;
        out->entries += s.entries;
    }
}

const unsigned char *envprov_dek_cache_slot_for_test(envprov_dek_cache *c,
                                                     const unsigned char key[32])
{
    return envprov_shard_slot(shard_for(c, key), key);
}

void envprov_dek_cache_set_clock_for_test(envprov_dek_cache *c, uint64_t (*clock)(void))
{
    for (size_t i = 0; i < c->nshards; i++)
        envprov_shard_set_clock(c->shards[i], clock);
}

void envprov_dek_cache_free(envprov_dek_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nshards; i++)
        envprov_shard_free(c->shards[i]);
    free(c);
}
