/*
 * kms_log.h - the bridge's debug log: core/debug.h's log, read from
 * ENVELOPE_KMS_DEBUG (=1: stderr; =file:PATH: append to PATH, created
 * 0600) with the tag "kms-bridge". It records operations, endpoints,
 * result codes and the server's result message; never key bytes, data,
 * AAD, PINs or passphrases (callers pass none: there is no hex-dump
 * helper).
 */
#ifndef KMS_LOG_H
#define KMS_LOG_H

#include "debug.h"

#define kms_debug envcore_debug
#define kms_debug_enabled envcore_debug_enabled
/* Logs OpenSSL's newest queued error (does not change the queue). */
void kms_debug_openssl(const char *what);

#endif
