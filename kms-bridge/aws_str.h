/*
 * aws_str.h - a bounded, growable byte string for the AWS path (canonical
 * requests, JSON bodies, header lines).
 *
 * Contract: every append checks against the buffer's limit (set at init,
 * never above AWS_STR_HARD_MAX); the first failure (limit or allocation)
 * makes the string "failed" for good and every later append a no-op, so a
 * builder can append unconditionally and check once (aws_str_ok). The
 * bytes are always NUL-terminated. aws_str_free wipes before freeing,
 * since a string may have held a credential (a session token).
 */
#ifndef AWS_STR_H
#define AWS_STR_H

#include <stddef.h>

#define AWS_STR_HARD_MAX (1u << 24) /* 16 MiB: far above any KMS request */

typedef struct {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    int failed;
} aws_str;

void aws_str_init(aws_str *s, size_t max);
void aws_str_free(aws_str *s);
void aws_str_reset(aws_str *s);
void aws_str_add(aws_str *s, const void *data, size_t n);
void aws_str_adds(aws_str *s, const char *z);
void aws_str_addc(aws_str *s, char c);
/* Lowercase hex of data[0..n). */
void aws_str_hex(aws_str *s, const unsigned char *data, size_t n);
/* Percent-encode per SigV4: unreserved (A-Z a-z 0-9 - . _ ~) kept, every
 * other byte %XX in uppercase hex; '/' kept when keep_slash. */
void aws_str_uri_encode(aws_str *s, const char *data, size_t n, int keep_slash);
int aws_str_ok(const aws_str *s) __attribute__((warn_unused_result));

#endif
