/*
 * uri_match.c - see uri_match.h.
 */
#include "uri_match.h"

#include <string.h>
#include <strings.h>

#define URI_MATCH_MAX 1024

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes [p, p+n) into out (NUL-terminated); 0 if malformed. */
static int decode(const char *p, size_t n, char *out, size_t outsize, size_t *outlen)
{
    size_t o = 0;
    if (outsize > 0)
        out[0] = '\0'; /* also on failure */
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return 0;
            c = hi * 16 + lo;
            i += 2;
            if (c == 0) { /* an encoded NUL would cut the value short: refused */
                out[0] = '\0';
                return 0;
            }
        }
        if (o + 1 >= outsize) {
            out[0] = '\0';
            return 0;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *outlen = o;
    return 1;
}

/* The value of attribute `name` in the path of uri (decoded), or 0. */
static int attribute(const char *uri, const char *name, size_t nlen, char *out, size_t outsize,
                     size_t *outlen)
{
    const char *p = strchr(uri, ':');
    if (p == NULL)
        return 0;
    p++;
    size_t path = strcspn(p, "?");
    const char *end = p + path;
    while (p < end) {
        size_t seg = strcspn(p, ";?");
        if (p + seg > end)
            seg = (size_t)(end - p);
        const char *eq = memchr(p, '=', seg);
        if (eq != NULL && (size_t)(eq - p) == nlen && strncasecmp(p, name, nlen) == 0)
            return decode(eq + 1, seg - nlen - 1, out, outsize, outlen);
        p += seg;
        if (p < end && *p == ';')
            p++;
    }
    return 0;
}

/* 1 if the path of uri has an attribute called name (whatever its value). */
static int has_attribute(const char *uri, const char *name, size_t nlen)
{
    const char *p = strchr(uri, ':');
    if (p == NULL)
        return 0;
    p++;
    const char *end = p + strcspn(p, "?");
    while (p < end) {
        size_t seg = strcspn(p, ";?");
        if (p + seg > end)
            seg = (size_t)(end - p);
        const char *eq = memchr(p, '=', seg);
        if (eq != NULL && (size_t)(eq - p) == nlen && strncasecmp(p, name, nlen) == 0)
            return 1;
        p += seg;
        if (p < end && *p == ';')
            p++;
    }
    return 0;
}

int envcore_uri_attribute(const char *uri, const char *name, char *out, size_t outsize)
{
    size_t len = 0;
    if (outsize > 0)
        out[0] = '\0';
    return attribute(uri, name, strlen(name), out, outsize, &len);
}

int envcore_uri_names(const char *entry, const char *key_uri, int scheme_only_ok)
{
    const char *ec = strchr(entry, ':'), *kc = strchr(key_uri, ':');
    if (ec == NULL || kc == NULL || ec - entry != kc - key_uri ||
        strncasecmp(entry, key_uri, (size_t)(ec - entry)) != 0)
        return 0;
    const char *p = ec + 1;
    const char *end = p + strcspn(p, "?");
    int any = 0;
    while (p < end) {
        size_t seg = strcspn(p, ";?");
        if (p + seg > end)
            seg = (size_t)(end - p);
        const char *eq = memchr(p, '=', seg);
        if (eq == NULL)
            return 0;
        char want[URI_MATCH_MAX + 1], have[URI_MATCH_MAX + 1];
        size_t wl = 0, hl = 0, nlen = (size_t)(eq - p);
        if (!decode(eq + 1, seg - nlen - 1, want, sizeof(want), &wl))
            return 0;
        /* An attribute the URI does not carry at all (a key's canonical
         * reference has no serial=, model= or slot-*) is not compared: the
         * entry then names more keys than it says, never fewer, so a
         * retired key cannot escape its entry by how the entry is written. */
        if (has_attribute(key_uri, p, nlen)) {
            if (!attribute(key_uri, p, nlen, have, sizeof(have), &hl) || wl != hl ||
                memcmp(want, have, wl) != 0)
                return 0;
            any = 1;
        }
        p += seg;
        if (p < end && *p == ';')
            p++;
    }
    return any || scheme_only_ok;
}
