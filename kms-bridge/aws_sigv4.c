/*
 * aws_sigv4.c - SigV4 signing (aws_sigv4.h): canonical request, string to
 * sign, signing key, Authorization header or presigned query.
 */
#include "aws_sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_NAME_MAX 128

typedef struct {
    char name[SIGV4_NAME_MAX + 1];
    aws_str value; /* values of every header with this name, ',' between */
} sigv4_hdr;

typedef struct {
    aws_str key;
    aws_str value;
} sigv4_param;

static int sigv4_fail(aws_sigv4_result *r, const char *why)
{
    snprintf(r->error, sizeof(r->error), "SigV4: %s", why);
    return 0;
}

void aws_sigv4_result_init(aws_sigv4_result *r)
{
    memset(r, 0, sizeof(*r));
    aws_str_init(&r->canonical_request, 0);
    aws_str_init(&r->string_to_sign, 4096);
    aws_str_init(&r->authorization, 4096);
    aws_str_init(&r->query, 0);
}

void aws_sigv4_result_free(aws_sigv4_result *r)
{
    if (r == NULL)
        return;
    aws_str_free(&r->canonical_request);
    aws_str_free(&r->string_to_sign);
    aws_str_free(&r->authorization);
    aws_str_free(&r->query);
    OPENSSL_cleanse(r->signature, sizeof(r->signature));
}

int aws_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16;
}

static int sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return 0;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
    return 1;
}

static int sigv4_hmac(const unsigned char *key, size_t keylen, const char *msg, size_t n,
                      unsigned char out[32])
{
    unsigned int outlen = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, n, out, &outlen) !=
               NULL &&
           outlen == 32;
}

/* ---- canonical URI ---- */

/* RFC 3986 §5.2.4 dot-segment removal plus empty-segment removal, as the
 * SDKs do before signing a non-S3 request. Segments are kept as
 * (offset, length) pairs into path. */
static int sigv4_uri(aws_str *out, const char *path, int normalize)
{
    if (path == NULL || path[0] == '\0') {
        aws_str_addc(out, '/');
        return aws_str_ok(out);
    }
    if (!normalize) {
        aws_str_uri_encode(out, path, strlen(path), 1);
        return aws_str_ok(out);
    }
    enum { MAX_SEG = 256 };
    size_t off[MAX_SEG], len[MAX_SEG], n = 0;
    size_t plen = strlen(path);
    for (size_t i = 0; i < plen;) {
        while (i < plen && path[i] == '/')
            i++;
        size_t start = i;
        while (i < plen && path[i] != '/')
            i++;
        size_t sl = i - start;
        if (sl == 0 || (sl == 1 && path[start] == '.'))
            continue;
        if (sl == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (n > 0)
                n--;
            continue;
        }
        if (n == MAX_SEG)
            return 0;
        off[n] = start;
        len[n] = sl;
        n++;
    }
    for (size_t s = 0; s < n; s++) {
        aws_str_addc(out, '/');
        aws_str_uri_encode(out, path + off[s], len[s], 0);
    }
    if (n == 0 || path[plen - 1] == '/')
        aws_str_addc(out, '/');
    return aws_str_ok(out);
}

/* ---- canonical query ---- */

static int sigv4_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode %XX in s[0..n) (a malformed escape is kept as sent), then encode
 * the result the SigV4 way. */
static void sigv4_reencode(aws_str *out, const char *s, size_t n)
{
    aws_str tmp;
    aws_str_init(&tmp, n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = sigv4_hexval(s[i + 1])) >= 0 &&
            (lo = sigv4_hexval(s[i + 2])) >= 0) {
            aws_str_addc(&tmp, (char)(hi << 4 | lo));
            i += 2;
        } else {
            aws_str_addc(&tmp, s[i]);
        }
    }
    if (!aws_str_ok(&tmp))
        out->failed = 1;
    else
        aws_str_uri_encode(out, tmp.p != NULL ? tmp.p : "", tmp.len, 0);
    aws_str_free(&tmp);
}

static int sigv4_param_cmp(const void *a, const void *b)
{
    const sigv4_param *x = a, *y = b;
    int c = strcmp(x->key.p != NULL ? x->key.p : "", y->key.p != NULL ? y->key.p : "");
    if (c != 0)
        return c;
    return strcmp(x->value.p != NULL ? x->value.p : "", y->value.p != NULL ? y->value.p : "");
}

