/*
 * it_check.h - what the EVP integration programs share: FAIL (print the
 * place, the message and OpenSSL's error queue, exit 1), CHECK, and
 * it_store_load (the first private or secret key an OSSL_STORE URI names,
 * or NULL).
 */
#ifndef ENVELOPE_TESTS_IT_CHECK_H
#define ENVELOPE_TESTS_IT_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        ERR_print_errors_fp(stderr);                                                               \
        exit(1);                                                                                   \
    } while (0)
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            FAIL("%s", #c);                                                                        \
    } while (0)

static inline EVP_PKEY *it_store_load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;
    if (s == NULL)
        return NULL;
    while (pk == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(s);
        if (info == NULL)
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(s);
    return pk;
}

/* A hung child's stacks on stderr (gdb, when installed), for the report:
 * without the ASan runtime a sanitizer build preloads (gdb hung under it).
 * Returns 1 if the child waits in OpenSSL 3.0's RAND_get_rand_method: it
 * takes a global write lock on every RAND_bytes and has no fork handler,
 * so a child forked while another thread is inside RAND_bytes waits for
 * ever in its first random draw (docs/TESTING.md, "Concurrency"). Not a
 * lock of ours; every other hang is. */
static inline int it_dump_stacks(int pid)
{
    char cmd[384], path[64];
    snprintf(path, sizeof(path), "/tmp/envelope-stacks.%d", pid);
    snprintf(cmd, sizeof(cmd),
             "env -u LD_PRELOAD timeout 300 gdb -iex 'set debuginfod enabled off' -p %d -batch "
             "-ex 'thread apply all bt' </dev/null >%s 2>/dev/null",
             pid, path);
    int rand_lock = 0, write_lock = 0;
    if (system(cmd) != 0)
        fprintf(stderr, "(no stack of process %d: gdb failed or is not installed)\n", pid);
    FILE *f = fopen(path, "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
        /* RAND_get_rand_method's lock, or the write lock RAND_bytes_ex
         * takes on its way to a new DRBG (EVP_RAND_CTX_new): both are
         * OpenSSL 3.0 globals with no fork handler */
        if (strstr(line, "in RAND_get_rand_method") != NULL)
            rand_lock = 1;
        if (strstr(line, "in CRYPTO_THREAD_write_lock") != NULL)
            write_lock = 1;
        if (write_lock && strstr(line, "in RAND_bytes_ex") != NULL)
            rand_lock = 1;
    }
    if (f != NULL)
        fclose(f);
    remove(path);
    return rand_lock;
}

#endif
