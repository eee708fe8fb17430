/*
 * audit.c - the audit trail's settings and its callers' side (audit.h):
 * the ring every KEK operation writes one fixed-size record into, the
 * refuse gate, flush and teardown, and the reset of a forked child.
 */

#include "audit_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "provider.h"
#include "secmem.h"
#include "settings.h"

/* ---- every audit of the process, for the forked child ---- */

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static envprov_audit *all_audits;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void ring_reset(envprov_audit *a)
{
    for (size_t i = 0; i < a->ncells; i++)
        a->seqs[i] = i;
    a->head = a->tail = 0;
    a->dropped = 0;
}

/* In the child only the forking thread exists: the writer is gone, and the
 * records in the ring are the parent's to write. The child starts empty and
 * starts its own writer with its first event; its chain is read again from
 * the file (the parent may have written since). */
static void atfork_child(void)
{
    pthread_mutex_init(&all_lock, NULL);
    for (envprov_audit *a = all_audits; a != NULL; a = a->next_all) {
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->wake, NULL);
        pthread_cond_init(&a->drained, NULL);
        ring_reset(a);
        a->writer_running = 0;
        a->writer_sleeping = 0;
        a->pid = (long)getpid();
        a->have_prev = 0;
        a->known_size = -1;
        a->line_seq = 0;
    }
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, atfork_child);
}

/* ---- settings ---- */

static int bad(const char *name, const char *v, const char *expected)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.100s: expected %s", name, v, expected);
    return ENVCORE_R_BAD_CONFIG;
}

static int read_choice(const envcore_settings *s, const char *name, const char *yes, const char *no,
                       int dflt, int *out)
{
    const char *v = envcore_setting(s, name);
    *out = dflt;
    if (v == NULL)
        return ENVCORE_R_OK;
    if (strcmp(v, yes) == 0)
        *out = 1;
    else if (strcmp(v, no) == 0)
        *out = 0;
    else {
        char expected[64];
        snprintf(expected, sizeof(expected), "%s or %s", yes, no);
        return bad(name, v, expected);
    }
    return ENVCORE_R_OK;
}

/* The key from audit-key: a file only its owner can read, 32..4096 bytes,
 * read into locked memory. */
static int read_key_file(envprov_audit *a, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.200s: cannot read it (%s)",
                      ENVPROV_CONF_AUDIT_KEY, path, ENVCORE_ERRNO_TEXT(e));
        return ENVCORE_R_BAD_CONFIG;
    }
    const char *why = NULL;
    if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_mode & 077)
        why = "readable or writable by group or others (chmod 600 it)";
    else if (st.st_size < AUDIT_KEY_LEN || st.st_size > 4096)
        why = "it must hold 32 to 4096 bytes (e.g. head -c 32 /dev/urandom)";
    unsigned char *buf = why == NULL ? envelope_secmem_alloc((size_t)st.st_size) : NULL;
    ssize_t got = buf != NULL ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (why == NULL && got != st.st_size)
        why = "short read";
    if (why != NULL) {
        envelope_secmem_free(buf);
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.200s: %s", ENVPROV_CONF_AUDIT_KEY, path, why);
        return ENVCORE_R_BAD_CONFIG;
    }
    /* the MAC key is a fixed-size digest of the file, so lines keyed by the
     * same file agree whatever its length */
    unsigned int n = 0;
    int ok = EVP_Digest(buf, (size_t)st.st_size, a->key, &n, a->sha256, NULL) && n == 32;
    envelope_secmem_free(buf);
    if (!ok) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "cannot hash the audit key");
        return ENVCORE_R_INTERNAL;
    }
    a->key_from_file = 1;
    return ENVCORE_R_OK;
}

/* The key's public name: 8 bytes of SHA-256("envelope audit key id" || key). */
static int make_key_id(envprov_audit *a)
{
    static const char dom[] = "envelope audit key id";
    unsigned char h[32];
    unsigned int n = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestInit_ex(m, a->sha256, NULL) &&
             EVP_DigestUpdate(m, dom, sizeof(dom) - 1) &&
             EVP_DigestUpdate(m, a->key, AUDIT_KEY_LEN) && EVP_DigestFinal_ex(m, h, &n);
    EVP_MD_CTX_free(m);
    if (!ok)
        return 0;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        a->key_id[2 * i] = hex[h[i] >> 4];
        a->key_id[2 * i + 1] = hex[h[i] & 15];
    }
    a->key_id[16] = '\0';
    return 1;
}

