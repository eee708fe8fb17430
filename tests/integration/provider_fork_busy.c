/*
 * provider_fork_busy.c - fork() from a thread while four other threads are
 * inside C_Decrypt on a real SoftHSM2 token, through the provider's RSA
 * decryption (EVP_PKEY_decrypt on the pkcs11: URI, the unwrap cache off).
 *
 * A child is a copy of the forking thread only: any lock another thread
 * held at that instant (the module's, a session's, the breaker's) stays
 * held for ever in the child. The child here decrypts once on the same key
 * (which re-initialises the module: hsm/hsm_module.c) and exits; the parent
 * gives each child a generous deadline and calls a child still running
 * after it a hang, kills it and fails. hsm/hsm_fork.c is what makes this
 * hold.
 *
 *   ENV_RSA_URI                 the RSA private key on the token
 *   ENVELOPE_FORK_BUSY_ROUNDS   forks (default 200)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "it_check.h"

#define BUSY_THREADS 4
#define CHILD_DEADLINE_S 120 /* a healthy child needs well under a second */

static EVP_PKEY *key;
static unsigned char msg[32], ct[512];
static size_t ctlen;
static volatile int stop;

static int rsa_op(int enc, const unsigned char *in, size_t inlen, unsigned char *out,
                  size_t *outlen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    int ok = c != NULL && (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha1()) > 0 &&
             (enc ? EVP_PKEY_encrypt(c, out, outlen, in, inlen)
                  : EVP_PKEY_decrypt(c, out, outlen, in, inlen)) > 0;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static int decrypt_ok(void)
{
    unsigned char out[512];
    size_t outlen = sizeof(out);
    return rsa_op(0, ct, ctlen, out, &outlen) && outlen == sizeof(msg) &&
           memcmp(out, msg, sizeof(msg)) == 0;
}

struct busy {
    pthread_t th;
    unsigned long done, failed;
};

static void *busy_main(void *p)
{
    struct busy *b = p;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        if (decrypt_ok())
            __atomic_add_fetch(&b->done, 1, __ATOMIC_RELAXED);
        else {
            ERR_print_errors_fp(stderr);
            __atomic_add_fetch(&b->failed, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

/* 0: the child exited 0; else a message already printed. */
static int wait_child(pid_t pid, int round)
{
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (long waited_ms = 0; waited_ms < CHILD_DEADLINE_S * 1000L; waited_ms += 5) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
            fprintf(stderr, "FAIL: child of fork %d ended with status 0x%x\n", round, st);
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            perror("waitpid");
            return 1;
        }
        nanosleep(&tick, NULL);
    }
    fprintf(stderr, "FAIL: child of fork %d still running after %d s: deadlocked\n", round,
            CHILD_DEADLINE_S);
    kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    return 1;
}

struct forker {
    int rounds, failures;
    unsigned long busy_seen; /* forks that found the busy threads working */
    struct busy *b;
};

static unsigned long busy_total(const struct busy *b)
{
    unsigned long n = 0;
    for (int i = 0; i < BUSY_THREADS; i++)
        n += __atomic_load_n(&b[i].done, __ATOMIC_RELAXED);
    return n;
}

static void *forker_main(void *p)
{
    struct forker *f = p;
    for (int i = 0; i < f->rounds && f->failures == 0; i++) {
        unsigned long before = busy_total(f->b);
        /* A varying pause moves the fork across the phases of the busy
         * threads' calls; it is not needed for correctness. */
        unsigned char j;
        (void)RAND_bytes(&j, 1);
        struct timespec pause = {0, (long)j * 20000};
        nanosleep(&pause, NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            f->failures++;
            break;
        }
        if (pid == 0) {
            /* only async-signal-safe calls would be strictly allowed here;
             * that a real program makes more is what this test is about */
            _exit(decrypt_ok() ? 0 : 3);
        }
        f->failures += wait_child(pid, i);
        if (busy_total(f->b) != before)
            f->busy_seen++;
    }
    return NULL;
}

int main(void)
{
    const char *uri = getenv("ENV_RSA_URI");
    const char *r = getenv("ENVELOPE_FORK_BUSY_ROUNDS");
    if (uri == NULL)
        FAIL("ENV_RSA_URI is not set");
    key = it_store_load(uri);
    CHECK(key != NULL);
    CHECK(RAND_bytes(msg, sizeof(msg)) == 1);
    ctlen = sizeof(ct);
    CHECK(rsa_op(1, msg, sizeof(msg), ct, &ctlen));
    CHECK(decrypt_ok());

    struct busy b[BUSY_THREADS];
    memset(b, 0, sizeof(b));
    for (int i = 0; i < BUSY_THREADS; i++)
        CHECK(pthread_create(&b[i].th, NULL, busy_main, &b[i]) == 0);
    struct forker f = {.rounds = r != NULL ? atoi(r) : 200, .b = b};
    pthread_t ft;
    CHECK(pthread_create(&ft, NULL, forker_main, &f) == 0);
    pthread_join(ft, NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    unsigned long failed = 0;
    for (int i = 0; i < BUSY_THREADS; i++) {
        pthread_join(b[i].th, NULL);
        failed += b[i].failed;
    }
    printf("forks %d, children failed or hung %d, forks with the busy threads working %lu, "
           "busy decryptions %lu, failed %lu\n",
           f.rounds, f.failures, f.busy_seen, busy_total(b), failed);
    if (f.failures != 0 || failed != 0)
        FAIL("fork-busy: %d children failed or hung, %lu busy decryptions failed", f.failures,
             failed);
    /* the test is void if the busy threads were idle at the forks */
    if (f.busy_seen * 2 < (unsigned long)f.rounds)
        FAIL("only %lu of %d forks happened while the busy threads were decrypting", f.busy_seen,
             f.rounds);
    CHECK(decrypt_ok());
    EVP_PKEY_free(key);
    return 0;
}
