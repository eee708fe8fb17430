/*
 * dek_cache.h - the provider's unwrap cache: (KEK identity, wrapped blob,
 * AAD) -> DEK, bounded by a TTL and a capacity (LRU), with single-flight
 * misses and refresh-ahead (docs/PROVIDER.md, "Unwrap cache"; the risk it
 * takes is stated in docs/SECURITY.md).
 *
 * DEKs live only in one locked, non-dumpable slab (core/secmem) whose slot
 * pages are also MADV_WIPEONFORK, so a forked child never holds the
 * parent's DEKs; a slot is wiped when its entry is evicted, expires, or the
 * cache is freed. Nothing secret is kept outside the slab: entries are
 * indexed by a SHA-256 of their key material, which the caller computes.
 */
#ifndef ENVELOPE_PROVIDER_DEK_CACHE_H
#define ENVELOPE_PROVIDER_DEK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define ENVPROV_CACHE_DEK_MAX 64          /* the largest DEK an entry holds */
#define ENVPROV_CACHE_CAPACITY_MAX 100000 /* slab of 6.4 MB */
#define ENVPROV_CACHE_TTL_MAX_MS (24ull * 3600 * 1000)

typedef struct envprov_dek_cache envprov_dek_cache;

typedef struct {
    uint64_t hits;             /* answered from a live entry */
    uint64_t misses;           /* no live entry: a backend call was made */
    uint64_t joins;            /* waited for another caller's backend call (single-flight) */
    uint64_t refreshes;        /* background re-validations started (refresh-ahead) */
    uint64_t refresh_failures; /* of those, failed (the entry still expires at its TTL) */
    uint64_t evictions;        /* dropped for capacity (LRU) */
    uint64_t expirations;      /* dropped at their TTL */
    uint64_t backend_calls;    /* unwraps sent to the KEK's home (misses + refreshes) */
    uint64_t backend_errors;   /* of those, failed */
    uint64_t entries;          /* live now */
} envprov_cache_stats;

/*
 * One unwrap, as the cache runs it: now (the caller's miss) or later, on a
 * background thread (refresh-ahead), for which the cache asks for a copy
 * that owns everything it needs (clone; NULL: no refresh this time).
 * run returns ENVCORE_R_OK or a reason it has raised.
 */
typedef struct envprov_unwrap_job envprov_unwrap_job;
struct envprov_unwrap_job {
    int (*run)(envprov_unwrap_job *j, unsigned char *out, size_t *outlen, size_t outsize);
    envprov_unwrap_job *(*clone)(const envprov_unwrap_job *j);
    void (*free)(envprov_unwrap_job *j);
    int joined; /* set by the cache: answered by another caller's call (for the audit) */
};

/* ttl_ms 0 or capacity 0: NULL (no cache). NULL also when out of memory
 * (the provider then runs uncached and says so in the debug log). */
envprov_dek_cache *envprov_dek_cache_new(uint64_t ttl_ms, size_t capacity);
/* Waits for refreshes in flight, wipes every slot, frees. NULL-safe. */
void envprov_dek_cache_free(envprov_dek_cache *c);

/*
 * The DEK for `key` (a SHA-256 the caller made of the KEK's identity, the
 * blob and the AAD): from a live entry, or by running job once however
 * many callers miss at the same time (the others wait for its result,
 * success or the same error). ttl_ms caps this call's entry lifetime
 * below the cache's own (0: bypass the cache, run the job). A DEK longer
 * than ENVPROV_CACHE_DEK_MAX is returned but not kept.
 */
int envprov_dek_cache_unwrap(envprov_dek_cache *c, const unsigned char key[32], uint64_t ttl_ms,
                             envprov_unwrap_job *job, unsigned char *out, size_t *outlen,
                             size_t outsize);

void envprov_dek_cache_stats(envprov_dek_cache *c, envprov_cache_stats *out);

/* For the unit test: the slab bytes of the slot `key` uses or last used
 * (wiped after eviction), or NULL. Never used by the provider itself. */
const unsigned char *envprov_dek_cache_slot_for_test(envprov_dek_cache *c,
                                                     const unsigned char key[32]);

/* For the unit test: a clock in milliseconds instead of CLOCK_MONOTONIC. */
void envprov_dek_cache_set_clock_for_test(envprov_dek_cache *c, uint64_t (*clock)(void));

#endif
