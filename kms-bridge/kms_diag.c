/*
 * kms_diag.c - per-thread reason text, see kms_diag.h.
 */
#include "kms_diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char diag[KMS_DIAG_MAX];

void kms_diag_clear(void)
{
    diag[0] = 0;
}

void kms_diag_add(const char *fmt, ...)
{
    char one[KMS_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(one, sizeof(one), fmt, ap);
    va_end(ap);
    if (n <= 0 || strstr(diag, one) != NULL)
        return;
    size_t used = strlen(diag);
    if (used > 0 && used + 2 < sizeof(diag)) {
        memcpy(diag + used, "; ", 3);
        used += 2;
    }
    /* Truncated at the buffer's end: the first reasons matter most. */
    snprintf(diag + used, sizeof(diag) - used, "%s", one);
}

const char *kms_diag_text(void)
{
    return diag;
}
