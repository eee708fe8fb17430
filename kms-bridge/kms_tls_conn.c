/*
 * kms_tls_conn.c - one mutual-TLS connection to a KMIP server: TLS
 * handshake with the server name check, the framing of one request and
 * its Response Message, and how a refusal of our client certificate is
 * told apart from an I/O failure; see kms_tls.h. Sockets and deadlines
 * are kms_socket.c's.
 *
 * After any error or timeout the connection must be freed, never reused:
 * the stream may be mid-message (kms_pool.c frees it).
 */
#include "kms_tls.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kmip.h"
#include "kms_diag.h"
#include "kms_log.h"
#include "kms_socket.h"
#include "secmem.h"

struct kms_conn {
    SSL *ssl;
    int fd;
    size_t received;
    char endpoint[300];
};

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
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return 1;
    default: return 0;
    }
}

/* Drives one SSL_* call to completion against the deadline. */
static kms_status ssl_wait(kms_conn *c, int r, int64_t deadline)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return kms_wait_fd(c->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE: return kms_wait_fd(c->fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN: return KMS_E_IO;
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
    default: return KMS_E_IO;
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
    kms_status st = kms_tcp_connect(ep, deadline, &c->fd);
    if (st != KMS_OK) {
        free(c);
        return st;
    }
    kms_sigpipe_guard g;
    kms_sigpipe_block(&g);
    ERR_set_mark();
    st = KMS_E_INTERNAL;
    if ((c->ssl = SSL_new(kms_tls_ssl_ctx(t))) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
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
            kms_debug("endpoint %s: server certificate refused: %s (expected name %s)", c->endpoint,
                      X509_verify_cert_error_string(vr), verify_name);
            kms_diag_add("KMS %s: TLS handshake failed: server certificate refused: %s "
                         "(expected name %s)",
                         c->endpoint, X509_verify_cert_error_string(vr), verify_name);
            st = KMS_E_UNREACHABLE;
        } else if (identity_refused(ERR_peek_last_error())) {
            kms_debug_openssl("TLS handshake");
            kms_debug("endpoint %s: the server refused our client certificate", c->endpoint);
            kms_diag_add("KMS %s: TLS handshake failed: the server refused our client "
                         "certificate (%s)",
                         c->endpoint, tls_reason());
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
    kms_sigpipe_restore(&g);
    *out = c;
    return KMS_OK;
fail:
    ERR_pop_to_mark();
    kms_sigpipe_restore(&g);
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
    kms_sigpipe_guard g;
    kms_sigpipe_block(&g);
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
                     st == KMS_E_TIMEOUT ? "no answer within timeout-ms"
                                         : "connection lost mid-call");
    else if (st == KMS_E_PROTOCOL || st == KMS_E_TOO_LARGE)
        kms_diag_add("KMS %s: answer refused: %s", c->endpoint,
                     st == KMS_E_TOO_LARGE ? "response larger than the limit"
                                           : "not a KMIP Response Message");
    ERR_pop_to_mark();
    kms_sigpipe_restore(&g);
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
