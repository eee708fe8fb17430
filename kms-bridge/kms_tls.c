/*
 * kms_tls.c - mutual TLS to a KMIP server with libssl, see kms_tls.h.
 */
#include "kms_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kmip.h"
#include "kms_diag.h"
#include "kms_log.h"
#include "secmem.h"

struct kms_tls {
    SSL_CTX *ctx;
    int refs; /* atomic: the slot holds one, each call in flight one */
};

struct kms_conn {
    SSL *ssl;
    int fd;
    size_t received;
    char endpoint[300];
};

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. TLS 1.3 suites
 * are all ECDHE/AEAD already; OpenSSL's defaults stay. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

int64_t kms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    const char *pw;
    int asked;
} pass_req;

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    pass_req *r = u;
    r->asked = 1;
    const char *pw = r->pw;
    if (pw == NULL || size <= 0)
        return 0;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        return 0;
    memcpy(buf, pw, n);
    return (int)n;
}

kms_tls *kms_tls_new(const kms_slot_cfg *cfg, const char *passphrase, int *needs_passphrase,
                     char *err, size_t errlen)
{
    pass_req pr = {.pw = passphrase, .asked = 0};
    *needs_passphrase = 0;
    kms_tls *t = calloc(1, sizeof(*t));
    const char *what = "out of memory";
    ERR_set_mark();
    if (t == NULL || (t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        goto fail;
    t->refs = 1;
    what = "TLS settings refused";
    if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(t->ctx, tls12_ciphers))
        goto fail;
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    what = "ca-file: cannot load CA certificates";
    if (SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1)
        goto fail;
    what = "cert-file: cannot load the client certificate chain";
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file) != 1)
        goto fail;
    SSL_CTX_set_default_passwd_cb(t->ctx, pass_cb);
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, &pr);
    what = "key-file: cannot load the client key (encrypted? log in with its passphrase as PIN)";
    int ok = SSL_CTX_use_PrivateKey_file(t->ctx, cfg->key_file, SSL_FILETYPE_PEM) == 1;
    /* The passphrase is the caller's; drop our pointer to it now. */
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                               ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
            what = "key-file does not match cert-file";
        else
            *needs_passphrase = pr.asked;
        goto fail;
    }
    what = "key-file does not match cert-file";
    if (SSL_CTX_check_private_key(t->ctx) != 1)
        goto fail;
    ERR_pop_to_mark();
    return t;
fail:
    kms_debug_openssl(what);
    ERR_pop_to_mark();
    snprintf(err, errlen, "[%s] %s", cfg->section, what);
    kms_tls_free(t);
    return NULL;
}

