/*
 * fuzz_kms_config.c - libFuzzer target for the kms-bridge's config file
 * (kms-bridge/kms_config.c, with the aws-kms slot keys of aws_config.c):
 * the input is written to a file that kms_config_load reads, as the module
 * reads ENVELOPE_KMS_CONF. Whatever loads must be within the bounds the
 * module relies on; a refusal must say why.
 *
 * The files a slot names must be readable (the key file private to its
 * owner) before the rest of the slot is read, so the harness makes three in
 * a fixed folder, which the seeds name: ENVELOPE_FUZZ_KMS_DIR
 * (/dev/shm/envelope-fuzz-kms, or /tmp/envelope-fuzz-kms without /dev/shm)
 * holding ca.pem, cert.pem and key.pem (mode 0600), and key-open.pem (0644,
 * which a key file must not be). Their contents are not
 * read here (TLS is not set up).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "kms_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file per execution: on tmpfs when there is one (a disk-backed /tmp
 * makes the target a hundred times slower), else TMPDIR, else /tmp. */
static const char *fuzz_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : t != NULL ? t : "/tmp";
}

static char path[64];
static kms_config cfg; /* large: not on the stack */

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = fuzz_tmpdir();
    snprintf(path, sizeof(path), "%.40s/fuzz-kms-conf-XXXXXX", tmp);
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(remove_file);
    char dir[64];
    snprintf(dir, sizeof(dir), "%s/envelope-fuzz-kms",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    (void)mkdir(dir, 0700);
    static const char *const names[] = {"ca.pem", "cert.pem", "key.pem", "key-open.pem"};
    for (size_t i = 0; i < 4; i++) {
        char f[128];
        snprintf(f, sizeof(f), "%s/%s", dir, names[i]);
        FILE *fp = fopen(f, "w");
        if (fp == NULL || fputs("not read by the parser\n", fp) < 0 || fclose(fp) != 0 ||
            chmod(f, i == 3 ? 0644 : 0600) != 0)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    char err[512] = "";
    if (kms_config_load(path, &cfg, err, sizeof(err))) {
        if (cfg.n_slots == 0 || cfg.n_slots > KMS_MAX_SLOTS)
            abort(); /* a loaded file has 1..8 slots */
        for (size_t i = 0; i < cfg.n_slots; i++) {
            const kms_slot_cfg *s = &cfg.slot[i];
            if (s->n_ep > KMS_MAX_ENDPOINTS || strlen(s->label) > KMS_LABEL_MAX ||
                memchr(s->ca_file, '\0', sizeof(s->ca_file)) == NULL ||
                memchr(s->server_name, '\0', sizeof(s->server_name)) == NULL)
                abort();
            if (s->protocol == KMS_PROTO_KMIP && s->n_ep == 0)
                abort(); /* a KMIP slot has somewhere to go */
        }
    } else if (err[0] == '\0') {
        abort(); /* a refusal names its reason */
    }
    /* the endpoint syntax on its own, as the file's values are split */
    kms_endpoint_cfg ep;
    if (kms_config_parse_endpoint((const char *)data, size > 300 ? 300 : size, &ep) &&
        (memchr(ep.host, '\0', sizeof(ep.host)) == NULL ||
         memchr(ep.port, '\0', sizeof(ep.port)) == NULL))
        abort(); /* host and port are strings */
    ERR_clear_error();
    return 0;
}
