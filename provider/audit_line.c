/*
 * audit_line.c - the text of audit lines (audit_line.h): bounded appends,
 * JSON strings that are ASCII whatever the input, RFC 3339 times, KEK
 * references without PIN attributes, error categories.
 */
#include "audit_line.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"

void audit_buf_reserve(audit_buf *b, size_t more)
{
    if (b->failed || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void audit_buf_put(audit_buf *b, const char *s, size_t n)
{
    audit_buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void audit_buf_str(audit_buf *b, const char *s)
{
    audit_buf_put(b, s, strlen(s));
}

void audit_buf_u64(audit_buf *b, uint64_t v)
{
    char t[24];
    size_t i = sizeof(t);
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    audit_buf_put(b, t + i, sizeof(t) - i);
}

void audit_buf_i64(audit_buf *b, int64_t v)
{
    if (v < 0) {
        audit_buf_put(b, "-", 1);
        audit_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        audit_buf_u64(b, (uint64_t)v);
    }
}

void audit_buf_json(audit_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    audit_buf_reserve(b, n * 6 + 2); /* the worst case: every byte \u00XX */
    if (b->failed)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            *o++ = (char)c;
        } else { /* controls, DEL and every non-ASCII byte: never raw */
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
}

void audit_buf_hex(audit_buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    audit_buf_reserve(b, 2 * n);
    if (b->failed)
        return;
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    *o = '\0';
    b->len += 2 * n;
}

void audit_buf_time(audit_buf *b, uint64_t ns)
{
    /* the date part changes once a second: formatted once per second */
    static __thread time_t last_sec = -1;
    static __thread char last[32];
    time_t sec = (time_t)(ns / 1000000000u);
    if (sec != last_sec) {
        struct tm tm;
        if (gmtime_r(&sec, &tm) == NULL ||
            strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
            memcpy(last, "1970-01-01T00:00:00", 20);
        }
        last_sec = sec;
    }
    char t[32];
    memcpy(t, "\"", 1);
    memcpy(t + 1, last, 19);
    t[20] = '.';
    uint32_t us = (uint32_t)(ns % 1000000000u / 1000u);
    for (int i = 26; i >= 21; i--) {
        t[i] = (char)('0' + us % 10);
        us /= 10;
    }
    memcpy(t + 27, "Z\"", 2);
    audit_buf_put(b, t, 29);
}

static int is_pin_attr(const char *p, size_t n)
{
    static const char *const names[] = {"pin-value", "pin-source"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t l = strlen(names[i]);
        if (n >= l && strncmp(p, names[i], l) == 0 && (n == l || p[l] == '='))
            return 1;
    }
    return 0;
}

size_t audit_strip_uri(const char *uri, size_t n, char *out, size_t outsize)
{
    size_t o = 0, i = 0;
    if (outsize == 0)
        return 0;
    /* the scheme and everything up to the first attribute stay */
    while (i < n && uri[i] != ';' && uri[i] != '?' && uri[i] != '&') {
        if (o + 1 < outsize)
            out[o++] = uri[i];
        i++;
    }
    int in_query = 0;
    /* the attributes, one at a time, each with the separator before it */
    while (i < n) {
        char sep = uri[i];
        size_t start = ++i;
        while (i < n && uri[i] != ';' && uri[i] != '?' && uri[i] != '&')
            i++;
        if (sep == '?')
            in_query = 1;
        if (is_pin_attr(uri + start, i - start))
            continue;
        /* the first query attribute kept is the one that opens the query */
        char put = sep;
        if (in_query && sep != ';') {
            put = memchr(out, '?', o) != NULL ? '&' : '?';
        }
        if (o + 1 < outsize)
            out[o++] = put;
        for (size_t j = start; j < i; j++)
            if (o + 1 < outsize)
                out[o++] = uri[j];
    }
    out[o] = '\0';
    return o;
}

const char *audit_error_category(int reason)
{
    switch (reason) {
    case ENVCORE_R_OK: return NULL;
    case ENVCORE_R_BAD_ARGUMENT:
    case ENVCORE_R_BAD_URI:
    case ENVCORE_R_BUFFER_TOO_SMALL:
    case ENVCORE_R_NOT_SUPPORTED: return "usage";
    case ENVCORE_R_BAD_CONFIG:
    case ENVCORE_R_TOKEN_UNKNOWN:
    case ENVCORE_R_PIN_MISSING: return "config";
    case ENVCORE_R_BAD_BLOB: return "format";
    case ENVCORE_R_AUTHENTICATION_FAILED: return "authentication";
    case ENVCORE_R_BACKEND_UNAVAILABLE:
    case ENVCORE_R_TOKEN_NOT_PRESENT: return "backend-unavailable";
    case ENVCORE_R_BACKEND_ERROR:
    case ENVCORE_R_OBJECT_NOT_FOUND:
    case ENVCORE_R_MECHANISM_NOT_SUPPORTED: return "backend";
    case ENVCORE_R_POLICY_REFUSED:
    case ENVCORE_R_KEY_NOT_SAFE:
    case ENVCORE_R_PIN_INCORRECT:
    case ENVCORE_R_PIN_LOCKED:
    case ENVCORE_R_PCR_POLICY_NOT_SATISFIED:
    case ENVCORE_R_ACCESS_DENIED:
    case ENVCORE_R_REFERENCE_NOT_ALLOWED:
    case ENVCORE_R_KEK_RETIRED: return "policy";
    case ENVCORE_R_AUDIT_UNAVAILABLE: return "audit";
    case ENVCORE_R_UNWRAP_ALARM: return "alarm";
    default: return "internal";
    }
}

static int all_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

const char *audit_line_hash(const char *line, size_t n)
{
    if (n < AUDIT_HASH_SUFFIX_LEN)
        return NULL;
    const char *s = line + n - AUDIT_HASH_SUFFIX_LEN;
    if (memcmp(s, ",\"hash\":\"", 9) != 0 || memcmp(line + n - 2, "\"}", 2) != 0 ||
        !all_hex(s + 9, AUDIT_HASH_HEX))
        return NULL;
    return s + 9;
}

const char *audit_line_chain(const char *line, size_t n)
{
    static const char key[] = ",\"chain\":\"";
    const size_t kl = sizeof(key) - 1;
    /* the writer puts chain, prev and hash last: look only there */
    size_t tail = kl + AUDIT_CHAIN_HEX + 10 + AUDIT_HASH_HEX + 1 + AUDIT_HASH_SUFFIX_LEN;
    if (n < tail || audit_line_hash(line, n) == NULL)
        return NULL;
    const char *s = line + n - tail;
    if (memcmp(s, key, kl) != 0 || !all_hex(s + kl, AUDIT_CHAIN_HEX) ||
        memcmp(s + kl + AUDIT_CHAIN_HEX, "\",\"prev\":\"", 10) != 0)
        return NULL;
    return s + kl;
}
