/*
 * aws_refresh.c - the credential holders and their refresher thread
 * (aws_refresh.h).
 *
 * One mutex guards every holder and the thread's state; it is held only to
 * look at or swap a pointer and a counter, never across a fetch.
 */
#include "aws_refresh.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kms_log.h"

#define REFRESH_RETRY_S 5
#define REFRESH_AHEAD_MAX_S 300
#define USABLE_MARGIN_S 10
#define IDLE_WAKE_S 60

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* to the thread */
    pthread_cond_t done; /* to waiting calls */
    aws_cred_holder *holders[KMS_REFRESH_MAX];
    pthread_t thread;
    pid_t thread_pid; /* 0: no thread in this process */
    int stop;
} g_ref = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .wake = PTHREAD_COND_INITIALIZER,
           .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t ref_once = PTHREAD_ONCE_INIT;

static void ref_prepare(void)
{
    pthread_mutex_lock(&g_ref.lock);
}

static void ref_parent(void)
{
    pthread_mutex_unlock(&g_ref.lock);
}

static void ref_child(void)
{
    /* The thread did not come along; the next acquire starts one. */
    g_ref.thread_pid = 0;
    pthread_mutex_unlock(&g_ref.lock);
}

static void ref_atfork(void)
{
    if (pthread_atfork(ref_prepare, ref_parent, ref_child) != 0)
        kms_debug("aws: pthread_atfork failed: a fork during a refresh may deadlock the child");
}

static int usable(const aws_creds *c, time_t now)
{
    return c != NULL && (c->expires == 0 || now < c->expires - USABLE_MARGIN_S);
}

static time_t refresh_at(const aws_creds *c)
{
    time_t life = c->expires - c->fetched;
    time_t ahead = life / 2 < REFRESH_AHEAD_MAX_S ? life / 2 : REFRESH_AHEAD_MAX_S;
    return c->expires - (ahead > 0 ? ahead : 0);
}

/* Under the lock: when h next needs the thread (0: now, -1: never). */
static time_t due(const aws_cred_holder *h, time_t now)
{
    if (h->cur == NULL && !h->want)
        return -1;
    if (h->want || h->cur == NULL || !usable(h->cur, now))
        return h->retry_at > now ? h->retry_at : 0;
    if (h->cur->expires == 0)
        return -1;
    time_t at = refresh_at(h->cur);
    if (h->retry_at > at)
        at = h->retry_at;
    return at <= now ? 0 : at;
}

static void drop(aws_creds *c)
{
    if (c != NULL && --c->refs == 0)
        aws_creds_free(c);
}

static void *refresher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_ref.lock);
    while (!g_ref.stop) {
        time_t now = time(NULL), next = now + IDLE_WAKE_S;
        aws_cred_holder *h = NULL;
        for (size_t i = 0; i < KMS_REFRESH_MAX && h == NULL; i++) {
            aws_cred_holder *x = g_ref.holders[i];
            time_t d = x != NULL ? due(x, now) : -1;
            if (d == 0)
                h = x;
            else if (d > 0 && d < next)
                next = d;
        }
        if (h == NULL) {
            struct timespec ts = {next, 0};
            pthread_cond_timedwait(&g_ref.wake, &g_ref.lock, &ts);
            continue;
        }
        aws_chain_opts o = {h->profile, h->region, h->ca_file, h->timeout_ms};
        char err[512];
        err[0] = '\0';
        pthread_mutex_unlock(&g_ref.lock);
        aws_creds *c = aws_chain_resolve(&o, err, sizeof(err));
        pthread_mutex_lock(&g_ref.lock);
        if (!h->registered) { /* cleaned up meanwhile (cannot happen before shutdown) */
            if (c != NULL)
                aws_creds_free(c);
            continue;
        }
        h->attempts++;
        h->want = 0;
        if (c != NULL) {
            drop(h->cur);
            h->cur = c;
            h->retry_at = 0;
            h->fetches++;
            h->error[0] = '\0';
            kms_debug("aws: credentials from %s (access key %.4s..., %s)",
                      aws_cred_source_name(c->source), c->access_key_id,
                      c->expires != 0 ? "temporary" : "long-term");
        } else {
            h->retry_at = time(NULL) + REFRESH_RETRY_S;
            snprintf(h->error, sizeof(h->error), "%s", err);
            kms_debug("aws: credentials: %s", err);
        }
        pthread_cond_broadcast(&g_ref.done);
    }
    pthread_mutex_unlock(&g_ref.lock);
    return NULL;
}

