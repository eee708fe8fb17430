/*
 * aws_kms.c - one AWS KMS call with signing, retries and error mapping
 * (aws_kms.h).
 */
#include "aws_kms.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws_json.h"
#include "aws_sigv4.h"
#include "kms_log.h"
#include "kms_socket.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 2000

const char *aws_status_name(aws_status st)
{
    static const char *const names[] = {
        "ok",          "access denied",       "not found",   "key state",  "authentication failed",
        "unavailable", "credentials refused", "bad request", "bad answer", "internal"};
    return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* Error types of the KMS API reference ("Errors" of each operation) and
 * the common ones of every AWS JSON service. */
aws_status aws_kms_status_of(long http, const char *type)
{
    static const struct {
        const char *type;
        aws_status st;
    } map[] = {
        {"AccessDeniedException", AWS_E_ACCESS},
        {"AccessDenied", AWS_E_ACCESS},
        {"NotAuthorized", AWS_E_ACCESS},
        {"NotFoundException", AWS_E_NOT_FOUND},
        {"DisabledException", AWS_E_KEY_STATE},
        {"KMSInvalidStateException", AWS_E_KEY_STATE},
        {"KeyUnavailableException", AWS_E_KEY_STATE},
        {"InvalidCiphertextException", AWS_E_AUTH},
        {"IncorrectKeyException", AWS_E_AUTH},
        {"InvalidKeyUsageException", AWS_E_KEY_STATE},
        {"UnrecognizedClientException", AWS_E_CREDENTIALS},
        {"InvalidSignatureException", AWS_E_CREDENTIALS},
        {"IncompleteSignature", AWS_E_CREDENTIALS},
        {"MissingAuthenticationToken", AWS_E_CREDENTIALS},
        {"ExpiredTokenException", AWS_E_CREDENTIALS},
        {"InvalidClientTokenId", AWS_E_CREDENTIALS},
        {"ValidationException", AWS_E_INPUT},
        {"SerializationException", AWS_E_INPUT},
        {"InvalidGrantTokenException", AWS_E_INPUT},
        {"InvalidArnException", AWS_E_INPUT},
        {"AlreadyExistsException", AWS_E_INPUT},
        {"LimitExceededException", AWS_E_UNAVAILABLE},
    };
    if (aws_kms_retryable(http, type))
        return AWS_E_UNAVAILABLE;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(type, map[i].type) == 0)
            return map[i].st;
    if (http == 401 || http == 403)
        return AWS_E_ACCESS;
    return http >= 500 ? AWS_E_UNAVAILABLE : AWS_E_PROTOCOL;
}

int aws_kms_retryable(long http, const char *type)
{
    static const char *const retry[] = {
        "ThrottlingException",        "Throttling",
        "ThrottledException",         "RequestLimitExceeded",
        "TooManyRequestsException",   "KMSInternalException",
        "DependencyTimeoutException", "InternalFailure",
        "ServiceUnavailable",
    };
    for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
        if (strcmp(type, retry[i]) == 0)
            return 1;
    return http == 429 || http >= 500;
}

void aws_kms_init(aws_kms *k, const aws_slot_cfg *cfg, long timeout_ms)
{
    memset(k, 0, sizeof(*k));
    k->cfg = cfg;
    k->timeout_ms = timeout_ms;
    const char *h = strstr(cfg->endpoint, "://");
    h = h != NULL ? h + 3 : cfg->endpoint;
    snprintf(k->host, sizeof(k->host), "%.*s", (int)strcspn(h, "/"), h);
    snprintf(k->url, sizeof(k->url), "%s/", cfg->endpoint);
    pthread_mutex_init(&k->lock, NULL);
    aws_cred_holder_init(&k->creds, cfg, timeout_ms);
}

void aws_kms_drop_idle(aws_kms *k)
{
    for (size_t i = 0; i < k->n_idle; i++)
        aws_http_free(k->idle[i]);
    k->n_idle = 0;
}

void aws_kms_cleanup(aws_kms *k)
{
    aws_kms_drop_idle(k);
    aws_cred_holder_cleanup(&k->creds);
    pthread_mutex_destroy(&k->lock);
}

