/*
 * audit_internal.h - what audit.c (settings, the ring, the callers' side)
 * and audit_writer.c (the writer thread, the sinks, the chain) share.
 *
 * The ring is a bounded multi-producer, single-consumer queue of fixed
 * cells (D. Vyukov's bounded queue): a producer claims a cell by moving
 * `head` with one compare-and-swap, fills it and publishes it by storing
 * its sequence number; the writer takes cells in order from `tail`. No lock
 * and no system call on the callers' side unless the writer sleeps or the
 * ring is full.
 */
#ifndef ENVPROV_AUDIT_INTERNAL_H
#define ENVPROV_AUDIT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "audit.h"
#include "audit_line.h"
#include "envelope/provider.h"

#define AUDIT_RING_CELLS 4096 /* power of two */
#define AUDIT_BATCH_MAX 512   /* lines per write() */
#define AUDIT_URI_MAX 512     /* longer references are cut (and marked) */
#define AUDIT_KEY_LEN 32
#define AUDIT_MEMO 64 /* context hashes remembered by the writer */
/* AADs up to this long travel in the cell; a longer one travels as its
 * SHA-256 (flag AUDIT_AAD_DIGEST), which the writer then keys instead. */
#define AUDIT_AAD_INLINE 256
#define AUDIT_AAD_DIGEST 1

enum { AUDIT_SINK_FILE = 1, AUDIT_SINK_SYSLOG = 2 };

typedef struct {
    uint64_t t_ns, lat_ns;
    uint64_t n1, n2, n3;
    const char *backend; /* a backend's static name, or NULL */
    int32_t result;
    uint8_t op, cache, uri_cut, aad_flags;
    uint16_t urilen, aadlen;
    char uri[AUDIT_URI_MAX];
    unsigned char aad[AUDIT_AAD_INLINE];
} audit_rec;

typedef struct {
    uint16_t len;
    uint8_t flags, used;
    unsigned char aad[AUDIT_AAD_INLINE];
    unsigned char mac[16];
} audit_memo;

struct envprov_audit {
    /* settings */
    int sink;
    char *path;
    int fsync_every, refuse, drop_on_full;
    /* who writes: the parts of every line that do not change */
    char host[256], prog[256];
    long pid;
    unsigned long uid;
    /* the context-hash key (locked memory) and its public id */
    unsigned char *key;
    char key_id[17];
    int key_from_file;

    /* the ring: cells in one mapping excluded from core dumps; their
     * sequence numbers apart (a forked child resets only those pages) */
    audit_rec *cells;
    uint64_t *seqs; /* atomic: pos + 1 once the cell for pos is published */
    size_t ncells;
    uint64_t head __attribute__((aligned(64))); /* producers */
    uint64_t tail __attribute__((aligned(64))); /* the writer (others read it) */
    uint64_t dropped __attribute__((aligned(64)));
    int writer_sleeping;
    int sink_failed; /* latched by the writer, read by envprov_audit_gate */
    int warned;
    char fail_msg[256];

    pthread_mutex_t lock;
    pthread_cond_t wake, drained;
    pthread_t writer;
    int writer_running, stop;

    OSSL_LIB_CTX *libctx; /* the provider's own (default provider only) */
    EVP_MD *sha256;       /* fetched there once; EVP_MD objects are shared safely */
    /* the writer's own state (only its thread touches these) */
    int fd;
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    audit_memo *memo; /* AUDIT_MEMO entries, in the ring's mapping */
    audit_buf out;
    unsigned char prev[32]; /* hash of the last line of the chain */
    char chain[AUDIT_CHAIN_HEX + 1];
    /* chain ids: SHA-256(seed, pid, counter, time); the seed is drawn at
     * configuration, so the writer thread never needs the RNG */
    unsigned char chain_seed[32];
    uint64_t chain_ctr;
    int have_prev;
    off_t known_size; /* the file's size after our last write: nobody wrote since */
    uint64_t line_seq;
    uint64_t lost; /* lines a failed write lost, said when the sink recovers */
    size_t map_len;
    struct envprov_audit *next_all; /* every audit of the process, for fork */
};

/* audit_writer.c */
void *envprov_audit_writer_main(void *arg);
/* Opens the file sink (O_APPEND); on failure latches the sink failure with
 * the reason in fail_msg. 1 if open. */
int envprov_audit_open_sink(envprov_audit *a);
void envprov_audit_latch_failure(envprov_audit *a, const char *what, int err);
/* The writer's resources (digest, MAC, buffer, file); safe to call twice. */
void envprov_audit_writer_free(envprov_audit *a);
int envprov_audit_writer_init(envprov_audit *a);

#endif