static void sigv4_params_free(sigv4_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        aws_str_free(&p[i].key);
        aws_str_free(&p[i].value);
    }
}

/* Adds an already-encoded pair. */
static int sigv4_param_add(sigv4_param *p, size_t *n, const char *key, const char *value)
{
    if (*n == AWS_SIGV4_MAX_PARAMS)
        return 0;
    aws_str_init(&p[*n].key, 0);
    aws_str_init(&p[*n].value, 0);
    aws_str_adds(&p[*n].key, key);
    aws_str_adds(&p[*n].value, value);
    (*n)++;
    return aws_str_ok(&p[*n - 1].key) && aws_str_ok(&p[*n - 1].value);
}

static int sigv4_query_parse(const char *q, sigv4_param *p, size_t *n)
{
    if (q == NULL)
        return 1;
    const char *end = q + strlen(q);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        if (stop > q) {
            if (*n == AWS_SIGV4_MAX_PARAMS)
                return 0;
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            const char *kend = eq != NULL ? eq : stop;
            aws_str_init(&p[*n].key, 0);
            aws_str_init(&p[*n].value, 0);
            sigv4_reencode(&p[*n].key, q, (size_t)(kend - q));
            if (eq != NULL)
                sigv4_reencode(&p[*n].value, eq + 1, (size_t)(stop - eq - 1));
            aws_str_add(&p[*n].value, "", 0);
            (*n)++;
            if (!aws_str_ok(&p[*n - 1].key) || !aws_str_ok(&p[*n - 1].value))
                return 0;
        }
        q = stop + 1;
    }
    return 1;
}

static void sigv4_query_write(aws_str *out, sigv4_param *p, size_t n)
{
    qsort(p, n, sizeof(*p), sigv4_param_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i != 0)
            aws_str_addc(out, '&');
        aws_str_add(out, p[i].key.p, p[i].key.len);
        aws_str_addc(out, '=');
        aws_str_add(out, p[i].value.p != NULL ? p[i].value.p : "", p[i].value.len);
    }
}

/* ---- canonical headers ---- */

static int sigv4_hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const sigv4_hdr *)a)->name, ((const sigv4_hdr *)b)->name);
}

static void sigv4_trim_into(aws_str *out, const char *v)
{
    int pending_space = 0, started = 0;
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            pending_space = started;
            continue;
        }
        if (pending_space)
            aws_str_addc(out, ' ');
        pending_space = 0;
        started = 1;
        aws_str_addc(out, *v);
    }
    aws_str_add(out, "", 0);
}

static int sigv4_hdr_add(sigv4_hdr *h, size_t *n, const char *name, const char *value)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > SIGV4_NAME_MAX || strlen(value) > AWS_SIGV4_HEADER_MAX)
        return 0;
    char lower[SIGV4_NAME_MAX + 1];
    for (size_t i = 0; i <= nl; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(h[i].name, lower) == 0) {
            aws_str_addc(&h[i].value, ',');
            sigv4_trim_into(&h[i].value, value);
            return aws_str_ok(&h[i].value);
        }
    }
    if (*n == AWS_SIGV4_MAX_HEADERS)
        return 0;
    memcpy(h[*n].name, lower, nl + 1);
    aws_str_init(&h[*n].value, 0);
    sigv4_trim_into(&h[*n].value, value);
    (*n)++;
    return aws_str_ok(&h[*n - 1].value);
}

static void sigv4_hdrs_free(sigv4_hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        aws_str_free(&h[i].value);
}

/* ---- signing ---- */

static int sigv4_signature(const aws_sigv4_creds *creds, const char *date, const char *region,
                           const char *service, const aws_str *sts, char out[65])
{
    size_t slen = strlen(creds->secret_access_key);
    if (slen == 0 || slen > AWS_SIGV4_SECRET_MAX)
        return 0;
    unsigned char ksecret[4 + AWS_SIGV4_SECRET_MAX], k[32], k2[32];
    ksecret[0] = 'A'; /* "AWS4" || secret: a key, not a string */
    ksecret[1] = 'W';
    ksecret[2] = 'S';
    ksecret[3] = '4';
    memcpy(ksecret + 4, creds->secret_access_key, slen);
    int ok = sigv4_hmac(ksecret, 4 + slen, date, strlen(date), k) &&
             sigv4_hmac(k, 32, region, strlen(region), k2) &&
             sigv4_hmac(k2, 32, service, strlen(service), k) &&
             sigv4_hmac(k, 32, "aws4_request", 12, k2) && sigv4_hmac(k2, 32, sts->p, sts->len, k);
    if (ok) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < 32; i++) {
            out[2 * i] = digits[k[i] >> 4];
            out[2 * i + 1] = digits[k[i] & 15];
        }
        out[64] = '\0';
    }
    OPENSSL_cleanse(ksecret, sizeof(ksecret));
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(k2, sizeof(k2));
    return ok;
}

