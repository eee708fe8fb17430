/*
 * kms_socket.h - the socket layer under kms_tls_conn.c: a monotonic clock
 * for deadlines, non-blocking TCP connect and poll waits that never pass
 * the deadline, and the SIGPIPE guard around our I/O.
 *
 * All I/O is non-blocking against an absolute deadline (monotonic ms), so
 * one call never blocks longer than the slot's timeout-ms. (Name
 * resolution with getaddrinfo is the one blocking step.)
 */
#ifndef KMS_SOCKET_H
#define KMS_SOCKET_H

#include <signal.h>
#include <stdint.h>

#include "kms_config.h"
#include "kms_status.h"

/* Milliseconds on CLOCK_MONOTONIC: what deadlines are measured in. */
int64_t kms_now_ms(void);

/* Waits until fd is ready for `events` (poll(2)) or the deadline passes
 * (KMS_E_TIMEOUT). */
kms_status kms_wait_fd(int fd, short events, int64_t deadline);

/* Connects a non-blocking, close-on-exec TCP socket to the endpoint (each
 * address it resolves to, in order) before the deadline; *out is the fd.
 * KMS_E_UNREACHABLE or KMS_E_TIMEOUT, with the reason in the diag text. */
kms_status kms_tcp_connect(const kms_endpoint_cfg *ep, int64_t deadline, int *out);

/* A write to a peer that has gone away raises SIGPIPE, which would kill the
 * host program (we are a library inside someone else's process). libssl
 * writes with write(2), so block SIGPIPE in this thread around our I/O and
 * swallow one we caused, as libcurl does. */
typedef struct {
    sigset_t old;
    int was_pending;
} kms_sigpipe_guard;

void kms_sigpipe_block(kms_sigpipe_guard *g);
void kms_sigpipe_restore(kms_sigpipe_guard *g);

#endif
