/*
 * kms_log.h - the bridge's debug log. Off unless ENVELOPE_KMS_DEBUG is set
 * (=1: stderr; =file:PATH: append to PATH). It records operations, endpoints,
 * result codes and the server's result message; never key bytes, data, AAD,
 * PINs or passphrases (callers pass none: there is no hex-dump helper).
 */
#ifndef KMS_LOG_H
#define KMS_LOG_H

void kms_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kms_debug_enabled(void);
/* Logs OpenSSL's newest queued error (does not change the queue). */
void kms_debug_openssl(const char *what);

#endif
