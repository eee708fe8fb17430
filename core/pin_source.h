/*
 * pin_source.h - secrets named by a pin source, and fingerprints of
 * secrets a device rejected.
 *
 * A pin source (RFC 7512 §2.3 "pin-source") names where a PIN or auth
 * value is kept, never the value itself:
 *   file:PATH   the file's bytes (opened without following a symlink)
 *   /PATH       the same (the form RFC 7512's examples use)
 *   env:NAME    the variable's value, read with secure_getenv (a setuid or
 *               setgid program never takes a secret from its invoker)
 * One trailing "\n" or "\r\n" is dropped (files written by echo). The
 * secret goes straight into locked, non-dumpable memory (secmem.h).
 */
#ifndef ENVELOPE_CORE_PIN_SOURCE_H
#define ENVELOPE_CORE_PIN_SOURCE_H

#include <stddef.h>

/* Longest secret a pin source may hold (a PKCS#11 PIN; a TPM auth value is
 * at most a digest long, which the TPM backend checks). */
#define ENVCORE_MAX_PIN 256

/*
 * Reads the secret `source` names into *out (secmem, NUL-terminated after
 * *len bytes; free with envelope_secmem_free). `what` names it in messages
 * ("PIN", "TPM auth value"); messages name the path or variable, never the
 * secret. ENVCORE_R_PIN_MISSING if the file or variable cannot be read or
 * holds more than ENVCORE_MAX_PIN bytes (or, with ENVCORE_PIN_TEXT, a NUL
 * byte: a TPM auth value may be binary, a PIN may not); ENVCORE_R_BAD_CONFIG for a source
 * of another form; ENVCORE_R_INTERNAL without locked memory.
 */
#define ENVCORE_PIN_TEXT 1u /* a PKCS#11 PIN: refuse a NUL byte (a C string would cut it) */
int envcore_pin_read(const char *source, const char *what, unsigned flags, char **out, size_t *len)
    __attribute__((warn_unused_result));

/*
 * HMAC-SHA-256 of a secret under a random key made once per process and
 * kept in locked, non-dumpable memory: what a device rejected can be
 * remembered (never offered again: devices count failures and lock)
 * without a heap or a core file revealing a short numeric PIN. A child
 * process shares the key. 0 on failure.
 */
int envcore_secret_fingerprint(const void *secret, size_t len, unsigned char out[32])
    __attribute__((warn_unused_result));

#endif