static int start_writer(envprov_audit *a)
{
    pthread_mutex_lock(&a->lock);
    int ok = a->writer_running;
    if (!ok) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        ok = pthread_create(&a->writer, &attr, envprov_audit_writer_main, a) == 0;
        pthread_attr_destroy(&attr);
        if (ok)
            __atomic_store_n(&a->writer_running, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

static envprov_audit *audit_new(void)
{
    envprov_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->fd = -1;
    a->known_size = -1;
    a->ncells = AUDIT_RING_CELLS;
    a->map_len = a->ncells * sizeof(audit_rec) + a->ncells * sizeof(uint64_t) +
                 AUDIT_MEMO * sizeof(audit_memo);
    void *m = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(a);
        return NULL;
    }
    /* AADs (hashes of contexts) and references: nothing for a core dump */
    (void)madvise(m, a->map_len, MADV_DONTDUMP);
    a->cells = m;
    a->seqs = (uint64_t *)(void *)((char *)m + a->ncells * sizeof(audit_rec));
    a->memo = (audit_memo *)(void *)((char *)a->seqs + a->ncells * sizeof(uint64_t));
    ring_reset(a);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->drained, NULL);
    a->key = envelope_secmem_alloc(AUDIT_KEY_LEN);
    if (a->key == NULL) {
        munmap(m, a->map_len);
        free(a);
        return NULL;
    }
    return a;
}

int envprov_audit_config(envprov_ctx *pc)
{
    const envcore_settings *s = pc->settings;
    const char *log = envcore_setting(s, ENVPROV_CONF_AUDIT_LOG);
    int fsync_every = 0, refuse = 1, drop = 0;
    int r = read_choice(s, ENVPROV_CONF_AUDIT_FSYNC, "every", "none", 0, &fsync_every);
    if (r == ENVCORE_R_OK)
        r = read_choice(s, ENVPROV_CONF_AUDIT_FAILURE, "refuse", "warn", 1, &refuse);
    if (r == ENVCORE_R_OK)
        r = read_choice(s, ENVPROV_CONF_AUDIT_OVERFLOW, "drop", "block", 0, &drop);
    if (r != ENVCORE_R_OK)
        return r;
    const char *keyfile = envcore_setting(s, ENVPROV_CONF_AUDIT_KEY);
    int sink = 0;
    if (log == NULL || strcmp(log, "off") == 0) {
        if (keyfile != NULL || envcore_setting(s, ENVPROV_CONF_AUDIT_FSYNC) != NULL)
            return bad(ENVPROV_CONF_AUDIT_LOG, log ? log : "(unset)",
                       "file:PATH or syslog, since other audit-* settings are set");
        return ENVCORE_R_OK;
    }
    if (strcmp(log, "syslog") == 0)
        sink = AUDIT_SINK_SYSLOG;
    else if (strncmp(log, "file:", 5) == 0 && log[5] == '/')
        sink = AUDIT_SINK_FILE;
    else
        return bad(ENVPROV_CONF_AUDIT_LOG, log, "file:/ABSOLUTE/PATH, syslog or off");
    envprov_audit *a = audit_new();
    if (a == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "no memory for the audit ring");
        return ENVCORE_R_INTERNAL;
    }
    a->sink = sink;
    a->fsync_every = fsync_every;
    a->refuse = refuse;
    a->drop_on_full = drop;
    a->pid = (long)getpid();
    a->uid = (unsigned long)getuid();
    if (gethostname(a->host, sizeof(a->host) - 1) != 0)
        strcpy(a->host, "unknown");
    snprintf(a->prog, sizeof(a->prog), "%s", program_invocation_short_name);
    a->libctx = pc->swctx;
    if ((sink == AUDIT_SINK_FILE && (a->path = strdup(log + 5)) == NULL) ||
        (a->sha256 = EVP_MD_fetch(a->libctx, "SHA2-256", NULL)) == NULL)
        r = ENVCORE_R_INTERNAL;
    if (r == ENVCORE_R_OK && keyfile != NULL)
        r = read_key_file(a, keyfile);
    else if (r == ENVCORE_R_OK && RAND_priv_bytes_ex(pc->swctx, a->key, AUDIT_KEY_LEN, 0) != 1)
        r = ENVCORE_R_INTERNAL;
    if (r == ENVCORE_R_OK && RAND_bytes_ex(pc->swctx, a->chain_seed, sizeof(a->chain_seed), 0) != 1)
        r = ENVCORE_R_INTERNAL;
    if (r == ENVCORE_R_OK && (!make_key_id(a) || !envprov_audit_writer_init(a)))
        r = ENVCORE_R_INTERNAL;
    if (r != ENVCORE_R_OK) {
        if (r == ENVCORE_R_INTERNAL)
            ENVCORE_RAISE(r, "cannot set up the audit trail");
        envprov_audit_free(a);
        return r;
    }
    /* a sink that cannot be opened now is the failure state from the start:
     * with refuse, no key operation succeeds (envprov_audit_gate) */
    if (sink == AUDIT_SINK_FILE)
        (void)envprov_audit_open_sink(a);
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&all_lock);
    a->next_all = all_audits;
    all_audits = a;
    pthread_mutex_unlock(&all_lock);
    (void)start_writer(a); /* if it cannot start now, the first event tries again */
    pc->audit = a;
    return ENVCORE_R_OK;
}

