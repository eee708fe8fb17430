/*
 * audit_writer.c - the audit trail's writer thread (audit_internal.h): it
 * takes records from the ring in order, turns each into one line
 * (audit_line.h), chains the lines and appends them to the sink.
 *
 * One chain per file, whatever the number of processes appending to it: a
 * batch is written under an exclusive fcntl() lock on the whole file, and
 * the writer links its first line to the file's last line, read again
 * whenever the file's size is not the one its own last write left (another
 * process wrote in between). fcntl() locks belong to the process and the
 * kernel drops them when it dies, so a crash never leaves the file locked.
 * Every batch is one write() of whole lines on an O_APPEND descriptor, so
 * a reader that ignores the lock still never sees lines interleaved.
 *
 * syslog: one chain per process (its chain id in every line), one syslog()
 * call per line.
 */

#include "audit_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define TAIL_MAX (64u * 1024) /* an audit line is far shorter (references are cut at 512) */

static const char *const op_names[] = {
    [ENVPROV_AUDIT_OP_WRAP] = "wrap",       [ENVPROV_AUDIT_OP_UNWRAP] = "unwrap",
    [ENVPROV_AUDIT_OP_REWRAP] = "rewrap",   [ENVPROV_AUDIT_OP_KEK_CREATE] = "kek-create",
    [ENVPROV_AUDIT_OP_ALARM] = "alarm",     [ENVPROV_AUDIT_OP_ALARM_CLEAR] = "alarm-clear",
    [ENVPROV_AUDIT_OP_DROPPED] = "dropped", [ENVPROV_AUDIT_OP_SINK] = "sink-recovered",
};
static const char *const cache_names[] = {
    [ENVPROV_AUDIT_CACHE_NA] = NULL,       [ENVPROV_AUDIT_CACHE_OFF] = "off",
    [ENVPROV_AUDIT_CACHE_MISS] = "miss",   [ENVPROV_AUDIT_CACHE_HIT] = "hit",
    [ENVPROV_AUDIT_CACHE_JOIN] = "join",   [ENVPROV_AUDIT_CACHE_REFRESH] = "refresh",
    [ENVPROV_AUDIT_CACHE_REUSE] = "reuse",
};

int envprov_audit_writer_init(envprov_audit *a)
{
    a->md = EVP_MD_CTX_new();
    EVP_MAC *mac = EVP_MAC_fetch(a->libctx, "HMAC", NULL);
    a->mac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA2-256",
                                                       0),
                      OSSL_PARAM_construct_end()};
    return a->sha256 != NULL && a->md != NULL && a->mac != NULL &&
           EVP_MAC_init(a->mac, a->key, AUDIT_KEY_LEN, p) == 1;
}

void envprov_audit_writer_free(envprov_audit *a)
{
    EVP_MAC_CTX_free(a->mac);
    a->mac = NULL;
    EVP_MD_CTX_free(a->md);
    a->md = NULL;
    EVP_MD_free(a->sha256);
    a->sha256 = NULL;
    free(a->out.p);
    memset(&a->out, 0, sizeof(a->out));
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

void envprov_audit_latch_failure(envprov_audit *a, const char *what, int err)
{
    char msg[sizeof(a->fail_msg)];
    snprintf(msg, sizeof(msg), "%s %.150s: %s", what, a->path != NULL ? a->path : "syslog",
             ENVCORE_ERRNO_TEXT(err));
    if (!__atomic_load_n(&a->sink_failed, __ATOMIC_ACQUIRE)) {
        memcpy(a->fail_msg, msg, sizeof(msg));
        __atomic_store_n(&a->sink_failed, 1, __ATOMIC_RELEASE);
        /* said once per failure, where an operator looks */
        syslog(LOG_AUTHPRIV | LOG_ERR, "envelope: audit log failed (%s); %s", msg,
               a->refuse ? "key operations are refused until it can be written"
                         : "key operations continue (audit-failure = warn)");
    }
}

int envprov_audit_open_sink(envprov_audit *a)
{
    if (a->sink != AUDIT_SINK_FILE || a->fd >= 0)
        return 1;
    a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (a->fd < 0) {
        envprov_audit_latch_failure(a, "cannot open", errno);
        return 0;
    }
    struct stat st;
    if (fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(a->fd);
        a->fd = -1;
        envprov_audit_latch_failure(a, "not a regular file:", EINVAL);
        return 0;
    }
    return 1;
}

static void new_chain(envprov_audit *a)
{
    unsigned char id[32];
    static const char hex[] = "0123456789abcdef";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t in[4] = {(uint64_t)a->pid, a->chain_ctr++, (uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec};
    unsigned int n = 0;
    if (EVP_DigestInit_ex(a->md, a->sha256, NULL) != 1 ||
        EVP_DigestUpdate(a->md, a->chain_seed, sizeof(a->chain_seed)) != 1 ||
        EVP_DigestUpdate(a->md, in, sizeof(in)) != 1 || EVP_DigestFinal_ex(a->md, id, &n) != 1)
        memcpy(id, in, sizeof(in) < sizeof(id) ? sizeof(in) : sizeof(id));
    for (size_t i = 0; i < AUDIT_CHAIN_HEX / 2; i++) {
        a->chain[2 * i] = hex[id[i] >> 4];
        a->chain[2 * i + 1] = hex[id[i] & 15];
    }
    a->chain[AUDIT_CHAIN_HEX] = '\0';
    memset(a->prev, 0, sizeof(a->prev));
    a->have_prev = 1;
}

static int unhex(const char *h, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = h[2 * i + (size_t)j];
            v = v * 16 + (c >= 'a' ? c - 'a' + 10 : c - '0');
        }
        out[i] = (unsigned char)v;
    }
    return 1;
}

