/*
 * debug.h - the debug log: off unless its environment variable is set
 * (ENVELOPE_DEBUG=1 to stderr, ENVELOPE_DEBUG=file:PATH appends to a file,
 * created 0600, never through a symlink; read with secure_getenv, so a
 * setuid or setgid program never logs). One line per call, with a tag,
 * the pid and the time. Never given key bytes, PINs, plaintext or context
 * values.
 *
 * Every binary that links core/ has its own log: the provider's uses
 * ENVELOPE_DEBUG, the kms-bridge module calls envcore_debug_configure to
 * use ENVELOPE_KMS_DEBUG.
 */
#ifndef ENVELOPE_CORE_DEBUG_H
#define ENVELOPE_CORE_DEBUG_H

/* Before the first log call: the variable to read and the line tag.
 * Both strings must outlive the process (string literals). */
void envcore_debug_configure(const char *env, const char *tag);
void envcore_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int envcore_debug_enabled(void);

#endif
