/*
 * alarm.c - unwrap-rate alarms (alarm.h): the setting, the per-KEK window
 * table (in this process's memory, or in the shared alarm-state file), and
 * the alert lines.
 */

#include "alarm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "audit_line.h"
#include "provider.h"

#define BUCKETS 64
#define SLOTS 256
#define STATE_MAGIC "ENVALRM1"

typedef struct {
    unsigned char id[16]; /* SHA-256 of the KEK's identity, cut; all zero: free */
    uint32_t alarmed;
    uint32_t pad;
    uint64_t epoch[BUCKETS]; /* bucket i counts epoch[i] (now_ms / bucket_ms) */
    uint32_t count[BUCKETS];
} alarm_slot;

typedef struct {
    char magic[8];
    uint64_t window_ms; /* a file is used by one window size only */
    uint64_t slots;
    uint64_t pad[5];
    alarm_slot slot[SLOTS];
} alarm_table;

struct envprov_alarm {
    uint64_t limit, window_ms;
    int refuse;
    char *path; /* NULL: per process */
    int fd;
    alarm_table *t; /* the shared mapping, or our own memory */
    size_t map_len;
    pthread_mutex_t lock; /* fcntl() locks do not exclude this process's other threads */
    EVP_MD *md;
};

static int parse_rate(const char *v, uint64_t *limit, uint64_t *window_ms)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end != '/' || errno != 0 || v[0] == '-' || n == 0 || n > 1000000000ull)
        return 0;
    const char *d = end + 1;
    unsigned long long w = strtoull(d, &end, 10);
    if (end == d || errno != 0 || d[0] == '-' || w == 0)
        return 0;
    uint64_t unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else
        return 0;
    if (w > 24ull * 3600000 / unit || w * unit < BUCKETS) /* 64 ms .. 24 h */
        return 0;
    *limit = n;
    *window_ms = w * unit;
    return 1;
}

static int state_error(const char *path, const char *what, int e)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.200s: %s%s%s", ENVPROV_CONF_ALARM_STATE, path, what,
                  e ? ": " : "", e ? ENVCORE_ERRNO_TEXT(e) : "");
    return ENVCORE_R_BAD_CONFIG;
}

static int lock_file(int fd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    while (fcntl(fd, type == F_UNLCK ? F_SETLK : F_SETLKW, &fl) != 0)
        if (errno != EINTR)
            return 0;
    return 1;
}

/* The shared file: made (and sized) by the first process, under the lock. */
static int open_state(envprov_alarm *a)
{
    a->fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (a->fd < 0)
        return state_error(a->path, "cannot open it", errno);
    a->map_len = sizeof(alarm_table);
    struct stat st;
    if (!lock_file(a->fd, F_WRLCK) || fstat(a->fd, &st) != 0)
        return state_error(a->path, "cannot lock it", errno);
    int r = ENVCORE_R_OK;
    if (!S_ISREG(st.st_mode))
        r = state_error(a->path, "not a regular file", 0);
    else if (st.st_size == 0 && ftruncate(a->fd, (off_t)a->map_len) != 0)
        r = state_error(a->path, "cannot size it", errno);
    else if (st.st_size != 0 && st.st_size != (off_t)a->map_len)
        r = state_error(a->path, "not an envelope alarm-state file (wrong size)", 0);
    if (r == ENVCORE_R_OK) {
        void *m = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
        if (m == MAP_FAILED)
            r = state_error(a->path, "cannot map it", errno);
        else
            a->t = m;
    }
    if (r == ENVCORE_R_OK && st.st_size == 0) {
        memcpy(a->t->magic, STATE_MAGIC, 8);
        a->t->window_ms = a->window_ms;
        a->t->slots = SLOTS;
    } else if (r == ENVCORE_R_OK &&
               (memcmp(a->t->magic, STATE_MAGIC, 8) != 0 || a->t->slots != SLOTS)) {
        r = state_error(a->path, "not an envelope alarm-state file", 0);
    } else if (r == ENVCORE_R_OK && a->t->window_ms != a->window_ms) {
        char why[160];
        snprintf(why, sizeof(why),
                 "made for a %llu ms window, and this configuration's window is %llu ms: every "
                 "program sharing the file must use the same unwrap-alarm window",
                 (unsigned long long)a->t->window_ms, (unsigned long long)a->window_ms);
        r = state_error(a->path, why, 0);
    }
    (void)lock_file(a->fd, F_UNLCK);
    return r;
}

