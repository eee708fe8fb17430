/*
 * errors.c - the one point where errors cross into OpenSSL's error queue,
 * and the debug log.
 */
#include "errors.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_dispatch.h>
#include <openssl/err.h>

#include "provider.h"

static const OSSL_CORE_HANDLE *err_handle;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;

void envprov_errors_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in)
{
    err_handle = handle;
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
}

void envprov_raise(int reason, const char *file, int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (envprov_debug_enabled()) {
        char msg[512];
        va_list aq;
        va_copy(aq, ap);
        vsnprintf(msg, sizeof(msg), fmt, aq);
        va_end(aq);
        envprov_debug("error %d at %s:%d (%s): %s", reason, file, line, func, msg);
    }
    if (c_new_error != NULL && c_set_error_debug != NULL && c_vset_error != NULL) {
        c_new_error(err_handle);
        c_set_error_debug(err_handle, file, line, func);
        c_vset_error(err_handle, (uint32_t)reason, fmt, ap);
    } else {
        /* Not loaded as a provider (unit tests link the code directly). */
        ERR_new();
        ERR_set_debug(file, line, func);
        ERR_vset_error(ERR_LIB_USER, reason, fmt, ap);
    }
    va_end(ap);
}

static const OSSL_ITEM reason_strings[] = {
    {ENVPROV_R_INTERNAL, "internal error"},
    {ENVPROV_R_BAD_ARGUMENT, "bad argument"},
    {ENVPROV_R_BAD_CONFIG, "bad configuration"},
    {ENVPROV_R_BAD_URI, "bad URI"},
    {ENVPROV_R_OBJECT_NOT_FOUND, "object not found"},
    {ENVPROV_R_PIN_INCORRECT, "PIN incorrect"},
    {ENVPROV_R_PIN_LOCKED, "PIN locked"},
    {ENVPROV_R_PIN_MISSING, "PIN missing"},
    {ENVPROV_R_TOKEN_NOT_PRESENT, "token not present"},
    {ENVPROV_R_MECHANISM_NOT_SUPPORTED, "mechanism not supported by token"},
    {ENVPROV_R_AUTHENTICATION_FAILED, "authentication failed"},
    {ENVPROV_R_BACKEND_UNAVAILABLE, "backend unavailable"},
    {ENVPROV_R_BACKEND_ERROR, "backend error"},
    {ENVPROV_R_POLICY_REFUSED, "refused by policy"},
    {ENVPROV_R_KEY_NOT_SAFE, "key not safe as a KEK"},
    {ENVPROV_R_BAD_BLOB, "malformed wrapped key"},
    {ENVPROV_R_NOT_SUPPORTED, "operation not supported for this key"},
    {ENVPROV_R_BUFFER_TOO_SMALL, "buffer too small"},
    {ENVPROV_R_PCR_POLICY_NOT_SATISFIED, "PCR policy not satisfied"},
    {ENVPROV_R_ACCESS_DENIED, "access denied"},
    {ENVPROV_R_REFERENCE_NOT_ALLOWED, "reference not allowed from a message"},
    {0, NULL},
};

const void *envprov_reason_strings(void)
{
    return reason_strings;
}

/* ---- debug log ---- */

static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static FILE *debug_fp;
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;

static void debug_init(void)
{
    /* secure_getenv: a setuid or setgid program never opens a file
     * its invoker names. The log is created 0600 and never through a
     * symlink. */
    const char *v = secure_getenv("ENVELOPE_DEBUG");
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
}

int envprov_debug_enabled(void)
{
    pthread_once(&debug_once, debug_init);
    return debug_fp != NULL;
}

void envprov_debug(const char *fmt, ...)
{
    if (!envprov_debug_enabled())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&debug_lock);
    fprintf(debug_fp, "envelope[%ld] %ld.%03ld ", (long)getpid(), (long)ts.tv_sec,
            ts.tv_nsec / 1000000);
    vfprintf(debug_fp, fmt, ap);
    fputc('\n', debug_fp);
    fflush(debug_fp);
    pthread_mutex_unlock(&debug_lock);
    va_end(ap);
}