kms_tls *kms_tls_up_ref(kms_tls *t)
{
    if (t != NULL)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void kms_tls_free(kms_tls *t)
{
    if (t == NULL)
        return;
    /* refs is 0 only for a half-built context (kms_tls_new's failure path). */
    if (t->refs > 0 && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

/* A write to a peer that has gone away raises SIGPIPE, which would kill the
 * host program (we are a library inside someone else's process). libssl
 * writes with write(2), so block SIGPIPE in this thread around our I/O and
 * swallow one we caused, as libcurl does. */
typedef struct {
    sigset_t old;
    int was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(sigpipe_guard *g)
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

/* Waits until fd is ready for `events` or the deadline passes. */
static kms_status wait_fd(int fd, short events, int64_t deadline)
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

static kms_status tcp_connect(const kms_endpoint_cfg *ep, int64_t deadline, int *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
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
            st = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (st == KMS_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
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
                  st == KMS_E_TIMEOUT ? "timeout" : strerror(errno));
        kms_diag_add("KMS %s:%s: connect failed: %s", ep->host, ep->port,
                     st == KMS_E_TIMEOUT ? "timed out" : strerror(errno));
        close(fd);
        if (st == KMS_E_TIMEOUT)
            break;
        st = KMS_E_UNREACHABLE;
    }
    freeaddrinfo(res);
    return st == KMS_E_TIMEOUT ? KMS_E_TIMEOUT : KMS_E_UNREACHABLE;
}

/* OpenSSL's reason for the newest error on this thread's queue (inside the
 * caller's ERR mark): a fixed string such as "sslv3 alert handshake
 * failure", never data. */
static const char *tls_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    return r != NULL ? r : "no reason given";
}

/* The server refused our certificate: an alert about it. Under TLS 1.2 it
 * arrives during the handshake (before our Finished is answered); under
 * TLS 1.3 the client's handshake is over before the server has checked our
 * certificate (RFC 8446 §4.4.2), so the alert - certificate_required
 * included - arrives on the first read of the answer (kms_conn_roundtrip). */
static int identity_refused(unsigned long e)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return 0;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

/* Drives one SSL_* call to completion against the deadline. */
static kms_status ssl_wait(kms_conn *c, int r, int64_t deadline)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(c->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(c->fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN:
        return KMS_E_IO;
    case SSL_ERROR_SSL:
        /* TLS 1.3: the server's verdict on our certificate comes after
         * SSL_connect succeeded. Not an I/O failure: never resent. */
        if (identity_refused(ERR_peek_last_error())) {
            kms_debug_openssl("TLS");
            kms_debug("endpoint %s: the server refused our client certificate", c->endpoint);
            kms_diag_add("KMS %s: the server refused our client certificate (%s)", c->endpoint,
                         tls_reason());
            return KMS_E_IDENTITY;
        }
        return KMS_E_IO;
    default:
        return KMS_E_IO;
    }
}

kms_status kms_conn_open(kms_tls *t, const kms_endpoint_cfg *ep, const char *verify_name,
                         int64_t deadline, kms_conn **out)
{
    *out = NULL;
    kms_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return KMS_E_NOMEM;
    c->fd = -1;
    snprintf(c->endpoint, sizeof(c->endpoint), "%s:%s", ep->host, ep->port);
    kms_status st = tcp_connect(ep, deadline, &c->fd);
    if (st != KMS_OK) {
        free(c);
        return st;
    }
    sigpipe_guard g;
    sigpipe_block(&g);
    ERR_set_mark();
    st = KMS_E_INTERNAL;
    if ((c->ssl = SSL_new(t->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        kms_diag_add("KMS %s: cannot set up TLS: %s", c->endpoint, tls_reason());
        goto fail;
    }
    /* The server certificate must name what we dialled (or server-name). */
    unsigned char ipbuf[16];
    int is_ip = inet_pton(AF_INET, verify_name, ipbuf) == 1 ||
                inet_pton(AF_INET6, verify_name, ipbuf) == 1;
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), verify_name) != 1)
            goto fail;
    } else {
        /* RFC 6125 §6.4.3: a wildcard is the whole left-most label or
         * nothing; "kms*.example" must not match "kms-evil.example". */
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(c->ssl, verify_name) != 1 ||
            SSL_set_tlsext_host_name(c->ssl, verify_name) != 1)
            goto fail;
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            break;
        int sslerr = SSL_get_error(c->ssl, r);
        if (sslerr == SSL_ERROR_WANT_READ || sslerr == SSL_ERROR_WANT_WRITE) {
            st = ssl_wait(c, r, deadline);
            if (st == KMS_OK)
                continue;
            kms_debug("endpoint %s: TLS handshake %s", c->endpoint,
                      st == KMS_E_TIMEOUT ? "timed out" : "failed");
            if (st != KMS_E_IDENTITY)
                kms_diag_add("KMS %s: TLS handshake %s", c->endpoint,
                             st == KMS_E_TIMEOUT ? "timed out" : "failed");
            goto fail;
        }
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK) {
            kms_debug("endpoint %s: server certificate refused: %s (expected name %s)",
                      c->endpoint, X509_verify_cert_error_string(vr), verify_name);
            kms_diag_add("KMS %s: TLS handshake failed: server certificate refused: %s "
                         "(expected name %s)", c->endpoint, X509_verify_cert_error_string(vr),
                         verify_name);
            st = KMS_E_UNREACHABLE;
        } else if (identity_refused(ERR_peek_last_error())) {
            kms_debug_openssl("TLS handshake");
            kms_debug("endpoint %s: the server refused our client certificate", c->endpoint);
            kms_diag_add("KMS %s: TLS handshake failed: the server refused our client "
                         "certificate (%s)", c->endpoint, tls_reason());
            st = KMS_E_IDENTITY;
        } else {
            kms_debug_openssl("TLS handshake");
            kms_debug("endpoint %s: TLS handshake failed", c->endpoint);
            unsigned long e = ERR_peek_last_error();
            /* A handshake_failure alert before any certificate was checked:
             * most often no suite in common. PyKMIP 0.10's TLS 1.2 list has
             * ECDHE with AES-GCM only for ECDSA certificates (its ECDHE-RSA
             * suites are CBC, which we never offer). */
            int no_suite = ERR_GET_LIB(e) == ERR_LIB_SSL &&
                           (ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
                            ERR_GET_REASON(e) == SSL_R_NO_CIPHERS_AVAILABLE ||
                            ERR_GET_REASON(e) == SSL_R_NO_SHARED_CIPHER);
            kms_diag_add("KMS %s: TLS handshake failed: %s%s", c->endpoint, tls_reason(),
                         no_suite ? " (no cipher suite in common? PyKMIP needs an ECDSA "
                                    "certificate for ECDHE-AES-GCM)"
                                  : "");
            st = KMS_E_UNREACHABLE;
        }
        goto fail;
    }
    kms_debug("endpoint %s: connected, %s %s", c->endpoint, SSL_get_version(c->ssl),
              SSL_get_cipher_name(c->ssl));
    ERR_pop_to_mark();
    sigpipe_restore(&g);
    *out = c;
    return KMS_OK;
fail:
    ERR_pop_to_mark();
    sigpipe_restore(&g);
    kms_conn_free(c);
    return st == KMS_OK ? KMS_E_INTERNAL : st;
}

static kms_status write_all(kms_conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        size_t w = 0;
        int r = SSL_write_ex(c->ssl, p, n, &w);
        if (r == 1) {
            p += w;
            n -= w;
            continue;
        }
        kms_status st = ssl_wait(c, r, deadline);
        if (st != KMS_OK)
            return st;
    }
    return KMS_OK;
}

