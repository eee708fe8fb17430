/*
 * aws_http.h - one HTTP exchange over libcurl, for KMS, STS and the
 * credential endpoints.
 *
 * Contract:
 *  - A handle (aws_http_new) is one libcurl easy handle: it keeps its
 *    connection alive between exchanges (one per slot and thread in use),
 *    so it must not be used by two threads at once.
 *  - TLS: the peer is verified (CURLOPT_SSL_VERIFYPEER/HOST) against
 *    ca_file when given, else the system's store. Plain http:// is allowed
 *    only when the request says so (the credential endpoints of ECS and
 *    EC2 are plain HTTP on link-local or loopback addresses).
 *  - Proxies: libcurl reads HTTPS_PROXY / https_proxy / NO_PROXY itself;
 *    no_proxy = 1 turns them off (metadata endpoints are never proxied, as
 *    in the SDKs).
 *  - No redirect is followed; the answer is at most AWS_HTTP_BODY_MAX bytes.
 *  - The body may hold credentials: aws_http_resp_free wipes it.
 *  - Returns 1 when an HTTP status was received (any status), 0 on a
 *    transport failure (connect, TLS, timeout) with the reason in err (no
 *    header or body is ever quoted: they may be secret).
 */
#ifndef AWS_HTTP_H
#define AWS_HTTP_H

#include <stddef.h>

#include "aws_str.h"

#define AWS_HTTP_BODY_MAX (1u << 20)
#define AWS_HTTP_MAX_HEADERS 16

typedef struct aws_http aws_http;

typedef struct {
    const char *method; /* GET, PUT, POST */
    const char *url;
    const char *headers[AWS_HTTP_MAX_HEADERS]; /* "Name: value" */
    size_t n_headers;
    const void *body;
    size_t body_len;
    long timeout_ms;
    const char *ca_file; /* NULL or "": the system's CAs */
    int allow_http;
    int no_proxy;
} aws_http_req;

typedef struct {
    long status;
    aws_str body;
    int timed_out;
    char err[256];
} aws_http_resp;

/* Process-wide libcurl setup; once, from C_Initialize (thread-safe). */
int aws_http_global_init(void);

aws_http *aws_http_new(void);
void aws_http_free(aws_http *h);
void aws_http_resp_init(aws_http_resp *r);
void aws_http_resp_free(aws_http_resp *r);
int aws_http_do(aws_http *h, const aws_http_req *req, aws_http_resp *resp)
    __attribute__((warn_unused_result));

#endif
