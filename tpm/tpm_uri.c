/*
 * tpm_uri.c - the tpm2: URI (grammar in docs/TPM.md):
 *
 *   tpm2-uri = "tpm2:" attr *( ";" attr )
 *   attr     = "handle=" "0x" 8HEXDIG     ; persistent, 0x81000000-0x817FFFFF
 *            / "file=" pvalue             ; TSS2 PRIVATE KEY PEM
 *            / "pcrs=" bank ":" pcr *( "," pcr )   ; PCR policy of the key
 *            / "pin-source=" pvalue       ; "file:PATH" or "env:NAME"
 *   pvalue   = *( unreserved / pct-encoded )  ; %XX for ';', '%', controls
 *
 * Exactly one of handle/file; each attribute at most once; anything else is
 * refused (a typo must not silently mean "no PCR policy").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpm_int.h"

#define URI_SCHEME "tpm2:"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [v, v+n) into a new string; refuses %00 and bad escapes. */
static char *pct_decode(const char *v, size_t n)
{
    char *out = malloc(n + 1);
    size_t i, o = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n) /* needs two more bytes */
                goto bad;
            hi = hexval(v[i + 1]);
            lo = hexval(v[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                goto bad;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c < 0x20 || c == 0x7f) {
            goto bad;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_handle(const char *v, size_t n, uint32_t *h)
{
    uint32_t x = 0;
    size_t i;

    if (n != 10 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X'))
        return 0;
    for (i = 2; i < n; i++) {
        int d = hexval(v[i]);
        if (d < 0)
            return 0;
        x = x << 4 | (uint32_t)d;
    }
    /* Registry of Reserved TPM 2.0 Handles §2.3: owner persistent range. */
    if (x < 0x81000000u || x > 0x817fffffu)
        return 0;
    *h = x;
    return 1;
}

static int bad_uri(const char *why)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                  "tpm2 URI: %s; expected tpm2:handle=0x81xxxxxx or tpm2:file=PATH, "
                  "optionally ;pcrs=sha256:0,7 and ;pin-source=file:PATH|env:NAME",
                  why);
    return ENVCORE_R_BAD_URI;
}

static int set_string(char **dst, const char *v, size_t n, const char *attr)
{
    if (*dst != NULL) {
        char msg[64];
        snprintf(msg, sizeof(msg), "attribute %s given twice", attr);
        return bad_uri(msg);
    }
    if (n == 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "attribute %s is empty", attr);
        return bad_uri(msg);
    }
    *dst = pct_decode(v, n);
    if (*dst == NULL)
        return bad_uri("bad percent-encoding or control character in a value");
    return ENVCORE_R_OK;
}

int envtpm_uri_parse(const char *uri, envtpm_uri *u)
{
    const char *p, *end;
    int r = ENVCORE_R_OK;
    size_t len;

    memset(u, 0, sizeof(*u));
    if (uri == NULL)
        return bad_uri("no URI");
    len = strnlen(uri, ENVTPM_MAX_URI + 1);
    if (len > ENVTPM_MAX_URI)
        return bad_uri("URI too long");
    if (strncmp(uri, URI_SCHEME, strlen(URI_SCHEME)) != 0)
        return bad_uri("not a tpm2: URI");
    p = uri + strlen(URI_SCHEME);
    end = uri + len;
    if (p == end)
        return bad_uri("no attributes");
    while (p < end && r == ENVCORE_R_OK) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *aend = semi != NULL ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(aend - p));
        size_t klen, vlen;
        const char *v;

        if (eq == NULL) {
            r = bad_uri("attribute without '='");
            break;
        }
        klen = (size_t)(eq - p);
        v = eq + 1;
        vlen = (size_t)(aend - v);
        if (klen == 6 && memcmp(p, "handle", 6) == 0) {
            if (u->has_handle)
                r = bad_uri("attribute handle given twice");
            else if (!parse_handle(v, vlen, &u->handle))
                r = bad_uri("handle must be 0x81000000-0x817FFFFF (owner persistent), "
                            "8 hex digits");
            else
                u->has_handle = 1;
        } else if (klen == 4 && memcmp(p, "file", 4) == 0) {
            r = set_string(&u->file, v, vlen, "file");
        } else if (klen == 4 && memcmp(p, "pcrs", 4) == 0) {
            r = set_string(&u->pcrs, v, vlen, "pcrs");
        } else if (klen == 10 && memcmp(p, "pin-source", 10) == 0) {
            r = set_string(&u->pin_source, v, vlen, "pin-source");
        } else {
            r = bad_uri("unknown attribute");
        }
        p = semi != NULL ? semi + 1 : end;
        if (semi != NULL && p == end && r == ENVCORE_R_OK)
            r = bad_uri("trailing ';'");
    }
    if (r == ENVCORE_R_OK && u->has_handle == (u->file != NULL))
        r = bad_uri("give exactly one of handle= and file=");
    if (r == ENVCORE_R_OK && u->has_handle && u->handle == ENVTPM_SRK_HANDLE)
        r = bad_uri("0x81000001 is the SRK, not a KEK");
    if (r == ENVCORE_R_OK && u->pcrs != NULL) {
        TPML_PCR_SELECTION sel;
        r = envtpm_pcrs_parse(u->pcrs, &sel);
        if (r != ENVCORE_R_OK)
            r = bad_uri("bad pcrs= value");
    }
    if (r != ENVCORE_R_OK)
        envtpm_uri_clear(u);
    return r;
}

void envtpm_uri_clear(envtpm_uri *u)
{
    free(u->file);
    free(u->pcrs);
    free(u->pin_source);
    memset(u, 0, sizeof(*u));
}

/* Appends s percent-encoding ';', '%' and anything outside printable ASCII. */
static size_t pct_encode(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ';' || c == '%' || c <= 0x20 || c >= 0x7f) {
            if (out != NULL) {
                out[o] = '%';
                out[o + 1] = hex[c >> 4];
                out[o + 2] = hex[c & 15];
            }
            o += 3;
        } else {
            if (out != NULL)
                out[o] = (char)c;
            o++;
        }
    }
    return o;
}

char *envtpm_uri_public(const envtpm_uri *u)
{
    size_t n = strlen(URI_SCHEME) + 32;
    char *out, *p;

    if (u->file != NULL)
        n += 5 + pct_encode(NULL, u->file);
    if (u->pcrs != NULL)
        n += 6 + pct_encode(NULL, u->pcrs);
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    p = out;
    p += sprintf(p, "%s", URI_SCHEME);
    if (u->has_handle) {
        p += sprintf(p, "handle=0x%08x", (unsigned)u->handle);
    } else if (u->file != NULL) { /* the parser gives one of the two */
        p += sprintf(p, "file=");
        p += pct_encode(p, u->file);
    }
    if (u->pcrs != NULL) {
        p += sprintf(p, ";pcrs=");
        p += pct_encode(p, u->pcrs);
    }
    *p = '\0';
    return out;
}
