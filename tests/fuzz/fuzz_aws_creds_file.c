/*
 * fuzz_aws_creds_file.c - libFuzzer target for the AWS shared credential
 * and config files (the INI reader of kms-bridge/aws_creds.c, through
 * aws_creds_from_files as the credential chain calls it).
 *
 * Input: the credentials file, then optionally a line "#--config--" and the
 * config file (without that line there is no config file, as on most
 * hosts). The files are written where AWS_SHARED_CREDENTIALS_FILE and
 * AWS_CONFIG_FILE point, in a folder of the harness's own; the profile is
 * "default", or "fuzz" when the input's first byte is odd. A result is 1
 * with credentials, 0 not configured, -1 with a reason.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_creds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file per execution: on tmpfs when there is one (a disk-backed /tmp
 * makes the target a hundred times slower), else TMPDIR, else /tmp. */
static const char *fuzz_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : t != NULL ? t : "/tmp";
}

/* Both files in a folder of our own: the config file comes and goes, and
 * its name must not be free for someone else to take in a shared /dev/shm. */
static char dir[64], paths[2][80];

static void remove_files(void)
{
    unlink(paths[0]);
    unlink(paths[1]);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(dir, sizeof(dir), "%.40s/fuzz-aws-XXXXXX", fuzz_tmpdir());
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(paths[0], sizeof(paths[0]), "%s/credentials", dir);
    snprintf(paths[1], sizeof(paths[1]), "%s/config", dir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", paths[0], 1);
    setenv("AWS_CONFIG_FILE", paths[1], 1);
    unsetenv("AWS_PROFILE");
    atexit(remove_files);
    return 0;
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    static const char mark[] = "\n#--config--\n";
    const uint8_t *cut = memmem(data, size, mark, sizeof(mark) - 1);
    size_t n0 = cut != NULL ? (size_t)(cut - data) : size;
    put(paths[0], data, n0);
    if (cut != NULL)
        put(paths[1], cut + sizeof(mark) - 1, size - n0 - (sizeof(mark) - 1));
    else if (unlink(paths[1]) != 0 && errno != ENOENT)
        abort();
    aws_chain_opts o = {size > 0 && (data[0] & 1) ? "fuzz" : NULL, "eu-west-1", NULL, 1000};
    aws_creds *c = NULL;
    char err[512] = "";
    int r = aws_creds_from_files(&o, &c, err, sizeof(err));
    if (r == 1) {
        if (c == NULL || c->access_key_id == NULL || c->secret_access_key == NULL ||
            c->source != AWS_SRC_FILES)
            abort();
        aws_creds_free(c);
    } else if (c != NULL || (r < 0 && err[0] == '\0') || r > 1) {
        abort();
    }
    return 0;
}