/* ---- the callers' side ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void envprov_audit_begin(const envprov_audit *a, envprov_audit_span *s)
{
    s->t0 = a != NULL ? now_ns() : 0;
}

int envprov_audit_gate(envprov_audit *a)
{
    if (a == NULL || !__atomic_load_n(&a->sink_failed, __ATOMIC_ACQUIRE))
        return ENVCORE_R_OK;
    if (!a->refuse) {
        if (!__atomic_exchange_n(&a->warned, 1, __ATOMIC_ACQ_REL)) {
            syslog(LOG_AUTHPRIV | LOG_WARNING,
                   "envelope: audit log unavailable, key operations continue "
                   "(audit-failure = warn): %s",
                   a->fail_msg);
            fprintf(stderr,
                    "envelope: warning: audit log unavailable, key operations continue "
                    "(audit-failure = warn): %s\n",
                    a->fail_msg);
        }
        return ENVCORE_R_OK;
    }
    ENVCORE_RAISE(ENVCORE_R_AUDIT_UNAVAILABLE,
                  "refused: the audit log cannot be written (%s), and audit-failure = refuse "
                  "releases no key without its audit line; fix the log or set "
                  "audit-failure = warn (docs/AUDIT.md)",
                  a->fail_msg);
    return ENVCORE_R_AUDIT_UNAVAILABLE;
}

static void wake_writer(envprov_audit *a)
{
    pthread_mutex_lock(&a->lock);
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

/* A cell for one record, or NULL when the ring is full and audit-overflow
 * = drop (counted; the writer says how many in a line of its own). */
static audit_rec *claim(envprov_audit *a, uint64_t *posp)
{
    uint64_t pos = __atomic_load_n(&a->head, __ATOMIC_RELAXED);
    for (;;) {
        uint64_t seq = __atomic_load_n(&a->seqs[pos & (a->ncells - 1)], __ATOMIC_ACQUIRE);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (__atomic_compare_exchange_n(&a->head, &pos, pos + 1, 1, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
                *posp = pos;
                return &a->cells[pos & (a->ncells - 1)];
            }
        } else if (dif < 0) { /* full */
            if (a->drop_on_full) {
                __atomic_fetch_add(&a->dropped, 1, __ATOMIC_RELAXED);
                wake_writer(a);
                return NULL;
            }
            if (!__atomic_load_n(&a->writer_running, __ATOMIC_ACQUIRE) && !start_writer(a)) {
                __atomic_fetch_add(&a->dropped, 1, __ATOMIC_RELAXED);
                return NULL; /* no writer can ever make room: counted, not lost silently */
            }
            wake_writer(a);
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
            pos = __atomic_load_n(&a->head, __ATOMIC_RELAXED);
        } else {
            pos = __atomic_load_n(&a->head, __ATOMIC_RELAXED);
        }
    }
}

static void publish(envprov_audit *a, uint64_t pos)
{
    __atomic_store_n(&a->seqs[pos & (a->ncells - 1)], pos + 1, __ATOMIC_RELEASE);
    if (__atomic_load_n(&a->writer_sleeping, __ATOMIC_RELAXED))
        wake_writer(a);
}