/* Under the file lock: link to the file's last line (the chain goes on),
 * or start a chain when the file is empty or its last line is not an
 * audit line (torn by a crash, or not ours: `audit verify` reports it). */
static int learn_prev(envprov_audit *a, off_t size)
{
    if (a->have_prev && size == a->known_size)
        return 1; /* nobody wrote since our last batch */
    if (size == 0) {
        new_chain(a);
        return 1;
    }
    size_t want = size > (off_t)TAIL_MAX ? TAIL_MAX : (size_t)size;
    char *t = malloc(want + 1);
    if (t == NULL)
        return 0;
    ssize_t got = pread(a->fd, t, want, size - (off_t)want);
    if (got != (ssize_t)want) {
        free(t);
        return 0;
    }
    size_t end = want;
    int torn = t[end - 1] != '\n';
    if (!torn)
        end--; /* the last line's bytes are t[start..end) */
    size_t start = end;
    while (start > 0 && t[start - 1] != '\n')
        start--;
    const char *h = NULL, *c = NULL;
    if (!torn && (start > 0 || want == (size_t)size)) {
        h = audit_line_hash(t + start, end - start);
        c = audit_line_chain(t + start, end - start);
    }
    if (h != NULL && c != NULL) {
        unhex(h, a->prev, 32);
        memcpy(a->chain, c, AUDIT_CHAIN_HEX);
        a->chain[AUDIT_CHAIN_HEX] = '\0';
        a->have_prev = 1;
    } else {
        new_chain(a);
    }
    free(t);
    /* a torn last line gets its end, so that ours start on a line of their own */
    if (torn && write(a->fd, "\n", 1) != 1)
        return 0;
    return 1;
}

/* The context's keyed hash: HMAC-SHA-256(log key, AAD), 128 bits. The
 * writer remembers the last AADs it keyed (most programs use few). */
static void ctx_hash(envprov_audit *a, const audit_rec *r, unsigned char out[16])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < r->aadlen; i++)
        h = (h ^ r->aad[i]) * 1099511628211ull;
    audit_memo *m = &a->memo[h % AUDIT_MEMO];
    if (m->used && m->len == r->aadlen && m->flags == r->aad_flags &&
        memcmp(m->aad, r->aad, r->aadlen) == 0) {
        memcpy(out, m->mac, 16);
        return;
    }
    unsigned char mac[32];
    size_t n = 0;
    /* a digest-form AAD is keyed with its own domain byte: never equal to
     * the hash of an AAD that happens to be those 32 bytes */
    unsigned char dom = r->aad_flags & AUDIT_AAD_DIGEST ? 1 : 0;
    if (EVP_MAC_init(a->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(a->mac, &dom, 1) != 1 ||
        EVP_MAC_update(a->mac, r->aad, r->aadlen) != 1 ||
        EVP_MAC_final(a->mac, mac, &n, sizeof(mac)) != 1 || n != 32) {
        memset(out, 0, 16);
        return;
    }
    memcpy(out, mac, 16);
    memcpy(m->mac, mac, 16);
    memcpy(m->aad, r->aad, r->aadlen);
    m->len = r->aadlen;
    m->flags = r->aad_flags;
    m->used = 1;
}

static void put_key(audit_buf *b, const char *k)
{
    audit_buf_put(b, ",\"", 2);
    audit_buf_str(b, k);
    audit_buf_put(b, "\":", 2);
}

