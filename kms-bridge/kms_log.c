/*
 * kms_log.c - the bridge's use of the debug log (kms_log.h).
 */
#include "kms_log.h"

#include <openssl/err.h>

/* This module (and every test program linking the bridge's code) logs
 * under its own variable and tag: it runs inside other programs, next to
 * the provider's own ENVELOPE_DEBUG log. Set before anything can log. */
__attribute__((constructor)) static void kms_log_setup(void)
{
    envcore_debug_configure("ENVELOPE_KMS_DEBUG", "kms-bridge");
}

/* Logs the newest error only: the caller brackets its libssl calls with
 * ERR_set_mark/ERR_pop_to_mark, so the host program's queue is untouched. */
void kms_debug_openssl(const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];
    if (e != 0 && kms_debug_enabled()) {
        ERR_error_string_n(e, buf, sizeof(buf));
        kms_debug("%s: %s", what, buf);
    }
}
