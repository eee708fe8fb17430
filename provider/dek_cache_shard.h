/*
 * dek_cache_shard.h - one shard of the unwrap cache (dek_cache.c): a table
 * with its own lock, LRU list, DEK slab and refresh threads. dek_cache_api.c
 * spreads entries over shards; nothing else uses these.
 */
#ifndef ENVPROV_DEK_CACHE_SHARD_H
#define ENVPROV_DEK_CACHE_SHARD_H

#include "dek_cache.h"

struct shard;
struct shard *envprov_shard_new(uint64_t ttl_ms, size_t capacity);
int envprov_shard_unwrap(struct shard *c, const unsigned char key[32], uint64_t ttl_ms,
                         envprov_unwrap_job *job, unsigned char *out, size_t *outlen,
                         size_t outsize);
void envprov_shard_stats(struct shard *c, envprov_cache_stats *out);
const unsigned char *envprov_shard_slot(struct shard *c, const unsigned char key[32]);
void envprov_shard_set_clock(struct shard *c, uint64_t (*clock)(void));
void envprov_shard_free(struct shard *c);

#endif
