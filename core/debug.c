/*
 * debug.c - the debug log every component writes (see debug.h).
 */
#include "debug.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static FILE *debug_fp;
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *debug_env = "ENVELOPE_DEBUG";
static const char *debug_tag = "envelope";

void envcore_debug_configure(const char *env, const char *tag)
{
    debug_env = env;
    debug_tag = tag;
}

/* A child is a copy of the forking thread alone: a lock another thread
 * held mid-line at fork() is made new there (stdio's own FILE locks are
 * reset by glibc's fork). */
static void debug_child(void)
{
    pthread_mutex_init(&debug_lock, NULL);
}

static void debug_init(void)
{
    /* secure_getenv: a setuid or setgid program never opens a file its
     * invoker names. The log is created 0600 and never through a symlink. */
    const char *v = secure_getenv(debug_env);
    if (v == NULL || *v == '\0' || strcmp(v, "0") == 0)
        return;
    if (strncmp(v, "file:", 5) == 0) {
        int fd = open(v + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        debug_fp = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (fd >= 0 && debug_fp == NULL)
            close(fd);
    } else {
        debug_fp = stderr;
    }
    if (debug_fp != NULL)
        (void)pthread_atfork(NULL, NULL, debug_child);
}

int envcore_debug_enabled(void)
{
    pthread_once(&debug_once, debug_init);
    return debug_fp != NULL;
}

void envcore_debug(const char *fmt, ...)
{
    if (!envcore_debug_enabled())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&debug_lock);
    fprintf(debug_fp, "%s[%ld] %ld.%03ld ", debug_tag, (long)getpid(), (long)ts.tv_sec,
            ts.tv_nsec / 1000000);
    vfprintf(debug_fp, fmt, ap);
    fputc('\n', debug_fp);
    fflush(debug_fp);
    pthread_mutex_unlock(&debug_lock);
    va_end(ap);
}
