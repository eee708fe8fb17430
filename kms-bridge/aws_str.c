/*
 * aws_str.c - the bounded byte string of aws_str.h.
 */
#include "aws_str.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void aws_str_init(aws_str *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    s->max = max == 0 || max > AWS_STR_HARD_MAX ? AWS_STR_HARD_MAX : max;
}

void aws_str_free(aws_str *s)
{
    if (s->p != NULL)
        OPENSSL_clear_free(s->p, s->cap);
    s->p = NULL;
    s->len = s->cap = 0;
    s->failed = 0;
}

void aws_str_reset(aws_str *s)
{
    if (s->p != NULL)
        OPENSSL_cleanse(s->p, s->cap);
    s->len = 0;
    s->failed = 0;
}

static int aws_str_reserve(aws_str *s, size_t n)
{
    if (s->failed)
        return 0;
    if (n > s->max - s->len) {
        s->failed = 1;
        return 0;
    }
    if (s->len + n + 1 <= s->cap)
        return 1;
    size_t cap = s->cap != 0 ? s->cap : 256;
    while (cap < s->len + n + 1)
        cap *= 2;
    /* Grow by copy, not realloc, so the old bytes can be wiped. */
    char *p = OPENSSL_malloc(cap);
    if (p == NULL) {
        s->failed = 1;
        return 0;
    }
    if (s->p != NULL) {
        memcpy(p, s->p, s->len);
        OPENSSL_clear_free(s->p, s->cap);
    }
    s->p = p;
    s->cap = cap;
    return 1;
}

void aws_str_add(aws_str *s, const void *data, size_t n)
{
    if (!aws_str_reserve(s, n))
        return;
    if (n != 0)
        memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void aws_str_adds(aws_str *s, const char *z)
{
    aws_str_add(s, z, strlen(z));
}

void aws_str_addc(aws_str *s, char c)
{
    aws_str_add(s, &c, 1);
}

void aws_str_hex(aws_str *s, const unsigned char *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char pair[2] = {digits[data[i] >> 4], digits[data[i] & 15]};
        aws_str_add(s, pair, 2);
    }
}

static int aws_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void aws_str_uri_encode(aws_str *s, const char *data, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        if (aws_unreserved(c) || (keep_slash && c == '/')) {
            aws_str_addc(s, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            aws_str_add(s, esc, 3);
        }
    }
}

int aws_str_ok(const aws_str *s)
{
    return !s->failed;
}
