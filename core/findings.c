/*
 * findings.c - collecting and encoding a KEK's findings (findings.h).
 */
#include "findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A device's text (a label) must not break the line format or drive a
 * terminal: tabs, newlines and every other control byte become '?'. */
static void clean(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void envcore_findings_init(envcore_findings *f, const char *kind)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->kind, sizeof(f->kind), "%s", kind != NULL ? kind : "unknown");
    clean(f->kind);
}

void envcore_findings_add(envcore_findings *f, const char *code, const char *fmt, ...)
{
    if (f->n == ENVCORE_FINDINGS_MAX) {
        f->truncated = 1;
        return;
    }
    envcore_finding *e = &f->f[f->n++];
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    (void)vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    clean(e->detail);
}

size_t envcore_findings_encode(const envcore_findings *f, char *out, size_t size)
{
    size_t o = 0;
    int n = snprintf(out, size, "%s", f->kind);
    if (n < 0 || (size_t)n >= size)
        return 0;
    o = (size_t)n;
    for (size_t i = 0; i < f->n; i++) {
        n = snprintf(out + o, size - o, "\n%s\t%s", f->f[i].code, f->f[i].detail);
        if (n < 0 || (size_t)n >= size - o)
            return 0;
        o += (size_t)n;
    }
    if (f->truncated) {
        n = snprintf(out + o, size - o, "\n%s\tmore findings than %d; fix these and check again",
                     ENVCORE_F_MORE, ENVCORE_FINDINGS_MAX);
        if (n < 0 || (size_t)n >= size - o)
            return 0;
        o += (size_t)n;
    }
    return o;
}
