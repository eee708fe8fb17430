/*
 * kms_pool.h - one configured KMS (a PKCS#11 slot) at run time: its TLS
 * context, its endpoints' health and a small pool of idle connections.
 *
 * kms_slot_call sends one request and returns one response:
 *  - an idle pooled connection is reused if it is still quiet (a readable
 *    idle socket means the server closed or restarted it: dropped);
 *  - otherwise endpoints are tried in order, healthy ones first; a failed
 *    endpoint is skipped for a back-off (0.5 s doubling to 30 s) unless no
 *    healthy one is left, so a restarted server is found by the next call;
 *  - up to `retries` further rounds over the endpoints, sleeping 100 ms
 *    doubling to 1 s between rounds, never past the call's deadline
 *    (timeout-ms from the start of the call);
 *  - after any error or timeout the connection is freed, never pooled, so
 *    a late answer can never be read by the next call; a framed answer is
 *    handed to the caller together with its connection, and the caller
 *    pools it (kms_slot_release keep=1) only once it has accepted the
 *    answer: the frame header alone proves nothing about the stream;
 *  - a request that is idempotent (Locate, Get Attributes, Encrypt and
 *    Decrypt with the caller's IV) is resent on a fresh connection when a
 *    connection failed before one byte of the answer arrived; Create,
 *    Activate, Revoke and Destroy never are.
 * Thread-safe: the lock covers the pool, the health table and the tls
 * pointer, never I/O.
 */
#ifndef KMS_POOL_H
#define KMS_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kms_config.h"
#include "kms_status.h"
#include "kms_tls.h"

#define KMS_POOL_MAX 64

typedef struct {
    int64_t retry_at; /* monotonic ms; 0 = healthy */
    int failures;
} kms_ep_health;

typedef struct kms_slot {
    kms_slot_cfg cfg;
    kms_tls *tls; /* NULL until the client key is loaded (see C_Login); under lock */
    pthread_mutex_t lock;
    kms_conn *idle[KMS_POOL_MAX];
    size_t n_idle;
    kms_ep_health health[KMS_MAX_ENDPOINTS];
    struct aws_kms *aws; /* protocol aws-kms: the AWS client (p11_aws.h); else NULL */
} kms_slot;

void kms_slot_init(kms_slot *s, const kms_slot_cfg *cfg);
void kms_slot_cleanup(kms_slot *s); /* frees pooled connections and TLS */
/* Drops pooled connections (after fork: they belong to the parent). */
void kms_slot_drop_idle(kms_slot *s);

/* On KMS_OK: *resp is one framed Response Message (envelope_secmem memory)
 * and *conn the connection it came on, which the caller must hand back with
 * kms_slot_release once it has checked the answer. On any other status
 * *conn is NULL (the connection is already freed). */
kms_status kms_slot_call(kms_slot *s, const uint8_t *req, size_t reqlen, int idempotent,
                         uint8_t **resp, size_t *resplen, kms_conn **conn)
    __attribute__((warn_unused_result));
/* keep = 1: the answer was accepted in full (a success, or a well-formed
 * failure result for this very request): the connection is pooled.
 * keep = 0: it is freed (anything refused, a message-level error). NULL ok. */
void kms_slot_release(kms_slot *s, kms_conn *c, int keep);
/* Replaces the slot's client identity (NULL unloads it: calls then fail
 * with KMS_E_IDENTITY); calls in flight keep their reference. */
void kms_slot_set_tls(kms_slot *s, kms_tls *t);
int kms_slot_has_tls(kms_slot *s);

#endif