static aws_http *take(aws_kms *k)
{
    aws_http *h = NULL;
    pthread_mutex_lock(&k->lock);
    if (k->n_idle > 0)
        h = k->idle[--k->n_idle];
    pthread_mutex_unlock(&k->lock);
    return h != NULL ? h : aws_http_new();
}

static void give_back(aws_kms *k, aws_http *h, int keep)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    if (keep && k->n_idle < AWS_KMS_POOL) {
        k->idle[k->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&k->lock);
    aws_http_free(h);
}

static void printable(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src != NULL && src[i] != '\0' && j + 1 < cap; i++)
        dst[j++] = (src[i] >= ' ' && src[i] < 0x7f) ? src[i] : '?';
    dst[j] = '\0';
}

/* The service's error answer: {"__type": "[ns#]Type", "message": "..."}. */
static void parse_error(const aws_http_resp *r, aws_kms_error *e)
{
    e->type[0] = e->message[0] = '\0';
    json_object *j = aws_json_parse(r->body.p, r->body.len);
    const char *type = aws_json_str(j, "__type", NULL);
    const char *msg = aws_json_str(j, "message", NULL);
    if (msg == NULL)
        msg = aws_json_str(j, "Message", NULL);
    if (type != NULL) {
        const char *hash = strrchr(type, '#');
        printable(e->type, sizeof(e->type), hash != NULL ? hash + 1 : type);
        e->type[strcspn(e->type, ":")] = '\0'; /* "Type:http://..." */
    }
    printable(e->message, sizeof(e->message), msg);
    aws_json_wipe_put(j);
}

/* Sleeps the back-off of `attempt` if it ends before deadline; 0 if not. */
static int backoff(int attempt, int64_t deadline)
{
    int64_t cap = BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
    if (cap > BACKOFF_CAP_MS)
        cap = BACKOFF_CAP_MS;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)attempt * 2654435761u;
    int64_t ms = (int64_t)(r % (uint32_t)(cap + 1));
    if (kms_now_ms() + ms >= deadline)
        return 0;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 1;
}

/* One signed exchange. 1: an HTTP answer in resp; 0: transport failure. */
static int send_once(aws_kms *k, aws_http *h, const char *op, const char *body, size_t n,
                     const aws_creds *c, long timeout_ms, aws_http_resp *resp, aws_kms_error *e)
{
    char target[96], host_hdr[AWS_URL_MAX + 8], date_hdr[40], *tok_hdr = NULL, *auth_hdr = NULL;
    snprintf(target, sizeof(target), "X-Amz-Target: TrentService.%s", op);
    snprintf(host_hdr, sizeof(host_hdr), "Host: %s", k->host);
    aws_sigv4_header sh[3] = {{"Host", k->host},
                              {"Content-Type", "application/x-amz-json-1.1"},
                              {"X-Amz-Target", target + 14}};
    aws_sigv4_input in = {.method = "POST",
                          .path = "/",
                          .headers = sh,
                          .n_headers = 3,
                          .body = (const unsigned char *)body,
                          .body_len = n,
                          .region = k->cfg->region,
                          .service = "kms",
                          .when = time(NULL),
                          .normalize_path = 1};
    aws_sigv4_creds sc = {c->access_key_id, c->secret_access_key, c->session_token};
    aws_sigv4_result sr;
    aws_sigv4_result_init(&sr);
    int ok = 0;
    if (!aws_sigv4_sign(&in, &sc, &sr)) {
        snprintf(e->message, sizeof(e->message), "%s", sr.error);
        e->st = AWS_E_INTERNAL;
        goto out;
    }
    snprintf(date_hdr, sizeof(date_hdr), "X-Amz-Date: %s", sr.amz_date);
    size_t an = sr.authorization.len + 32;
    auth_hdr = OPENSSL_malloc(an);
    if (c->session_token != NULL) {
        size_t tn = strlen(c->session_token) + 32;
        tok_hdr = OPENSSL_malloc(tn);
        if (tok_hdr != NULL)
            snprintf(tok_hdr, tn, "X-Amz-Security-Token: %s", c->session_token);
    }
    if (auth_hdr == NULL || (c->session_token != NULL && tok_hdr == NULL)) {
        e->st = AWS_E_INTERNAL;
        snprintf(e->message, sizeof(e->message), "out of memory");
        goto out;
    }
    snprintf(auth_hdr, an, "Authorization: %s", sr.authorization.p);
    aws_http_req req = {.method = "POST",
                        .url = k->url,
                        .headers = {host_hdr, "Content-Type: application/x-amz-json-1.1", target,
                                    date_hdr, auth_hdr},
                        .n_headers = 5,
                        .body = body,
                        .body_len = n,
                        .timeout_ms = timeout_ms,
                        .ca_file = k->cfg->ca_file,
                        .allow_http = strncmp(k->cfg->endpoint, "http://", 7) == 0};
    if (tok_hdr != NULL)
        req.headers[req.n_headers++] = tok_hdr;
    ok = aws_http_do(h, &req, resp);
    if (!ok) {
        snprintf(e->message, sizeof(e->message), "%.100s: %.140s", k->host, resp->err);
        e->st = AWS_E_UNAVAILABLE;
    }
out:
    if (auth_hdr != NULL)
        OPENSSL_clear_free(auth_hdr, an);
    if (tok_hdr != NULL)
        OPENSSL_clear_free(tok_hdr, strlen(tok_hdr) + 1);
    aws_sigv4_result_free(&sr);
    return ok;
}

