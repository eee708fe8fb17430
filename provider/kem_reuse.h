/*
 * kem_reuse.h - DEK reuse for the KEM's encapsulate: the secret and wrapped
 * blob of an earlier encapsulate with the same key and AAD, handed out
 * again within a window, for callers that ask for it per call (the ctx
 * param ENVELOPE_PKEY_PARAM_DEK_REUSE) when the configuration allows it
 * (dek-reuse-messages, dek-reuse-seconds: docs/PROVIDER.md, "DEK reuse").
 */
#ifndef ENVELOPE_PROVIDER_KEM_REUSE_H
#define ENVELOPE_PROVIDER_KEM_REUSE_H

#include <stddef.h>
#include <stdint.h>

#define ENVPROV_KEM_REUSE_SECRET 32
#define ENVPROV_KEM_REUSE_BLOB_MAX 2048

typedef struct envprov_kem_reuse envprov_kem_reuse;

/* A table of windows of at most max_messages encapsulations and max_ms
 * milliseconds each; NULL (reuse off) when max_messages < 2 or out of
 * memory. Secrets live in locked, non-dumpable memory. */
envprov_kem_reuse *envprov_kem_reuse_new(uint64_t max_messages, uint64_t max_ms);
/* Wipes every secret. NULL-safe. */
void envprov_kem_reuse_free(envprov_kem_reuse *r);
/* 1 when the window named name is live and has room: its secret and blob
 * are copied out (blob only if it fits cap) and one use is counted; 0
 * otherwise (a window that is used up or expired is wiped). */
int envprov_kem_reuse_take(envprov_kem_reuse *r, const unsigned char name[32],
                           unsigned char secret[ENVPROV_KEM_REUSE_SECRET], unsigned char *blob,
                           size_t *bloblen, size_t cap);
/* Starts a window named name with this secret and blob (its first use),
 * in the least recently used slot. */
void envprov_kem_reuse_put(envprov_kem_reuse *r, const unsigned char name[32],
                           const unsigned char secret[ENVPROV_KEM_REUSE_SECRET],
                           const unsigned char *blob, size_t bloblen);
typedef struct {
    uint64_t reused;  /* encapsulations answered from a window */
    uint64_t windows; /* windows started (one wrap each) */
} envprov_kem_reuse_stats;
void envprov_kem_reuse_get_stats(envprov_kem_reuse *r, envprov_kem_reuse_stats *st);

#endif