/* One line for r (NULL: a line the writer makes, op/n1 given), chained. */
static void format_line(envprov_audit *a, const audit_rec *r, int op, uint64_t n1)
{
    audit_buf *b = &a->out;
    size_t start = b->len;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t t = r != NULL ? r->t_ns : (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    audit_buf_str(b, AUDIT_LINE_TAG);
    put_key(b, "time");
    audit_buf_time(b, t);
    put_key(b, "host");
    audit_buf_json(b, a->host, strlen(a->host));
    put_key(b, "pid");
    audit_buf_i64(b, a->pid);
    put_key(b, "uid");
    audit_buf_u64(b, a->uid);
    put_key(b, "prog");
    audit_buf_json(b, a->prog, strlen(a->prog));
    put_key(b, "op");
    audit_buf_json(b, op_names[op], strlen(op_names[op]));
    if (r != NULL) {
        put_key(b, "backend");
        if (r->backend != NULL)
            audit_buf_json(b, r->backend, strlen(r->backend));
        else
            audit_buf_str(b, "null");
        char uri[AUDIT_URI_MAX + 1];
        size_t n = audit_strip_uri(r->uri, r->urilen, uri, sizeof(uri));
        put_key(b, "kek");
        audit_buf_json(b, uri, n);
        if (r->uri_cut) {
            put_key(b, "kek_cut");
            audit_buf_str(b, "true");
        }
        put_key(b, "ctx");
        if (r->aadlen > 0) {
            unsigned char h[16];
            ctx_hash(a, r, h);
            audit_buf_put(b, "\"", 1);
            audit_buf_hex(b, h, sizeof(h));
            audit_buf_put(b, "\"", 1);
        } else {
            audit_buf_str(b, "null");
        }
        put_key(b, "ctx_key");
        audit_buf_json(b, a->key_id, strlen(a->key_id));
        put_key(b, "result");
        audit_buf_str(b, r->result == ENVCORE_R_OK ? "\"ok\"" : "\"error\"");
        put_key(b, "error");
        const char *cat = audit_error_category(r->result);
        if (cat != NULL) {
            audit_buf_json(b, cat, strlen(cat));
            put_key(b, "reason");
            audit_buf_i64(b, r->result);
        } else {
            audit_buf_str(b, "null");
        }
        put_key(b, "latency_us");
        audit_buf_u64(b, r->lat_ns / 1000u);
        const char *cache = r->cache < sizeof(cache_names) / sizeof(cache_names[0])
                                ? cache_names[r->cache]
                                : NULL;
        if (cache != NULL) {
            put_key(b, "cache");
            audit_buf_json(b, cache, strlen(cache));
        }
        if (op == ENVPROV_AUDIT_OP_ALARM || op == ENVPROV_AUDIT_OP_ALARM_CLEAR) {
            put_key(b, "count");
            audit_buf_u64(b, r->n1);
            put_key(b, "limit");
            audit_buf_u64(b, r->n2);
            put_key(b, "window_ms");
            audit_buf_u64(b, r->n3);
        }
    } else {
        put_key(b, "count");
        audit_buf_u64(b, n1);
    }
    put_key(b, "seq");
    audit_buf_u64(b, a->line_seq++);
    put_key(b, "chain");
    audit_buf_put(b, "\"", 1);
    audit_buf_put(b, a->chain, AUDIT_CHAIN_HEX);
    audit_buf_put(b, "\",\"prev\":\"", 10);
    audit_buf_hex(b, a->prev, 32);
    audit_buf_put(b, "\"", 1);
    if (b->failed)
        return;
    unsigned int hn = 0;
    if (EVP_DigestInit_ex(a->md, a->sha256, NULL) != 1 ||
        EVP_DigestUpdate(a->md, b->p + start, b->len - start) != 1 ||
        EVP_DigestFinal_ex(a->md, a->prev, &hn) != 1) {
        b->failed = 1;
        return;
    }
    audit_buf_put(b, ",\"hash\":\"", 9);
    audit_buf_hex(b, a->prev, 32);
    audit_buf_put(b, "\"}\n", 3);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Formats records [tail, tail+n) (and the pending counts) and writes them. */
static void write_batch(envprov_audit *a, uint64_t tail, size_t n, uint64_t dropped)
{
    a->out.len = 0;
    a->out.failed = 0;
    int locked = 0, err = 0;
    if (a->sink == AUDIT_SINK_FILE) {
        if (!envprov_audit_open_sink(a)) {
            a->lost += n;
            return;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        struct stat st;
        while (fcntl(a->fd, F_SETLKW, &fl) != 0 && errno == EINTR)
            ;
        locked = 1;
        if (fstat(a->fd, &st) != 0 || !learn_prev(a, st.st_size))
            err = errno ? errno : EIO;
    } else if (!a->have_prev) {
        new_chain(a);
    }
    if (err == 0) {
        if (dropped > 0)
            format_line(a, NULL, ENVPROV_AUDIT_OP_DROPPED, dropped);
        if (a->lost > 0)
            format_line(a, NULL, ENVPROV_AUDIT_OP_SINK, a->lost);
        for (size_t i = 0; i < n; i++) {
            const audit_rec *r = &a->cells[(tail + i) & (a->ncells - 1)];
            format_line(a, r, r->op, 0);
        }
        if (a->out.failed)
            err = ENOMEM;
    }
    if (err == 0 && a->sink == AUDIT_SINK_FILE) {
        err = write_all(a->fd, a->out.p, a->out.len);
        if (err == 0 && a->fsync_every && fdatasync(a->fd) != 0)
            err = errno;
        struct stat st;
        if (err == 0 && fstat(a->fd, &st) == 0)
            a->known_size = st.st_size;
        else
            a->known_size = -1;
    } else if (err == 0) {
        for (char *p = a->out.p; p != NULL && p < a->out.p + a->out.len;) {
            char *nl = memchr(p, '\n', (size_t)(a->out.p + a->out.len - p));
            if (nl == NULL)
                break;
            syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(nl - p), p);
            p = nl + 1;
        }
    }
    if (locked) {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        (void)fcntl(a->fd, F_SETLK, &fl);
    }
    if (err != 0) {
        /* the lines of this batch are lost: counted, said when it recovers */
        a->lost += n + (dropped > 0);
        a->have_prev = 0;
        a->known_size = -1;
        envprov_audit_latch_failure(a, "cannot write", err);
        if (a->fd >= 0) { /* opened again next time: the file may have been replaced */
            close(a->fd);
            a->fd = -1;
        }
        return;
    }
    a->lost = 0;
    if (__atomic_load_n(&a->sink_failed, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&a->warned, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&a->sink_failed, 0, __ATOMIC_RELEASE);
        syslog(LOG_AUTHPRIV | LOG_NOTICE, "envelope: audit log writable again");
    }
}

/* How many published records from tail on, at most AUDIT_BATCH_MAX. */
static size_t ready_count(envprov_audit *a, uint64_t tail)
{
    size_t n = 0;
    while (n < AUDIT_BATCH_MAX && __atomic_load_n(&a->seqs[(tail + n) & (a->ncells - 1)],
                                                  __ATOMIC_ACQUIRE) == tail + n + 1)
        n++;
    return n;
}

void *envprov_audit_writer_main(void *arg)
{
    envprov_audit *a = arg;
    for (;;) {
        uint64_t tail = a->tail;
        size_t n = ready_count(a, tail);
        uint64_t dropped = __atomic_exchange_n(&a->dropped, 0, __ATOMIC_ACQ_REL);
        if (n == 0 && dropped == 0) {
            pthread_mutex_lock(&a->lock);
            pthread_cond_broadcast(&a->drained);
            if (a->stop && __atomic_load_n(&a->head, __ATOMIC_ACQUIRE) == tail) {
                pthread_mutex_unlock(&a->lock);
                break;
            }
            __atomic_store_n(&a->writer_sleeping, 1, __ATOMIC_SEQ_CST);
            if (ready_count(a, tail) == 0 && !a->stop) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 50000000; /* a missed wake-up costs at most this */
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&a->wake, &a->lock, &ts);
            }
            __atomic_store_n(&a->writer_sleeping, 0, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&a->lock);
            continue;
        }
        write_batch(a, tail, n, dropped);
        /* the cells go back to the producers only now: they were read in place */
        for (size_t i = 0; i < n; i++) {
            audit_rec *c = &a->cells[(tail + i) & (a->ncells - 1)];
            OPENSSL_cleanse(c->aad, c->aadlen);
            __atomic_store_n(&a->seqs[(tail + i) & (a->ncells - 1)], tail + i + a->ncells,
                             __ATOMIC_RELEASE);
        }
        __atomic_store_n(&a->tail, tail + n, __ATOMIC_RELEASE);
        if (n > 0) {
            pthread_mutex_lock(&a->lock);
            pthread_cond_broadcast(&a->drained);
            pthread_mutex_unlock(&a->lock);
        }
    }
    return NULL;
}