aws_status aws_kms_call(aws_kms *k, const char *op, json_object *req, int idempotent,
                        json_object **resp, aws_kms_error *e)
{
    int64_t start = kms_now_ms(), deadline = start + k->timeout_ms;
    memset(e, 0, sizeof(*e));
    *resp = NULL;
    size_t n = 0;
    const char *body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &n);
    if (body == NULL) {
        e->st = AWS_E_INTERNAL;
        return e->st;
    }
    aws_http_resp r;
    aws_http_resp_init(&r);
    int refreshed = 0;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - kms_now_ms();
        if (left <= 0) {
            e->st = AWS_E_UNAVAILABLE;
            if (e->message[0] == '\0')
                snprintf(e->message, sizeof(e->message), "no answer within %ld ms", k->timeout_ms);
            break;
        }
        char err[512];
        aws_creds *c = aws_cred_acquire(&k->creds, (long)left, err, sizeof(err));
        if (c == NULL) {
            e->st = AWS_E_CREDENTIALS;
            printable(e->message, sizeof(e->message), err);
            break;
        }
        e->attempts++;
        aws_http *h = take(k);
        left = deadline - kms_now_ms();
        int got = h != NULL && left > 0 &&
                  send_once(k, h, op, body, n, c, (long)(left > 0 ? left : 1), &r, e);
        if (!got) {
            give_back(k, h, 0);
            aws_cred_release(&k->creds, c);
            if (e->st == AWS_E_INTERNAL)
                break;
            e->st = AWS_E_UNAVAILABLE;
            if (!idempotent || !backoff(attempt, deadline))
                break;
            continue;
        }
        e->http = r.status;
        give_back(k, h, 1);
        if (r.status == 200) {
            *resp = aws_json_parse(r.body.p, r.body.len);
            aws_cred_release(&k->creds, c);
            e->st = *resp != NULL ? AWS_OK : AWS_E_PROTOCOL;
            if (*resp == NULL)
                snprintf(e->message, sizeof(e->message),
                         "%s answered 200 with a body that is not "
                         "JSON",
                         op);
            break;
        }
        parse_error(&r, e);
        if (strcmp(e->type, "ExpiredTokenException") == 0 && !refreshed) {
            refreshed = 1; /* the token expired early (clock skew, revoked) */
            aws_cred_invalidate(&k->creds, c);
            aws_cred_release(&k->creds, c);
            continue;
        }
        aws_cred_release(&k->creds, c);
        e->st = aws_kms_status_of(r.status, e->type);
        if (e->st != AWS_E_UNAVAILABLE || !backoff(attempt, deadline))
            break;
    }
    kms_debug("aws %s %s: %s (HTTP %ld%s%s, %d attempt(s), %lld ms)", k->host, op,
              aws_status_name(e->st), e->http, e->type[0] != '\0' ? " " : "", e->type, e->attempts,
              (long long)(kms_now_ms() - start));
    aws_http_resp_free(&r);
    OPENSSL_cleanse((char *)body, n); /* the request may hold a DEK */
    return e->st;
}
