/*
 * input.c - the CLI's input (IN, or stdin): bounded reads into one
 * CLI_CHUNK buffer, wiped at close because it may have held plaintext, or
 * into a buffer the streaming object lends (cli_in_read_into). A regular
 * file is read once, front to back: the kernel is told so
 * (POSIX_FADV_SEQUENTIAL, a larger read-ahead).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

int cli_in_open(cli_in *in, const char *path)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
        in->is_stdin = 1;
        in->name = "stdin";
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        in->name = path;
        if (in->fd < 0)
            return cli_fail(CLI_EXIT_USAGE, "cannot open \"%s\": %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->size = (uint64_t)st.st_size;
        (void)posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* advice only */
    }
    in->buf = OPENSSL_malloc(CLI_CHUNK);
    if (in->buf == NULL) {
        cli_in_close(in);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    return CLI_EXIT_OK;
}

long cli_in_read(cli_in *in)
{
    return cli_in_read_into(in, in->buf, CLI_CHUNK);
}

long cli_in_read_into(cli_in *in, uint8_t *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(in->fd, buf, cap);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR) {
            cli_fail(CLI_EXIT_INTERNAL, "reading %s: %s", in->name, strerror(errno));
            return -1;
        }
    }
}

void cli_in_close(cli_in *in)
{
    if (in->fd >= 0 && !in->is_stdin)
        close(in->fd);
    in->fd = -1;
    /* The buffer may have held plaintext. */
    if (in->buf)
        OPENSSL_clear_free(in->buf, CLI_CHUNK);
    in->buf = NULL;
}
