/*
 * kms_log.c - debug log, see kms_log.h.
 */
#include "kms_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_fp;

static void log_open(void)
{
    /* secure_getenv: a setuid or setgid program never opens a file
     * its invoker names. The log is created 0600 and never through a
     * symlink. */
    const char *v = secure_getenv("ENVELOPE_KMS_DEBUG");
    if (v == NULL || *v == 0 || strcmp(v, "0") == 0)
        return;
    if (strncmp(v, "file:", 5) == 0) {
        int fd = open(v + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        log_fp = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (fd >= 0 && log_fp == NULL)
            close(fd);
    } else {
        log_fp = stderr;
    }
}

int kms_debug_enabled(void)
{
    pthread_once(&log_once, log_open);
    return log_fp != NULL;
}

void kms_debug(const char *fmt, ...)
{
    if (!kms_debug_enabled())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&log_lock);
    fprintf(log_fp, "kms-bridge[%ld] %ld.%03ld ", (long)getpid(), (long)ts.tv_sec,
            ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log_fp, fmt, ap);
    va_end(ap);
    fputc('\n', log_fp);
    fflush(log_fp);
    pthread_mutex_unlock(&log_lock);
}

/* Logs the newest error only: the caller brackets its libssl calls with
 * ERR_set_mark/ERR_pop_to_mark, so the host program's queue is untouched. */
void kms_debug_openssl(const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];
    if (e != 0 && kms_debug_enabled()) {
        ERR_error_string_n(e, buf, sizeof(buf));
        kms_debug("%s: %s", what, buf);
    }
}
