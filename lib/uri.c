/*
 * uri.c - KEK references. What a message records must carry no secret, and
 * what a message says must never choose code or files (docs/SECURITY.md): a
 * reference read back from a message is opened only if its scheme has a
 * row in message_rules (pkcs11:, tpm2:; KMS keys are pkcs11: URIs through
 * the kms-bridge), it uses only the attributes that identify a key there,
 * and none that names a module or a PIN (RFC 7512 §2.3: module-name,
 * module-path, pin-source, pin-value). file: and bare paths, and any scheme
 * without a row, must be named by the caller (decrypt --kek).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *const secret_attrs[] = {"pin-value", "pin-source", "module-path", "module-name"};

/* What a message may say, per scheme: the attributes that only identify a
 * key (never how to reach it), and those of them of which one must appear,
 * so that "pkcs11:" alone cannot match whatever key comes first. A scheme
 * without a row is never opened from a message (docs/ARCHITECTURE.md,
 * "Adding a backend"). pkcs11: the RFC 7512 path attributes of a token and
 * an object, no query at all; tpm2: handle= and pcrs= (a tpm2:file=
 * reference would let the message choose a file). */
typedef struct {
    const char *scheme;
    const char *const *attrs;     /* NULL-terminated */
    const char *const *names_key; /* NULL-terminated */
    const char *names_key_hint;
} message_rules;

static const char *const p11_attrs[] = {"token",  "manufacturer", "serial", "model",
                                        "object", "id",           "type",   NULL};
static const char *const p11_key[] = {"object", "id", NULL};
static const char *const tpm_attrs[] = {"handle", "pcrs", NULL};
static const char *const tpm_key[] = {"handle", NULL};

static const message_rules rules[] = {
    {"pkcs11", p11_attrs, p11_key, "no object= or id="},
    {"tpm2", tpm_attrs, tpm_key, "no handle="},
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static size_t scheme_len(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    return i < n && s[i] == ':' ? i : 0;
}

static const message_rules *rules_for(const char *s, size_t sl)
{
    for (size_t i = 0; sl && i < NRULES; i++)
        if (sl == strlen(rules[i].scheme) && strncasecmp(s, rules[i].scheme, sl) == 0)
            return &rules[i];
    return NULL;
}

int env_uri_message_scheme(const char *uri)
{
    return rules_for(uri, scheme_len(uri, strlen(uri))) != NULL;
}

int env_uri_scheme(const char *uri, char *out, size_t outsize)
{
    size_t sl = scheme_len(uri, strlen(uri));
    if (sl == 0 || sl + 1 > outsize)
        return 0;
    memcpy(out, uri, sl);
    out[sl] = '\0';
    return 1;
}

static int in_list(const char *const *list, const char *a, size_t n)
{
    for (; *list != NULL; list++)
        if (strlen(*list) == n && strncasecmp(a, *list, n) == 0)
            return 1;
    return 0;
}

static int is_secret_attr(const char *a, size_t n)
{
    for (size_t i = 0; i < sizeof(secret_attrs) / sizeof(secret_attrs[0]); i++) {
        size_t l = strlen(secret_attrs[i]);
        if (n >= l && strncasecmp(a, secret_attrs[i], l) == 0 && (n == l || a[l] == '='))
            return 1;
    }
    return 0;
}

/*
 * pkcs11: path attributes are ';'-separated, query attributes '&'-separated
 * after '?'. Secret and module attributes go; everything else is kept in
 * order. For other schemes (and bare paths) the query is dropped.
 */
envelope_status env_uri_strip(const char *uri, char *out, size_t outsize, envelope_err *err)
{
    size_t n = strlen(uri);
    size_t sl = scheme_len(uri, n);
    if (n == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "empty KEK URI");
    if (sl == 0 || strncasecmp(uri, "pkcs11", sl) != 0 || sl != 6) {
        const char *q = strchr(uri, '?');
        size_t keep = q ? (size_t)(q - uri) : n;
        if (keep + 1 > outsize || keep > ENVELOPE_MAX_KEK_URI)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK URI is longer than %d bytes",
                            ENVELOPE_MAX_KEK_URI);
        memcpy(out, uri, keep);
        out[keep] = '\0';
        return ENVELOPE_OK;
    }
    size_t o = 0;
    if (outsize < 8)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK URI buffer too small");
    memcpy(out, "pkcs11:", 7);
    o = 7;
    const char *p = uri + 7, *end = uri + n;
    int first = 1;
    while (p < end) {
        size_t alen = strcspn(p, ";?");
        if (p + alen > end)
            alen = (size_t)(end - p);
        if (alen > 0 && !is_secret_attr(p, alen)) {
            size_t extra = first ? 0 : 1;
            if (o + extra + alen + 1 > outsize || o + extra + alen > ENVELOPE_MAX_KEK_URI)
                return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK URI is longer than %d bytes",
                                ENVELOPE_MAX_KEK_URI);
            if (!first)
                out[o++] = ';';
            memcpy(out + o, p, alen);
            o += alen;
            first = 0;
        }
        p += alen;
        if (p < end && *p == '?')
            break; /* query attributes reach the key (PIN, module): never part of its name */
        if (p < end)
            p++;
    }
    out[o] = '\0';
    return ENVELOPE_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

