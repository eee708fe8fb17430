/*
 * kms_pool.c - connection pool, endpoint failover and back-off, see kms_pool.h.
 */
#include "kms_pool.h"

#include <string.h>
#include <time.h>

#include "kms_log.h"
#include "kms_socket.h"

#define EP_BACKOFF_FIRST_MS 500
#define EP_BACKOFF_MAX_MS 30000
#define ROUND_BACKOFF_FIRST_MS 100
#define ROUND_BACKOFF_MAX_MS 1000

void kms_slot_init(kms_slot *s, const kms_slot_cfg *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    pthread_mutex_init(&s->lock, NULL);
}

void kms_slot_drop_idle(kms_slot *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_idle; i++)
        kms_conn_free(s->idle[i]);
    s->n_idle = 0;
    pthread_mutex_unlock(&s->lock);
}

void kms_slot_cleanup(kms_slot *s)
{
    kms_slot_drop_idle(s);
    kms_tls_free(s->tls);
    s->tls = NULL;
    pthread_mutex_destroy(&s->lock);
}

static kms_conn *pool_get(kms_slot *s)
{
    kms_conn *c = NULL;
    pthread_mutex_lock(&s->lock);
    while (c == NULL && s->n_idle > 0) {
        c = s->idle[--s->n_idle];
        if (!kms_conn_idle_ok(c)) {
            kms_debug("pool: dropping idle connection to %s (closed by the server)",
                      kms_conn_endpoint(c));
            kms_conn_free(c);
            c = NULL;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void pool_put(kms_slot *s, kms_conn *c)
{
    pthread_mutex_lock(&s->lock);
    if (s->n_idle < (size_t)s->cfg.pool_size && s->n_idle < KMS_POOL_MAX) {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    kms_conn_free(c);
}

static void mark(kms_slot *s, size_t ep, int ok)
{
    pthread_mutex_lock(&s->lock);
    kms_ep_health *h = &s->health[ep];
    if (ok) {
        if (h->failures)
            kms_debug("endpoint %s:%s: healthy again", s->cfg.ep[ep].host, s->cfg.ep[ep].port);
        h->failures = 0;
        h->retry_at = 0;
    } else {
        int64_t b = EP_BACKOFF_FIRST_MS;
        for (int i = 0; i < h->failures && b < EP_BACKOFF_MAX_MS; i++)
            b *= 2;
        h->failures++;
        h->retry_at = kms_now_ms() + (b > EP_BACKOFF_MAX_MS ? EP_BACKOFF_MAX_MS : b);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Endpoint order for this attempt: healthy ones in config order, then the
 * ones in back-off, soonest first. */
static size_t order(kms_slot *s, size_t *idx)
{
    size_t n = s->cfg.n_ep, k = 0;
    int64_t now = kms_now_ms();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        if (s->health[i].retry_at <= now)
            idx[k++] = i;
    size_t healthy = k;
    for (size_t i = 0; i < n; i++)
        if (s->health[i].retry_at > now)
            idx[k++] = i;
    for (size_t i = healthy; i < n; i++) /* insertion sort, n <= 8 */
        for (size_t j = i;
             j > healthy && s->health[idx[j]].retry_at < s->health[idx[j - 1]].retry_at; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A failure that may be retried elsewhere without risk of doing it twice. */
static int resendable(kms_status st, const kms_conn *c, int idempotent)
{
    return idempotent && st == KMS_E_IO && kms_conn_received(c) == 0;
}

/* One call with the identity t (a reference the caller holds). */
static kms_status slot_call(kms_slot *s, kms_tls *t, const uint8_t *req, size_t reqlen,
                            int idempotent, uint8_t **resp, size_t *resplen, kms_conn **conn)
{
    int64_t deadline = kms_now_ms() + s->cfg.timeout_ms;
    kms_status st;

    kms_conn *c = pool_get(s);
    if (c != NULL) {
        st = kms_conn_roundtrip(c, req, reqlen, resp, resplen, deadline);
        if (st == KMS_OK) {
            *conn = c; /* pooled again only once the caller accepts the answer */
            return KMS_OK;
        }
        kms_debug("endpoint %s: pooled connection failed: %s", kms_conn_endpoint(c),
                  kms_status_name(st));
        int again = resendable(st, c, idempotent);
        kms_conn_free(c);
        if (!again)
            return st;
    }

    kms_status last = KMS_E_UNREACHABLE;
    int64_t pause = ROUND_BACKOFF_FIRST_MS;
    for (int round = 0; round <= s->cfg.retries; round++) {
        if (round > 0) {
            int64_t left = deadline - kms_now_ms();
            if (left <= 0)
                break;
            sleep_ms(pause < left ? pause : left);
            pause = pause * 2 > ROUND_BACKOFF_MAX_MS ? ROUND_BACKOFF_MAX_MS : pause * 2;
        }
        size_t idx[KMS_MAX_ENDPOINTS];
        size_t n = order(s, idx);
        for (size_t k = 0; k < n; k++) {
            const kms_endpoint_cfg *ep = &s->cfg.ep[idx[k]];
            const char *name = s->cfg.server_name[0] ? s->cfg.server_name : ep->host;
            if (kms_now_ms() >= deadline)
                return last;
            st = kms_conn_open(t, ep, name, deadline, &c);
            if (st == KMS_E_IDENTITY)
                return st; /* same CA for the whole cluster: no use elsewhere */
            if (st != KMS_OK) {
                mark(s, idx[k], 0);
                last = KMS_E_UNREACHABLE;
                continue;
            }
            mark(s, idx[k], 1);
            st = kms_conn_roundtrip(c, req, reqlen, resp, resplen, deadline);
            if (st == KMS_OK) {
                *conn = c;
                return KMS_OK;
            }
            kms_debug("endpoint %s: call failed: %s", kms_conn_endpoint(c), kms_status_name(st));
            int again = resendable(st, c, idempotent);
            kms_conn_free(c);
            /* Not resent (and the endpoint not blamed): a refused identity
             * (TLS 1.3 reports it on the first read), a malformed or
             * oversized answer, a timeout, a request that is not idempotent. */
            if (!again)
                return st;
            mark(s, idx[k], 0);
            last = KMS_E_IO;
        }
    }
    return last;
}

kms_status kms_slot_call(kms_slot *s, const uint8_t *req, size_t reqlen, int idempotent,
                         uint8_t **resp, size_t *resplen, kms_conn **conn)
{
    *conn = NULL;
    /* C_Login/C_Logout replace s->tls under the lock while other threads
     * call: take a reference, so the identity outlives this call. */
    pthread_mutex_lock(&s->lock);
    kms_tls *t = kms_tls_up_ref(s->tls);
    pthread_mutex_unlock(&s->lock);
    if (t == NULL)
        return KMS_E_IDENTITY;
    kms_status st = slot_call(s, t, req, reqlen, idempotent, resp, resplen, conn);
    kms_tls_free(t);
    return st;
}

void kms_slot_release(kms_slot *s, kms_conn *c, int keep)
{
    if (c == NULL)
        return;
    if (keep)
        pool_put(s, c);
    else
        kms_conn_free(c);
}

void kms_slot_set_tls(kms_slot *s, kms_tls *t)
{
    pthread_mutex_lock(&s->lock);
    kms_tls *old = s->tls;
    s->tls = t;
    pthread_mutex_unlock(&s->lock);
    kms_tls_free(old);
}

int kms_slot_has_tls(kms_slot *s)
{
    pthread_mutex_lock(&s->lock);
    int has = s->tls != NULL;
    pthread_mutex_unlock(&s->lock);
    return has;
}
