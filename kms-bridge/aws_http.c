/*
 * aws_http.c - one HTTP exchange over libcurl (aws_http.h).
 */
#include "aws_http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aws_http {
    CURL *curl;
};

static pthread_once_t aws_http_once = PTHREAD_ONCE_INIT;
static int aws_http_inited;

static void aws_http_init_once(void)
{
    aws_http_inited = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int aws_http_global_init(void)
{
    pthread_once(&aws_http_once, aws_http_init_once);
    return aws_http_inited;
}

aws_http *aws_http_new(void)
{
    if (!aws_http_global_init())
        return NULL;
    aws_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

void aws_http_free(aws_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void aws_http_resp_init(aws_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    aws_str_init(&r->body, AWS_HTTP_BODY_MAX);
}

void aws_http_resp_free(aws_http_resp *r)
{
    aws_str_free(&r->body);
}

static size_t aws_http_write(char *data, size_t size, size_t nmemb, void *arg)
{
    aws_str *body = arg;
    size_t n = size * nmemb;
    aws_str_add(body, data, n);
    return aws_str_ok(body) ? n : 0; /* 0 aborts the transfer: too long */
}

int aws_http_do(aws_http *h, const aws_http_req *req, aws_http_resp *resp)
{
    CURL *c = h->curl;
    struct curl_slist *hdrs = NULL;
    int ok = 0;
    curl_easy_reset(c); /* options only: the connection cache stays */
    aws_str_reset(&resp->body);
    resp->status = 0;
    resp->timed_out = 0;
    resp->err[0] = '\0';
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);
        if (n == NULL) {
            snprintf(resp->err, sizeof(resp->err), "out of memory");
            goto out;
        }
        hdrs = n;
    }
    /* libcurl adds "Expect: 100-continue" to large POSTs; AWS does not need it. */
    struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
    if (n == NULL)
        goto out;
    hdrs = n;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, req->allow_http ? "http,https" : "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 5000L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 5000L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (req->ca_file != NULL && req->ca_file[0] != '\0')
        SET(CURLOPT_CAINFO, req->ca_file);
    if (req->no_proxy)
        SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_WRITEFUNCTION, aws_http_write);
    SET(CURLOPT_WRITEDATA, &resp->body);
    if (strcmp(req->method, "POST") == 0) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "PUT") == 0) {
        SET(CURLOPT_CUSTOMREQUEST, "PUT");
        SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
#undef SET
    if (rc != CURLE_OK) {
        snprintf(resp->err, sizeof(resp->err), "libcurl option: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        if (rc == CURLE_WRITE_ERROR && !aws_str_ok(&resp->body))
            snprintf(resp->err, sizeof(resp->err), "the answer is longer than %u bytes",
                     AWS_HTTP_BODY_MAX);
        else
            snprintf(resp->err, sizeof(resp->err), "%s", curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    aws_str_add(&resp->body, "", 0); /* a NUL-terminated body, even when empty */
    ok = 1;
out:
    /* The headers held the session token and the signature: wipe libcurl's
     * copies before they are freed. */
    for (struct curl_slist *e = hdrs; e != NULL; e = e->next)
        OPENSSL_cleanse(e->data, strlen(e->data));
    curl_slist_free_all(hdrs);
    return ok;
}
