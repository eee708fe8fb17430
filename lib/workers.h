/*
 * workers.h - a fixed pool of threads that run jobs in the order they were
 * submitted (lib/workers.c), and the parallel frame paths built on it
 * (lib/encrypt_par.c, lib/decrypt_par.c). libenvelope starts threads only
 * for an encryptor or decryptor whose options ask for them (threads > 1).
 *
 * Contract of the pool:
 *  - env_workers_new starts n threads with every signal blocked (signals
 *    stay with the caller's threads, where a program's handlers expect
 *    them) or starts none and fails.
 *  - A job is owned by the pool from env_workers_submit until
 *    env_workers_done reports it (or env_workers_wait returns); the pool's
 *    lock orders the submitter's writes before the worker's reads and the
 *    worker's writes before the waiter's reads.
 *  - env_workers_free (NULL-safe) lets running jobs end, drops queued ones
 *    unrun and joins every thread: no thread outlives the object that
 *    started it, on success, failure or cancellation alike.
 */
#ifndef ENVELOPE_LIB_WORKERS_H
#define ENVELOPE_LIB_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct env_job {
    struct env_job *next; /* the pool's queue */
    int done;             /* under the pool's lock */
} env_job;

typedef void (*env_work_fn)(void *state, env_job *job);
typedef struct env_workers env_workers;

/* states[i] is handed to fn on thread i (and kept by the caller). */
envelope_status env_workers_new(size_t n, env_work_fn fn, void *const *states, env_workers **out,
                                envelope_err *err);
void env_workers_submit(env_workers *w, env_job *j);
int env_workers_done(env_workers *w, env_job *j);
void env_workers_wait(env_workers *w, env_job *j);
void env_workers_free(env_workers *w);

/* The buffer envelope_encryptor_buffer / envelope_decryptor_buffer lend
 * where no slot is at hand (serially; before a decryptor has its header). */
#define ENV_LEND_BYTES ((size_t)1 << 20)

/* Most threads an object may ask for (ENVELOPE_ERR_ARGUMENT beyond). */
#define ENV_MAX_THREADS 64

/*
 * The parallel paths. A slot holds whole frames: the encryptor fills one
 * with plaintext, a worker seals its frames into the slot's output; the
 * decryptor fills one with encoded frames, a worker opens them. Slots are
 * written to the sink in order on the caller's thread, and the number in
 * flight is bounded (env_par_geometry), so memory does not grow with the
 * input.
 */
typedef struct env_par_geom {
    size_t nslots;  /* threads + 2: the workers' slots, one filling, one held */
    size_t kframes; /* frames per slot */
} env_par_geom;
void env_par_geometry(size_t threads, size_t frame_size, env_par_geom *g);

typedef struct env_penc env_penc;
/* c holds the data key (after the header was written); id is the message
 * id, read for the life of p. */
envelope_status env_penc_new(envelope_lib *lib, const env_crypto *c, const uint8_t *id, size_t fs,
                             size_t threads, envelope_sink_fn sink, void *arg, env_penc **out,
                             envelope_err *err);
envelope_status env_penc_update(env_penc *p, const uint8_t *in, size_t inlen, envelope_err *err);
envelope_status env_penc_buffer(env_penc *p, uint8_t **buf, size_t *len, envelope_err *err);
envelope_status env_penc_final(env_penc *p, uint64_t *total, envelope_err *err);
void env_penc_free(env_penc *p); /* joins, wipes */

typedef struct env_pdec env_pdec;
envelope_status env_pdec_new(envelope_lib *lib, const env_crypto *c, const uint8_t *id, size_t fs,
                             size_t threads, envelope_sink_fn sink, void *arg, env_pdec **out,
                             envelope_err *err);
envelope_status env_pdec_update(env_pdec *p, const uint8_t *in, size_t inlen, envelope_err *err);
envelope_status env_pdec_buffer(env_pdec *p, uint8_t **buf, size_t *len, envelope_err *err);
envelope_status env_pdec_final(env_pdec *p, envelope_err *err);
void env_pdec_free(env_pdec *p);

#endif
