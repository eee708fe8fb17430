/*
 * aws_sigv4.h - AWS Signature Version 4 (HMAC-SHA256) request signing, on
 * OpenSSL's HMAC and SHA-256.
 *
 * What is signed (AWS General Reference, "Signature Version 4 signing
 * process"; the known-answer suite in docs/KMS-BRIDGE.md "SigV4"):
 *   canonical request = method \n canonical URI \n canonical query \n
 *                       canonical headers \n \n signed headers \n payload hash
 *   string to sign    = AWS4-HMAC-SHA256 \n amz-date \n scope \n hex(SHA256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request")
 *
 * Contract:
 *  - headers[] are the request's own headers as sent (they must include
 *    Host); names are matched case-insensitively, values may hold folded
 *    lines (runs of whitespace become one space, ends are trimmed).
 *    X-Amz-Date, and X-Amz-Security-Token / X-Amz-Content-Sha256 when asked
 *    for, are added by the signer: the caller sends them as
 *    "X-Amz-Security-Token: <token>", "X-Amz-Date: <amz_date>",
 *    "X-Amz-Content-Sha256: <payload_hash>", then "Authorization: <authorization>".
 *  - The path is the request path as sent (no query); it is percent-encoded
 *    once more (SigV4 for every service but S3) and, with normalize_path,
 *    has "." and ".." segments and repeated slashes removed first.
 *  - The secret is read, never copied outside wiped stack buffers; nothing
 *    here logs. At most AWS_SIGV4_SECRET_MAX bytes of secret.
 *  - presign: the signature goes in the query string (X-Amz-Algorithm ...
 *    X-Amz-Signature, valid for `expires` seconds); result->query is the
 *    whole query string to send, and no header is added.
 *  - Returns 1, or 0 with a reason in result->error (never a secret).
 *    aws_sigv4_result_free is NULL-safe and wipes.
 */
#ifndef AWS_SIGV4_H
#define AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "aws_str.h"

#define AWS_SIGV4_MAX_HEADERS 48
#define AWS_SIGV4_MAX_PARAMS 64
#define AWS_SIGV4_SECRET_MAX 128
#define AWS_SIGV4_HEADER_MAX 16384 /* one header value; session tokens run to a few KiB */

typedef struct {
    const char *name;
    const char *value;
} aws_sigv4_header;

typedef struct {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "": long-term keys */
} aws_sigv4_creds;

typedef struct {
    const char *method;
    const char *path;
    const char *query; /* after '?', NULL or "" when none */
    const aws_sigv4_header *headers;
    size_t n_headers;
    const unsigned char *body;
    size_t body_len;
    const char *region;
    const char *service;
    time_t when;
    int normalize_path;
    int sign_body;          /* add and sign X-Amz-Content-Sha256 */
    int omit_session_token; /* the token travels unsigned (added after signing) */
    int presign;
    long expires;
} aws_sigv4_input;

typedef struct {
    aws_str canonical_request;
    aws_str string_to_sign;
    aws_str authorization;
    aws_str query;
    char signed_headers[1024];
    char signature[65];
    char amz_date[17];
    char payload_hash[65];
    char error[160];
} aws_sigv4_result;

void aws_sigv4_result_init(aws_sigv4_result *r);
void aws_sigv4_result_free(aws_sigv4_result *r);
int aws_sigv4_sign(const aws_sigv4_input *in, const aws_sigv4_creds *creds, aws_sigv4_result *r)
    __attribute__((warn_unused_result));

/* The SigV4 date form of t (UTC): "20150830T123600Z". out has 17 bytes. */
int aws_sigv4_amz_date(time_t t, char out[17]);

#endif