static void sigv4_credential(aws_str *out, const aws_sigv4_creds *creds, const char *scope)
{
    aws_str_adds(out, creds->access_key_id);
    aws_str_addc(out, '/');
    aws_str_adds(out, scope);
}

int aws_sigv4_sign(const aws_sigv4_input *in, const aws_sigv4_creds *creds, aws_sigv4_result *r)
{
    sigv4_hdr hdr[AWS_SIGV4_MAX_HEADERS];
    sigv4_param par[AWS_SIGV4_MAX_PARAMS];
    size_t nh = 0, np = 0;
    int ok = 0;
    const char *token = creds->session_token != NULL && creds->session_token[0] != '\0'
                            ? creds->session_token
                            : NULL;
    char date[9], scope[256];
    aws_str tmp;
    aws_str_init(&tmp, 0);

    if (in->method == NULL || in->region == NULL || in->service == NULL ||
        creds->access_key_id == NULL || creds->secret_access_key == NULL)
        return sigv4_fail(r, "method, region, service and credentials are required");
    if (!aws_sigv4_amz_date(in->when, r->amz_date))
        return sigv4_fail(r, "the signing time is out of range");
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    if (snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, in->region, in->service) >=
        (int)sizeof(scope))
        return sigv4_fail(r, "region or service name too long");
    if (!sigv4_sha256_hex(in->body != NULL ? (const void *)in->body : "", in->body_len,
                          r->payload_hash))
        return sigv4_fail(r, "SHA-256 failed");

    for (size_t i = 0; i < in->n_headers; i++)
        if (!sigv4_hdr_add(hdr, &nh, in->headers[i].name, in->headers[i].value)) {
            sigv4_fail(r, "too many headers, or a header name or value too long");
            goto out;
        }
    if (!in->presign) {
        if (!sigv4_hdr_add(hdr, &nh, "x-amz-date", r->amz_date) ||
            (token != NULL && !in->omit_session_token &&
             !sigv4_hdr_add(hdr, &nh, "x-amz-security-token", token)) ||
            (in->sign_body && !sigv4_hdr_add(hdr, &nh, "x-amz-content-sha256", r->payload_hash))) {
            sigv4_fail(r, "too many headers, or the session token too long");
            goto out;
        }
    }
    qsort(hdr, nh, sizeof(*hdr), sigv4_hdr_cmp);
    r->signed_headers[0] = '\0';
    for (size_t i = 0; i < nh; i++) {
        size_t used = strlen(r->signed_headers);
        if (snprintf(r->signed_headers + used, sizeof(r->signed_headers) - used, "%s%s",
                     i != 0 ? ";" : "", hdr[i].name) >= (int)(sizeof(r->signed_headers) - used)) {
            sigv4_fail(r, "signed header list too long");
            goto out;
        }
    }

    if (!sigv4_query_parse(in->query, par, &np)) {
        sigv4_fail(r, "too many query parameters, or one too long");
        goto out;
    }
    if (in->presign) {
        char expires[24];
        snprintf(expires, sizeof(expires), "%ld", in->expires);
        aws_str_reset(&tmp);
        sigv4_credential(&tmp, creds, scope);
        aws_str cred, sh;
        aws_str_init(&cred, 0);
        aws_str_init(&sh, 0);
        aws_str_uri_encode(&cred, tmp.p, tmp.len, 0);
        aws_str_uri_encode(&sh, r->signed_headers, strlen(r->signed_headers), 0);
        int pok = aws_str_ok(&cred) && aws_str_ok(&sh) &&
                  sigv4_param_add(par, &np, "X-Amz-Algorithm", SIGV4_ALGORITHM) &&
                  sigv4_param_add(par, &np, "X-Amz-Credential", cred.p) &&
                  sigv4_param_add(par, &np, "X-Amz-Date", r->amz_date) &&
                  sigv4_param_add(par, &np, "X-Amz-Expires", expires) &&
                  sigv4_param_add(par, &np, "X-Amz-SignedHeaders", sh.p);
        if (pok && token != NULL && !in->omit_session_token) {
            aws_str_reset(&tmp);
            aws_str_uri_encode(&tmp, token, strlen(token), 0);
            pok = aws_str_ok(&tmp) && sigv4_param_add(par, &np, "X-Amz-Security-Token", tmp.p);
        }
        /* What is sent: the caller's query, then ours in the SDKs' order. */
        if (in->query != NULL && in->query[0] != '\0') {
            aws_str_adds(&r->query, in->query);
            aws_str_addc(&r->query, '&');
        }
        aws_str_adds(&r->query, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
        aws_str_adds(&r->query, cred.p != NULL ? cred.p : "");
        aws_str_adds(&r->query, "&X-Amz-Date=");
        aws_str_adds(&r->query, r->amz_date);
        aws_str_adds(&r->query, "&X-Amz-SignedHeaders=");
        aws_str_adds(&r->query, sh.p != NULL ? sh.p : "");
        aws_str_adds(&r->query, "&X-Amz-Expires=");
        aws_str_adds(&r->query, expires);
        if (token != NULL) {
            aws_str_adds(&r->query, "&X-Amz-Security-Token=");
            aws_str_uri_encode(&r->query, token, strlen(token), 0);
        }
        aws_str_free(&cred);
        aws_str_free(&sh);
        if (!pok) {
            sigv4_fail(r, "too many query parameters");
            goto out;
        }
    }

    aws_str *cr = &r->canonical_request;
    aws_str_adds(cr, in->method);
    aws_str_addc(cr, '\n');
    if (!sigv4_uri(cr, in->path, in->normalize_path)) {
        sigv4_fail(r, "the path has too many segments or is too long");
        goto out;
    }
    aws_str_addc(cr, '\n');
    sigv4_query_write(cr, par, np);
    aws_str_addc(cr, '\n');
    for (size_t i = 0; i < nh; i++) {
        aws_str_adds(cr, hdr[i].name);
        aws_str_addc(cr, ':');
        aws_str_add(cr, hdr[i].value.p, hdr[i].value.len);
        aws_str_addc(cr, '\n');
    }
    aws_str_addc(cr, '\n');
    aws_str_adds(cr, r->signed_headers);
    aws_str_addc(cr, '\n');
    aws_str_adds(cr, r->payload_hash);
    char crhash[65];
    if (!aws_str_ok(cr) || !sigv4_sha256_hex(cr->p, cr->len, crhash)) {
        sigv4_fail(r, "the canonical request is too long");
        goto out;
    }

    aws_str *sts = &r->string_to_sign;
    aws_str_adds(sts, SIGV4_ALGORITHM "\n");
    aws_str_adds(sts, r->amz_date);
    aws_str_addc(sts, '\n');
    aws_str_adds(sts, scope);
    aws_str_addc(sts, '\n');
    aws_str_adds(sts, crhash);
    if (!aws_str_ok(sts) ||
        !sigv4_signature(creds, date, in->region, in->service, sts, r->signature)) {
        sigv4_fail(r, "HMAC failed, or the secret key is empty or too long");
        goto out;
    }

    if (in->presign) {
        aws_str_adds(&r->query, "&X-Amz-Signature=");
        aws_str_adds(&r->query, r->signature);
    } else {
        aws_str_adds(&r->authorization, SIGV4_ALGORITHM " Credential=");
        sigv4_credential(&r->authorization, creds, scope);
        aws_str_adds(&r->authorization, ", SignedHeaders=");
        aws_str_adds(&r->authorization, r->signed_headers);
        aws_str_adds(&r->authorization, ", Signature=");
        aws_str_adds(&r->authorization, r->signature);
    }
    ok = aws_str_ok(&r->authorization) && aws_str_ok(&r->query);
    if (!ok)
        sigv4_fail(r, "the Authorization header or query is too long");
out:
    sigv4_hdrs_free(hdr, nh);
    sigv4_params_free(par, np);
    aws_str_free(&tmp);
    return ok;
}
