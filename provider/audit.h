/*
 * audit.h - the provider's audit trail: one JSON line per KEK operation
 * (docs/AUDIT.md has the line, field by field, and what each setting does).
 *
 * The caller's thread only fills a fixed-size record into a bounded
 * per-process ring (no formatting, no hashing, no system call: the cached
 * unwrap path costs a few hundred nanoseconds and the audit must stay a
 * small part of it). One writer thread per process drains the ring: it
 * formats the lines, computes the keyed context hash and the hash chain, and
 * appends whole lines with one write() per batch (audit_writer.c).
 *
 * audit-failure = refuse: once the writer has seen the sink fail, the
 * failure is latched and envprov_audit_gate() refuses every operation that
 * would release or make a wrapped key, until a later write succeeds.
 * A full ring blocks the caller (audit-overflow = block, the default) or
 * counts what it drops and writes that count as a line (= drop).
 *
 * Thread-safe; fork-safe (a child starts with an empty ring and its own
 * writer, started by its first event). The context is never stored: a
 * record holds the AAD only until the writer has hashed it.
 */
#ifndef ENVPROV_AUDIT_H
#define ENVPROV_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "envkey.h"

struct envprov_ctx;
typedef struct envprov_audit envprov_audit;

/* Settings (provider section of openssl.cnf; docs/PROVIDER.md, docs/AUDIT.md). */
#define ENVPROV_CONF_AUDIT_LOG "audit-log"           /* file:PATH | syslog; unset: off */
#define ENVPROV_CONF_AUDIT_FSYNC "audit-fsync"       /* none | every */
#define ENVPROV_CONF_AUDIT_FAILURE "audit-failure"   /* refuse (default) | warn */
#define ENVPROV_CONF_AUDIT_OVERFLOW "audit-overflow" /* block (default) | drop */
#define ENVPROV_CONF_AUDIT_KEY "audit-key"           /* file holding the context-hash key */

typedef enum {
    ENVPROV_AUDIT_OP_WRAP = 1,
    ENVPROV_AUDIT_OP_UNWRAP,
    ENVPROV_AUDIT_OP_REWRAP,
    ENVPROV_AUDIT_OP_KEK_CREATE,
    ENVPROV_AUDIT_OP_ALARM,       /* an unwrap-rate threshold crossed (alarm.h) */
    ENVPROV_AUDIT_OP_ALARM_CLEAR, /* the rate fell below it again */
    ENVPROV_AUDIT_OP_DROPPED,     /* writer-made: events the full ring dropped */
    ENVPROV_AUDIT_OP_SINK,        /* writer-made: the sink failed / recovered */
} envprov_audit_op;

typedef enum {
    ENVPROV_AUDIT_CACHE_NA = 0,  /* not an unwrap */
    ENVPROV_AUDIT_CACHE_OFF,     /* the cache was bypassed or is off */
    ENVPROV_AUDIT_CACHE_MISS,    /* this caller asked the key's home */
    ENVPROV_AUDIT_CACHE_HIT,     /* answered from a live entry */
    ENVPROV_AUDIT_CACHE_JOIN,    /* waited for another caller's call to the home */
    ENVPROV_AUDIT_CACHE_REFRESH, /* the cache's own background re-validation */
    ENVPROV_AUDIT_CACHE_REUSE    /* a wrap: an earlier wrapped DEK handed out again (DEK reuse) */
} envprov_audit_cache;

/* The start of an operation: its wall-clock time (CLOCK_REALTIME, ns). */
typedef struct {
    uint64_t t0;
} envprov_audit_span;

/* Reads the audit settings of pc->settings into pc->audit (NULL: audit off).
 * A value that cannot be read raises ENVCORE_R_BAD_CONFIG and returns it. A
 * sink that cannot be opened is not a configuration error: it is the
 * sink-failure state, which audit-failure decides about. */
int envprov_audit_config(struct envprov_ctx *pc);
/* Flushes every event recorded so far (the writer drains the ring), stops
 * the writer, wipes the key. NULL-safe. */
void envprov_audit_free(envprov_audit *a);

/* The span's start; a no-op when a is NULL. */
void envprov_audit_begin(const envprov_audit *a, envprov_audit_span *s);

/*
 * ENVCORE_R_OK, or ENVCORE_R_AUDIT_UNAVAILABLE (raised) when the sink is
 * known broken and audit-failure = refuse: the caller must then not release
 * its result (wipe it). With warn, a broken sink is said once on stderr and
 * in syslog, and this returns ENVCORE_R_OK.
 */
int envprov_audit_gate(envprov_audit *a);

/*
 * Records one event. k: the KEK (its reference and backend name are
 * copied, never a secret); aad: the operation's AAD, hashed by the writer
 * with the log's key (NULL/0: no context). result: ENVCORE_R_OK or the
 * reason. n1, n2, n3: op-specific numbers (an alarm's count, limit and
 * window in ms). Never fails: a full ring blocks or counts a drop.
 */
void envprov_audit_event(envprov_audit *a, const envprov_audit_span *s, envprov_audit_op op,
                         const envkey *k, const unsigned char *aad, size_t aadlen, int result,
                         envprov_audit_cache cache, uint64_t n1, uint64_t n2, uint64_t n3);

/* An event whose KEK is known only by its reference (a KEK being created). */
void envprov_audit_event_uri(envprov_audit *a, const envprov_audit_span *s, envprov_audit_op op,
                             const char *uri, const char *backend, int result);

/* For tests and the bench: waits until every event recorded so far by this
 * process has been written (or failed to be). */
void envprov_audit_flush(envprov_audit *a);

#endif
