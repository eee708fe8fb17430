/*
 * aws_kms.h - one AWS KMS call: the AWS JSON 1.1 protocol over HTTPS
 * (POST /, Content-Type application/x-amz-json-1.1,
 * X-Amz-Target: TrentService.<Op>), signed with SigV4 for service "kms".
 *
 * Contract:
 *  - aws_kms_call sends req (a JSON object; it may hold a DEK, so the
 *    serialised body is wiped) and on AWS_OK gives *resp (the caller
 *    frees it with aws_json_wipe_put).
 *  - Retries, within the slot's timeout-ms counted from the call's start:
 *    ThrottlingException (and other throttling codes), HTTP 5xx,
 *    KMSInternalException, DependencyTimeoutException, and transport
 *    failures (for idempotent calls only; CreateKey is not), with capped
 *    exponential back-off and full jitter (sleep uniform in
 *    [0, min(2 s, 100 ms * 2^attempt)]). An ExpiredTokenException makes
 *    the credentials be fetched again and the call retried once.
 *  - Keep-alive: each slot keeps up to AWS_KMS_POOL idle libcurl handles
 *    (and so their connections); a call takes one and hands it back.
 *  - Every call is logged (operation, HTTP status, error type, attempts,
 *    latency): never a body, a header value or a credential.
 *  - The error's message is the service's "message" member reduced to
 *    printable ASCII (it may quote the key ARN, never data).
 */
#ifndef AWS_KMS_H
#define AWS_KMS_H

#include <json-c/json.h>
#include <pthread.h>

#include "aws_config.h"
#include "aws_http.h"
#include "aws_refresh.h"

#define AWS_KMS_POOL 8

typedef enum {
    AWS_OK = 0,
    AWS_E_ACCESS,      /* AccessDeniedException, not authorised: policy */
    AWS_E_NOT_FOUND,   /* NotFoundException */
    AWS_E_KEY_STATE,   /* DisabledException, KMSInvalidStateException (pending deletion...) */
    AWS_E_AUTH,        /* InvalidCiphertextException, IncorrectKeyException */
    AWS_E_UNAVAILABLE, /* throttled, 5xx or unreachable until the timeout */
    AWS_E_CREDENTIALS, /* no credentials, or the service refused them */
    AWS_E_INPUT,       /* ValidationException and the like: our request */
    AWS_E_PROTOCOL,    /* an answer we refuse (not JSON, wrong key, ...) */
    AWS_E_INTERNAL,
} aws_status;

typedef struct {
    aws_status st;
    long http;
    int attempts;
    char type[64];     /* "__type" without its namespace, or "" */
    char message[256]; /* printable ASCII */
} aws_kms_error;

typedef struct aws_kms {
    const aws_slot_cfg *cfg;
    long timeout_ms;
    char host[AWS_URL_MAX + 1]; /* what Host: says and SigV4 signs */
    char url[AWS_URL_MAX + 2];
    aws_cred_holder creds;
    pthread_mutex_t lock;
    aws_http *idle[AWS_KMS_POOL];
    size_t n_idle;
} aws_kms;

void aws_kms_init(aws_kms *k, const aws_slot_cfg *cfg, long timeout_ms);
void aws_kms_cleanup(aws_kms *k);
/* Drops idle connections (after fork: they are the parent's). */
void aws_kms_drop_idle(aws_kms *k);

aws_status aws_kms_call(aws_kms *k, const char *op, json_object *req, int idempotent,
                        json_object **resp, aws_kms_error *e) __attribute__((warn_unused_result));

/* The status for a service error type (exported for the unit tests). */
aws_status aws_kms_status_of(long http, const char *type);
int aws_kms_retryable(long http, const char *type);
const char *aws_status_name(aws_status st);

#endif
