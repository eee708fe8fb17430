/*
 * kms_socket.c - deadlines, non-blocking TCP connect, poll waits and the
 * SIGPIPE guard; see kms_socket.h.
 */
#include "kms_socket.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "kms_diag.h"
#include "kms_log.h"

int64_t kms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kms_sigpipe_block(kms_sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void kms_sigpipe_restore(kms_sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    if (!g->was_pending && sigismember(&pend, SIGPIPE)) {
        struct timespec zero = {0, 0};
        (void)sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* See kms_socket.h. */
kms_status kms_wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - kms_now_ms();
        if (left <= 0)
            return KMS_E_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return KMS_OK;
        if (r < 0 && errno != EINTR)
            return KMS_E_IO;
    }
}

/* See kms_socket.h. */
kms_status kms_tcp_connect(const kms_endpoint_cfg *ep, int64_t deadline, int *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL, *ai;
    if (getaddrinfo(ep->host, ep->port, &hints, &res) != 0) {
        kms_debug("endpoint %s:%s: name does not resolve", ep->host, ep->port);
        kms_diag_add("KMS %s:%s: name does not resolve", ep->host, ep->port);
        return KMS_E_UNREACHABLE;
    }
    kms_status st = KMS_E_UNREACHABLE;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0)
            continue;
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            st = kms_wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (st == KMS_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr == 0)
                r = 0;
            else if (st == KMS_OK)
                errno = soerr;
        }
        if (r == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            *out = fd;
            freeaddrinfo(res);
            return KMS_OK;
        }
        kms_debug("endpoint %s:%s: connect failed: %s", ep->host, ep->port,
                  st == KMS_E_TIMEOUT ? "timeout" : ENVCORE_ERRNO_TEXT(errno));
        kms_diag_add("KMS %s:%s: connect failed: %s", ep->host, ep->port,
                     st == KMS_E_TIMEOUT ? "timed out" : ENVCORE_ERRNO_TEXT(errno));
        close(fd);
        if (st == KMS_E_TIMEOUT)
            break;
        st = KMS_E_UNREACHABLE;
    }
    freeaddrinfo(res);
    return st == KMS_E_TIMEOUT ? KMS_E_TIMEOUT : KMS_E_UNREACHABLE;
}
