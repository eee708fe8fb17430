/*
 * workers.c - the thread pool of the parallel frame paths (contract in
 * lib/workers.h): one lock, one queue, FIFO, no allocation after start.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <openssl/crypto.h>

#include "workers.h"

typedef struct start_arg {
    struct env_workers *w;
    size_t i;
} start_arg;

struct env_workers {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a job finished */
    env_job *head, *tail;
    int stop;
    env_work_fn fn;
    size_t n; /* threads started */
    pthread_t *tids;
    void **states;
    start_arg *args; /* read by each thread as it starts */
};

static void *worker_main(void *arg)
{
    env_workers *w = ((start_arg *)arg)->w;
    void *state = w->states[((start_arg *)arg)->i];
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->head == NULL)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        env_job *j = w->head;
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        w->fn(state, j);
        pthread_mutex_lock(&w->mu);
        j->done = 1;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void pool_release(env_workers *w)
{
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    OPENSSL_free(w->tids);
    OPENSSL_free(w->states);
    OPENSSL_free(w->args);
    OPENSSL_free(w);
}

envelope_status env_workers_new(size_t n, env_work_fn fn, void *const *states, env_workers **out,
                                envelope_err *err)
{
    *out = NULL;
    env_workers *w = OPENSSL_zalloc(sizeof(*w));
    if (w == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    w->tids = OPENSSL_zalloc(n * sizeof(*w->tids));
    w->states = OPENSSL_zalloc(n * sizeof(*w->states));
    w->args = OPENSSL_zalloc(n * sizeof(*w->args));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (w->tids == NULL || w->states == NULL || w->args == NULL) {
        pool_release(w);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    w->fn = fn;
    memcpy(w->states, states, n * sizeof(*w->states));
    /* The threads inherit a full signal mask: a SIGINT or SIGPIPE goes to
     * the caller's threads, whose handlers (the CLI's temporary-file
     * cleanup) run where the program expects them to. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (; w->n < n; w->n++) {
        w->args[w->n].w = w;
        w->args[w->n].i = w->n;
        if ((rc = pthread_create(&w->tids[w->n], NULL, worker_main, &w->args[w->n])) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        env_workers_free(w); /* joins the ones that started */
        return env_fail(err, ENVELOPE_ERR_INTERNAL,
                        "cannot start %zu worker threads (%s); ask for fewer", n, strerror(rc));
    }
    *out = w;
    return ENVELOPE_OK;
}

void env_workers_submit(env_workers *w, env_job *j)
{
    pthread_mutex_lock(&w->mu);
    j->next = NULL;
    j->done = 0;
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

int env_workers_done(env_workers *w, env_job *j)
{
    pthread_mutex_lock(&w->mu);
    int d = j->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

void env_workers_wait(env_workers *w, env_job *j)
{
    pthread_mutex_lock(&w->mu);
    while (!j->done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void env_workers_free(env_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->head = w->tail = NULL; /* queued jobs are dropped unrun */
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n; i++)
        pthread_join(w->tids[i], NULL);
    pool_release(w);
}

void env_par_geometry(size_t threads, size_t frame_size, env_par_geom *g)
{
    /* Slot buffers share a budget of 8 MiB (plaintext and ciphertext of
     * each slot), so that peak memory stays flat whatever the thread
     * count; a slot is at most 1 MiB of plaintext (the size of one read
     * and one write), and at least one frame. */
    const size_t budget = (size_t)8 << 20, most = (size_t)1 << 20;
    g->nslots = threads + 2;
    size_t per = budget / g->nslots / (2 * frame_size + ENV_TAG_LEN + 5);
    size_t cap = most / frame_size;
    g->kframes = per < 1 ? 1 : per > cap ? (cap < 1 ? 1 : cap) : per;
}