int envprov_alarm_config(envprov_ctx *pc)
{
    const char *v = envcore_setting(pc->settings, ENVPROV_CONF_UNWRAP_ALARM);
    const char *act = envcore_setting(pc->settings, ENVPROV_CONF_UNWRAP_ALARM_ACTION);
    const char *path = envcore_setting(pc->settings, ENVPROV_CONF_ALARM_STATE);
    if (v == NULL) {
        if (act != NULL || path != NULL) {
            ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s is set but %s is not (e.g. %s = 1000/60s)",
                          act != NULL ? ENVPROV_CONF_UNWRAP_ALARM_ACTION : ENVPROV_CONF_ALARM_STATE,
                          ENVPROV_CONF_UNWRAP_ALARM, ENVPROV_CONF_UNWRAP_ALARM);
            return ENVCORE_R_BAD_CONFIG;
        }
        return ENVCORE_R_OK;
    }
    uint64_t limit = 0, window = 0;
    if (!parse_rate(v, &limit, &window)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                      "%s = %.64s: expected COUNT/DURATION, e.g. 1000/60s (a window of 64ms to "
                      "24h: ms, s, m, h)",
                      ENVPROV_CONF_UNWRAP_ALARM, v);
        return ENVCORE_R_BAD_CONFIG;
    }
    int refuse = 0;
    if (act != NULL && strcmp(act, "refuse") == 0)
        refuse = 1;
    else if (act != NULL && strcmp(act, "log") != 0) {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.64s: expected log or refuse",
                      ENVPROV_CONF_UNWRAP_ALARM_ACTION, act);
        return ENVCORE_R_BAD_CONFIG;
    }
    if (path != NULL && path[0] != '/') {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.200s: expected an absolute path",
                      ENVPROV_CONF_ALARM_STATE, path);
        return ENVCORE_R_BAD_CONFIG;
    }
    envprov_alarm *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return ENVCORE_R_INTERNAL;
    }
    a->fd = -1;
    a->limit = limit;
    a->window_ms = window;
    a->refuse = refuse;
    pthread_mutex_init(&a->lock, NULL);
    int r = ENVCORE_R_OK;
    if ((a->md = EVP_MD_fetch(pc->swctx, "SHA2-256", NULL)) == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "no SHA-256 for the alarm table");
        r = ENVCORE_R_INTERNAL;
    } else if (path != NULL) {
        r = (a->path = strdup(path)) != NULL ? open_state(a) : ENVCORE_R_INTERNAL;
    } else if ((a->t = calloc(1, sizeof(alarm_table))) == NULL) {
        r = ENVCORE_R_INTERNAL;
    }
    if (r != ENVCORE_R_OK) {
        envprov_alarm_free(a);
        return r;
    }
    pc->alarm = a;
    return ENVCORE_R_OK;
}

void envprov_alarm_free(envprov_alarm *a)
{
    if (a == NULL)
        return;
    if (a->path != NULL && a->t != NULL)
        munmap(a->t, a->map_len);
    else
        free(a->t);
    if (a->fd >= 0)
        close(a->fd);
    EVP_MD_free(a->md);
    pthread_mutex_destroy(&a->lock);
    free(a->path);
    free(a);
}

/* A KEK's name in the table: its key id and home, never a secret. */
static int kek_id(envprov_alarm *a, const envkey *k, unsigned char id[16])
{
    static const char dom[] = "envelope unwrap alarm v1";
    unsigned char h[32];
    unsigned int n = 0;
    const char *uri = k->key_id_len == 0 && k->uri != NULL ? k->uri : "";
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestInit_ex(m, a->md, NULL) &&
             EVP_DigestUpdate(m, dom, sizeof(dom)) &&
             EVP_DigestUpdate(m, k->key_id, k->key_id_len) &&
             EVP_DigestUpdate(m, k->home_id, k->home_id_len) &&
             EVP_DigestUpdate(m, uri, strlen(uri)) && EVP_DigestFinal_ex(m, h, &n);
    EVP_MD_CTX_free(m);
    memcpy(id, h, 16);
    id[0] |= ok ? 1 : 0; /* never all zero (a free slot) */
    return ok;
}

