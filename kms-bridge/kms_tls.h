/*
 * kms_tls.h - one mutual-TLS connection to a KMIP server (KMIP 1.4 profiles
 * §3.1 "Basic Authentication Suite": TLS with client certificates), and the
 * framing of one request/response exchange over it.
 *
 * TLS choices (docs/KMS-BRIDGE.md): TLS 1.2 minimum, 1.3 allowed (PyKMIP
 * refuses 1.3, a modern KMS may insist on it); TLS 1.2 suites limited to
 * ECDHE with AEAD ciphers (forward secrecy); the server's chain is verified
 * against ca-file and its certificate must carry the configured name or IP
 * (X509_VERIFY_PARAM_set1_host / set1_ip_asc) - the PyKMIP client itself does
 * no name check, we do.
 *
 * All I/O is non-blocking against an absolute deadline (monotonic ms,
 * kms_socket.h), so one call never blocks longer than the slot's
 * timeout-ms. After any error or timeout the connection must be freed,
 * never reused: the stream may be mid-message.
 *
 * kms_tls_context.c implements the kms_tls functions (the client identity),
 * kms_tls_conn.c the kms_conn ones (handshake, name check, framing).
 */
#ifndef KMS_TLS_H
#define KMS_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "kms_config.h"
#include "kms_status.h"

typedef struct kms_tls kms_tls;
typedef struct kms_conn kms_conn;

/* Loads CA, client certificate and key. passphrase (may be NULL) decrypts an
 * encrypted key; it is not kept. NULL with a message in err on failure;
 * *needs_passphrase is set to 1 when the key is encrypted and passphrase
 * was NULL or wrong (the caller then asks for it through C_Login). */
kms_tls *kms_tls_new(const kms_slot_cfg *cfg, const char *passphrase, int *needs_passphrase,
                     char *err, size_t errlen);
/* Reference counted: kms_tls_up_ref returns t (NULL-safe) with one more
 * reference; kms_tls_free drops one and frees with the last. Connections
 * hold their own reference to the SSL_CTX (SSL_new), so they may outlive it. */
kms_tls *kms_tls_up_ref(kms_tls *t);
void kms_tls_free(kms_tls *t);
/* The context itself, for kms_conn_open's SSL_new (kms_tls_conn.c). */
SSL_CTX *kms_tls_ssl_ctx(const kms_tls *t);

/* TCP connect + TLS handshake + certificate name check. */
kms_status kms_conn_open(kms_tls *t, const kms_endpoint_cfg *ep, const char *verify_name,
                         int64_t deadline, kms_conn **out) __attribute__((warn_unused_result));
/* Sends req and reads one Response Message (checked: outer tag, type,
 * length <= KMIP_MAX_RESPONSE). *resp is envelope_secmem memory (it may hold
 * plaintext key material); the caller frees it with envelope_secmem_free. */
kms_status kms_conn_roundtrip(kms_conn *c, const uint8_t *req, size_t reqlen, uint8_t **resp,
                              size_t *resplen, int64_t deadline)
    __attribute__((warn_unused_result));
/* 0 if the peer closed or sent unsolicited bytes while idle (drop it). */
int kms_conn_idle_ok(kms_conn *c);
/* Bytes of the response received so far in the last roundtrip (0: none). */
size_t kms_conn_received(const kms_conn *c);
const char *kms_conn_endpoint(const kms_conn *c);
void kms_conn_free(kms_conn *c);

#endif
