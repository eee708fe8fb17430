/*
 * no_tmpfile.c - FAULT INJECTOR, for tests only: an LD_PRELOAD library
 * that makes every open with O_TMPFILE fail with EOPNOTSUPP, as on a
 * filesystem without O_TMPFILE support (open(2)), so that the CLI's
 * fallback to a named temporary file (cli/out.c) runs on a filesystem that
 * has it. Every other open goes to the real function.
 *
 *   ENVELOPE_FAULT_TMPFILE_LOG=PATH   append one line to PATH per refusal,
 *                                     so a test can tell the fault was hit
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*openat_fn)(int, const char *, int, ...);

static int refuse(int flags)
{
    if ((flags & O_TMPFILE) != O_TMPFILE)
        return 0;
    const char *log = getenv("ENVELOPE_FAULT_TMPFILE_LOG");
    if (log != NULL) {
        openat_fn real = (openat_fn)dlsym(RTLD_NEXT, "openat");
        int fd = real != NULL ? real(AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
                              : -1;
        if (fd >= 0) {
            static const char line[] = "O_TMPFILE refused\n";
            (void)!write(fd, line, sizeof(line) - 1);
            close(fd);
        }
    }
    errno = EOPNOTSUPP;
    return 1;
}

static int forward(const char *sym, int dirfd, const char *path, int flags, mode_t mode, int at)
{
    if (refuse(flags))
        return -1;
    if (at) {
        openat_fn real = (openat_fn)dlsym(RTLD_NEXT, sym);
        return real != NULL ? real(dirfd, path, flags, mode) : (errno = ENOSYS, -1);
    }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);
    return real != NULL ? real(path, flags, mode) : (errno = ENOSYS, -1);
}

/* The mode argument is read only when the flags say it was passed. */
#define MODE_ARG(flags, last)                                                                      \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                         \
        va_list ap;                                                                                \
        va_start(ap, last);                                                                        \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

/* Exported although the build hides symbols by default: they must
 * interpose on libc's. */
#define EXPORT __attribute__((visibility("default")))
EXPORT int open(const char *path, int flags, ...);
EXPORT int open64(const char *path, int flags, ...);
EXPORT int openat(int dirfd, const char *path, int flags, ...);
EXPORT int openat64(int dirfd, const char *path, int flags, ...);

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, flags)
    return forward("open", AT_FDCWD, path, flags, mode, 0);
}

int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, flags)
    return forward("open64", AT_FDCWD, path, flags, mode, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, flags)
    return forward("openat", dirfd, path, flags, mode, 1);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, flags)
    return forward("openat64", dirfd, path, flags, mode, 1);
}