/* Under the lock. */
static int ensure_thread(void)
{
    if (g_ref.thread_pid == getpid())
        return 1;
    g_ref.stop = 0;
    if (pthread_create(&g_ref.thread, NULL, refresher, NULL) != 0)
        return 0;
    g_ref.thread_pid = getpid();
    return 1;
}

void aws_cred_holder_init(aws_cred_holder *h, const aws_slot_cfg *cfg, long timeout_ms)
{
    pthread_once(&ref_once, ref_atfork);
    memset(h, 0, sizeof(*h));
    snprintf(h->profile, sizeof(h->profile), "%s", cfg->profile);
    snprintf(h->region, sizeof(h->region), "%s", cfg->region);
    snprintf(h->ca_file, sizeof(h->ca_file), "%s", cfg->ca_file);
    h->timeout_ms = timeout_ms;
    pthread_mutex_lock(&g_ref.lock);
    for (size_t i = 0; i < KMS_REFRESH_MAX; i++)
        if (g_ref.holders[i] == NULL) {
            g_ref.holders[i] = h;
            h->registered = 1;
            break;
        }
    pthread_mutex_unlock(&g_ref.lock);
}

void aws_cred_holder_cleanup(aws_cred_holder *h)
{
    pthread_mutex_lock(&g_ref.lock);
    for (size_t i = 0; i < KMS_REFRESH_MAX; i++)
        if (g_ref.holders[i] == h)
            g_ref.holders[i] = NULL;
    h->registered = 0;
    drop(h->cur);
    h->cur = NULL;
    pthread_mutex_unlock(&g_ref.lock);
}

aws_creds *aws_cred_acquire(aws_cred_holder *h, long timeout_ms, char *err, size_t errlen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    aws_creds *c = NULL;
    pthread_mutex_lock(&g_ref.lock);
    if (!h->registered) {
        snprintf(err, errlen, "more AWS slots than the refresher holds (%d)", KMS_REFRESH_MAX);
    } else if (usable(h->cur, time(NULL))) {
        c = h->cur;
    } else if (!ensure_thread()) {
        snprintf(err, errlen, "cannot start the credential refresher thread");
    } else {
        unsigned long seen = h->attempts;
        h->want = 1;
        pthread_cond_signal(&g_ref.wake);
        int rc = 0;
        while (h->attempts == seen && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&g_ref.done, &g_ref.lock, &deadline);
        if (usable(h->cur, time(NULL)))
            c = h->cur;
        else if (h->attempts == seen)
            snprintf(err, errlen, "no AWS credentials within %ld ms (the chain is still trying)",
                     timeout_ms);
        else
            snprintf(err, errlen, "%s", h->error);
    }
    if (c != NULL)
        c->refs++;
    pthread_mutex_unlock(&g_ref.lock);
    return c;
}

void aws_cred_release(aws_cred_holder *h, aws_creds *c)
{
    (void)h;
    if (c == NULL)
        return;
    pthread_mutex_lock(&g_ref.lock);
    drop(c);
    pthread_mutex_unlock(&g_ref.lock);
}

void aws_cred_invalidate(aws_cred_holder *h, const aws_creds *c)
{
    pthread_mutex_lock(&g_ref.lock);
    if (h->cur == c && c != NULL) { /* not if a refresh already replaced it */
        drop(h->cur);
        h->cur = NULL;
        h->want = 1;
        h->retry_at = 0;
        pthread_cond_signal(&g_ref.wake);
    }
    pthread_mutex_unlock(&g_ref.lock);
}

void aws_refresh_shutdown(void)
{
    pthread_mutex_lock(&g_ref.lock);
    int mine = g_ref.thread_pid == getpid();
    g_ref.stop = 1;
    pthread_cond_broadcast(&g_ref.wake);
    pthread_mutex_unlock(&g_ref.lock);
    if (mine)
        pthread_join(g_ref.thread, NULL);
    pthread_mutex_lock(&g_ref.lock);
    g_ref.thread_pid = 0;
    pthread_mutex_unlock(&g_ref.lock);
}