static uint64_t window_sum(const alarm_slot *s, uint64_t now_e)
{
    uint64_t sum = 0;
    for (int i = 0; i < BUCKETS; i++)
        if (s->epoch[i] <= now_e && s->epoch[i] + BUCKETS > now_e)
            sum += s->count[i];
    return sum;
}

static alarm_slot *find_slot(alarm_table *t, const unsigned char id[16], uint64_t now_e)
{
    static const unsigned char zero[16];
    size_t h = ((size_t)id[1] << 8 | id[2]) % SLOTS;
    alarm_slot *stale = NULL;
    for (size_t i = 0; i < SLOTS; i++) {
        alarm_slot *s = &t->slot[(h + i) % SLOTS];
        if (memcmp(s->id, id, 16) == 0)
            return s;
        if (memcmp(s->id, zero, 16) == 0) {
            memcpy(s->id, id, 16);
            return s;
        }
        if (stale == NULL && !s->alarmed && window_sum(s, now_e) == 0)
            stale = s;
    }
    if (stale == NULL) /* 256 KEKs busy at once: share the home slot (counts only grow) */
        stale = &t->slot[h];
    memset(stale, 0, sizeof(*stale));
    memcpy(stale->id, id, 16);
    return stale;
}

int envprov_alarm_unwrap(envprov_ctx *pc, const envkey *k)
{
    envprov_alarm *a = pc->alarm;
    if (a == NULL)
        return ENVCORE_R_OK;
    unsigned char id[16];
    (void)kek_id(a, k, id);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* buckets of exactly window/64 (fractions of a millisecond included) */
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t now_e = now_ms * BUCKETS / a->window_ms;
    pthread_mutex_lock(&a->lock);
    int locked = a->fd < 0 || lock_file(a->fd, F_WRLCK);
    alarm_slot *s = find_slot(a->t, id, now_e);
    uint64_t sum = window_sum(s, now_e);
    int refused = a->refuse && sum >= a->limit;
    if (!refused) {
        int b = (int)(now_e % BUCKETS);
        if (s->epoch[b] != now_e) {
            s->epoch[b] = now_e;
            s->count[b] = 0;
        }
        s->count[b]++;
        sum++;
    }
    int over = refused || sum > a->limit;
    int raised = over && !s->alarmed, cleared = !over && s->alarmed;
    s->alarmed = (uint32_t)over;
    if (a->fd >= 0 && locked)
        (void)lock_file(a->fd, F_UNLCK);
    pthread_mutex_unlock(&a->lock);
    if (raised || cleared) {
        char shown[512];
        audit_strip_uri(k->uri != NULL ? k->uri : "?", k->uri != NULL ? strlen(k->uri) : 1, shown,
                        sizeof(shown));
        syslog(
            LOG_AUTHPRIV | (raised ? LOG_WARNING : LOG_NOTICE),
            "envelope: unwrap-rate alarm %s: KEK %.200s: %llu unwraps in %llu ms (limit %llu%s), "
            "pid %ld",
            raised ? "raised" : "cleared", shown, (unsigned long long)sum,
            (unsigned long long)a->window_ms, (unsigned long long)a->limit,
            a->refuse ? ", further unwraps refused" : "", (long)getpid());
        envprov_audit_event(pc->audit, NULL,
                            raised ? ENVPROV_AUDIT_OP_ALARM : ENVPROV_AUDIT_OP_ALARM_CLEAR, k, NULL,
                            0, ENVCORE_R_OK, ENVPROV_AUDIT_CACHE_NA, sum, a->limit, a->window_ms);
    }
    if (refused) {
        ENVCORE_RAISE(ENVCORE_R_UNWRAP_ALARM,
                      "refused: KEK \"%.200s\" was unwrapped %llu times in the last %llu ms, its "
                      "unwrap-alarm limit is %llu (unwrap-alarm-action = refuse); unwraps resume "
                      "as the rate falls",
                      k->uri != NULL ? k->uri : "?", (unsigned long long)sum,
                      (unsigned long long)a->window_ms, (unsigned long long)a->limit);
        return ENVCORE_R_UNWRAP_ALARM;
    }
    return ENVCORE_R_OK;
}