static kms_status read_all(kms_conn *c, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        size_t got = 0;
        int r = SSL_read_ex(c->ssl, p, n, &got);
        if (r == 1) {
            p += got;
            n -= got;
            c->received += got;
            continue;
        }
        kms_status st = ssl_wait(c, r, deadline);
        if (st != KMS_OK)
            return st;
    }
    return KMS_OK;
}

/* TLS 1.3: the server checks our certificate after our handshake is over,
 * then sends its alert and closes - possibly before our request is written
 * or read back, so the socket fails (EPIPE, reset) with the alert already
 * in our receive queue. Look for it once before calling it an I/O failure
 * (which would be resent to every endpoint and mark them all unhealthy). */
static kms_status refusal_or_io(kms_conn *c, kms_status st)
{
    uint8_t b;
    size_t got = 0;
    if (st != KMS_E_IO || c->received != 0 || SSL_version(c->ssl) != TLS1_3_VERSION)
        return st;
    int r = SSL_read_ex(c->ssl, &b, 1, &got);
    if (r != 1 && SSL_get_error(c->ssl, r) == SSL_ERROR_SSL &&
        identity_refused(ERR_peek_last_error())) {
        kms_debug_openssl("TLS");
        kms_debug("endpoint %s: the server refused our client certificate", c->endpoint);
        kms_diag_add("KMS %s: the server refused our client certificate (%s)", c->endpoint,
                     tls_reason());
        return KMS_E_IDENTITY;
    }
    return st;
}

kms_status kms_conn_roundtrip(kms_conn *c, const uint8_t *req, size_t reqlen, uint8_t **resp,
                              size_t *resplen, int64_t deadline)
{
    uint8_t hdr[TTLV_HDR_LEN];
    *resp = NULL;
    *resplen = 0;
    c->received = 0;
    sigpipe_guard g;
    sigpipe_block(&g);
    ERR_set_mark();
    kms_status st = write_all(c, req, reqlen, deadline);
    if (st == KMS_OK)
        st = read_all(c, hdr, sizeof(hdr), deadline);
    if (st != KMS_OK) {
        st = refusal_or_io(c, st);
        goto done;
    }
    /* §9.1: the stream carries whole Response Messages; anything else means
     * we are not talking KMIP (or are out of step): stop reading. */
    uint32_t tag = (uint32_t)hdr[0] << 16 | (uint32_t)hdr[1] << 8 | hdr[2];
    uint32_t len = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (tag != KMIP_TAG_RESPONSE_MESSAGE || hdr[3] != TTLV_STRUCT || len % 8 != 0) {
        kms_debug("endpoint %s: answer is not a KMIP Response Message", c->endpoint);
        st = KMS_E_PROTOCOL;
        goto done;
    }
    if (len > KMIP_MAX_RESPONSE) {
        kms_debug("endpoint %s: response of %u bytes exceeds the %u-byte limit", c->endpoint,
                  (unsigned)len, (unsigned)KMIP_MAX_RESPONSE);
        st = KMS_E_TOO_LARGE;
        goto done;
    }
    uint8_t *buf = envelope_secmem_alloc(sizeof(hdr) + len);
    if (buf == NULL) {
        st = KMS_E_NOMEM;
        goto done;
    }
    memcpy(buf, hdr, sizeof(hdr));
    st = read_all(c, buf + sizeof(hdr), len, deadline);
    if (st != KMS_OK) {
        envelope_secmem_free(buf);
        goto done;
    }
    *resp = buf;
    *resplen = sizeof(hdr) + len;
done:
    if (st == KMS_E_IO)
        kms_debug_openssl("TLS I/O");
    if (st == KMS_E_IO || st == KMS_E_TIMEOUT)
        kms_diag_add("KMS %s: %s", c->endpoint,
                     st == KMS_E_TIMEOUT ? "no answer within timeout-ms" : "connection lost mid-call");
    else if (st == KMS_E_PROTOCOL || st == KMS_E_TOO_LARGE)
        kms_diag_add("KMS %s: answer refused: %s", c->endpoint,
                     st == KMS_E_TOO_LARGE ? "response larger than the limit"
                                           : "not a KMIP Response Message");
    ERR_pop_to_mark();
    sigpipe_restore(&g);
    return st;
}

int kms_conn_idle_ok(kms_conn *c)
{
    /* An idle KMIP connection has nothing to read: readable means EOF, a
     * reset (the server restarted) or stray bytes - all reasons to drop. */
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (SSL_pending(c->ssl) > 0)
        return 0;
    return poll(&p, 1, 0) == 0;
}

size_t kms_conn_received(const kms_conn *c)
{
    return c->received;
}

const char *kms_conn_endpoint(const kms_conn *c)
{
    return c->endpoint;
}

void kms_conn_free(kms_conn *c)
{
    if (c == NULL)
        return;
    /* No close_notify round trip: the connection may be mid-message, and a
     * dead peer must not delay us. */
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}