envelope_status env_uri_check_untrusted(const uint8_t *uri, size_t len, char *out, size_t outsize,
                                        envelope_err *err)
{
    if (len == 0 || len + 1 > outsize)
        return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                        "KEK reference in the message is too long");
    for (size_t i = 0; i < len; i++)
        if (uri[i] < 0x21 || uri[i] > 0x7e)
            return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                            "KEK reference in the message has a byte outside printable ASCII; "
                            "name the KEK with --kek");
    memcpy(out, uri, len);
    out[len] = '\0';
    size_t sl = scheme_len(out, len);
    const message_rules *r = rules_for(out, sl);
    if (r == NULL) {
        char schemes[64] = "";
        for (size_t i = 0; i < NRULES; i++) {
            size_t o = strlen(schemes);
            snprintf(schemes + o, sizeof(schemes) - o, "%s%s:", i ? ", " : "", rules[i].scheme);
        }
        return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                        "the message names KEK \"%.200s\", which is not opened from a message "
                        "(only %s references are); name it with --kek",
                        out, schemes);
    }
    /* Decode %XX before looking for attribute names, so that an encoded
     * "pin%2dsource" cannot slip through. */
    char dec[ENVELOPE_MAX_KEK_URI + 1];
    size_t d = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (out[i] == '%' && i + 2 < len && (hi = hexval(out[i + 1])) >= 0 &&
            (lo = hexval(out[i + 2])) >= 0) {
            dec[d++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dec[d++] = out[i];
        }
    }
    dec[d] = '\0';
    if (memchr(dec, '\0', d) != NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                        "the message's KEK reference has an encoded NUL; refused");
    if (memchr(out, '?', len) != NULL || memchr(out, '/', len) != NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                        "the message's KEK reference has a query or a path; refused: name the "
                        "KEK with --kek");
    int names_key = 0;
    for (size_t i = sl + 1; i < len;) {
        size_t end = i;
        while (end < len && out[end] != ';')
            end++;
        const char *eq = memchr(out + i, '=', end - i);
        size_t nl = eq != NULL ? (size_t)(eq - (out + i)) : 0;
        if (nl == 0 || !in_list(r->attrs, out + i, nl))
            return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                            "the message's KEK reference has an attribute that does not only "
                            "name a key (\"%.*s\"); refused: name the KEK with --kek",
                            (int)(end - i > 40 ? 40 : end - i), out + i);
        names_key |= in_list(r->names_key, out + i, nl);
        i = end + 1;
    }
    if (!names_key)
        return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                        "the message's KEK reference names no key (%s); refused",
                        r->names_key_hint);
    for (size_t i = 0; i < d; i++) {
        if (i > 0 && dec[i - 1] != ';' && dec[i - 1] != '?' && dec[i - 1] != '&' &&
            dec[i - 1] != ':')
            continue;
        for (size_t j = 0; j < sizeof(secret_attrs) / sizeof(secret_attrs[0]); j++) {
            size_t l = strlen(secret_attrs[j]);
            if (d - i >= l && strncasecmp(dec + i, secret_attrs[j], l) == 0 &&
                (dec[i + l] == '\0' || !(isalnum((unsigned char)dec[i + l]) || dec[i + l] == '-')))
                return env_fail(err, ENVELOPE_ERR_KEK_REF_REFUSED,
                                "the message's KEK reference carries a module or PIN attribute "
                                "(%s); refused: name the KEK with --kek",
                                secret_attrs[j]);
        }
    }
    return ENVELOPE_OK;
}

envelope_status env_uri_printable(char *ref, size_t size, envelope_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(ref), need = n;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ref[i] < 0x21 || (unsigned char)ref[i] > 0x7e)
            need += 2;
    if (need > ENVELOPE_MAX_KEK_URI || need + 1 > size)
        return env_fail(
            err, ENVELOPE_ERR_ARGUMENT,
            "KEK reference is longer than %d bytes once percent-encoded for the message",
            ENVELOPE_MAX_KEK_URI);
    /* from the end, so that each byte moves once */
    ref[need] = '\0';
    for (size_t i = n, o = need; i-- > 0;) {
        unsigned char c = (unsigned char)ref[i];
        if (c < 0x21 || c > 0x7e) {
            ref[--o] = hex[c & 15];
            ref[--o] = hex[c >> 4];
            ref[--o] = '%';
        } else {
            ref[--o] = (char)c;
        }
    }
    return ENVELOPE_OK;
}