static void fill_common(envprov_audit *a, audit_rec *c, const envprov_audit_span *s,
                        envprov_audit_op op, int result)
{
    uint64_t end = now_ns();
    c->t_ns = s != NULL && s->t0 != 0 ? s->t0 : end;
    c->lat_ns = end > c->t_ns ? end - c->t_ns : 0;
    c->op = (uint8_t)op;
    c->result = result;
    if (!__atomic_load_n(&a->writer_running, __ATOMIC_ACQUIRE))
        (void)start_writer(a); /* first event of a forked child */
}

static void put_uri(audit_rec *c, const char *uri)
{
    size_t n = uri != NULL ? strlen(uri) : 0;
    c->uri_cut = n > AUDIT_URI_MAX;
    if (n > AUDIT_URI_MAX)
        n = AUDIT_URI_MAX;
    memcpy(c->uri, uri != NULL ? uri : "", n);
    c->urilen = (uint16_t)n;
}

void envprov_audit_event(envprov_audit *a, const envprov_audit_span *s, envprov_audit_op op,
                         const envkey *k, const unsigned char *aad, size_t aadlen, int result,
                         envprov_audit_cache cache, uint64_t n1, uint64_t n2, uint64_t n3)
{
    if (a == NULL)
        return;
    uint64_t pos;
    audit_rec *c = claim(a, &pos);
    if (c == NULL)
        return;
    fill_common(a, c, s, op, result);
    c->cache = (uint8_t)cache;
    c->n1 = n1;
    c->n2 = n2;
    c->n3 = n3;
    c->backend = k != NULL && k->ops != NULL ? k->ops->name : NULL;
    put_uri(c, k != NULL ? k->uri : NULL);
    c->aad_flags = 0;
    if (aad == NULL || aadlen == 0) {
        c->aadlen = 0;
    } else if (aadlen <= AUDIT_AAD_INLINE) {
        memcpy(c->aad, aad, aadlen);
        c->aadlen = (uint16_t)aadlen;
    } else {
        /* rare (libenvelope's AADs are 32 bytes): the caller pays one hash */
        unsigned int n = 0;
        if (!EVP_Digest(aad, aadlen, c->aad, &n, a->sha256, NULL))
            n = 0;
        c->aadlen = (uint16_t)n;
        c->aad_flags = AUDIT_AAD_DIGEST;
    }
    publish(a, pos);
}

void envprov_audit_event_uri(envprov_audit *a, const envprov_audit_span *s, envprov_audit_op op,
                             const char *uri, const char *backend, int result)
{
    if (a == NULL)
        return;
    uint64_t pos;
    audit_rec *c = claim(a, &pos);
    if (c == NULL)
        return;
    fill_common(a, c, s, op, result);
    c->cache = ENVPROV_AUDIT_CACHE_NA;
    c->n1 = c->n2 = c->n3 = 0;
    c->backend = backend;
    put_uri(c, uri);
    c->aadlen = 0;
    c->aad_flags = 0;
    publish(a, pos);
}

void envprov_audit_flush(envprov_audit *a)
{
    if (a == NULL)
        return;
    uint64_t target = __atomic_load_n(&a->head, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&a->lock);
    while (a->writer_running && __atomic_load_n(&a->tail, __ATOMIC_ACQUIRE) < target) {
        pthread_cond_signal(&a->wake);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&a->drained, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
}

void envprov_audit_free(envprov_audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&all_lock);
    for (envprov_audit **p = &all_audits; *p != NULL; p = &(*p)->next_all)
        if (*p == a) {
            *p = a->next_all;
            break;
        }
    pthread_mutex_unlock(&all_lock);
    /* the writer drains the ring before it stops: every event recorded
     * before teardown is written (or counted lost, if the sink fails) */
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    int running = a->writer_running;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    if (running)
        pthread_join(a->writer, NULL);
    envprov_audit_writer_free(a);
    envelope_secmem_free(a->key);
    OPENSSL_cleanse(a->cells, a->map_len);
    munmap(a->cells, a->map_len);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->drained);
    pthread_mutex_destroy(&a->lock);
    free(a->path);
    free(a);
}
