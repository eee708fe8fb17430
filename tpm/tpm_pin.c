/*
 * tpm_pin.c - auth values from a pin source, into secret memory.
 *
 *   file:PATH   the file's bytes (one trailing "\n" or "\r\n" dropped)
 *   env:NAME    the variable's value (secure_getenv: not in setuid programs)
 *
 * The TPM takes an auth value up to the size of the object's nameAlg digest
 * (Part 1 §19.6.12; 32 bytes for SHA-256): longer is refused, not cut.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "secmem.h"
#include "tpm_int.h"

static int from_file(const char *path, unsigned char *buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t got = 0;

    if (fd < 0) {
        ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "TPM auth value: cannot open pin file %s (%s)",
                      path, strerror(errno));
        return ENVPROV_R_PIN_MISSING;
    }
    /* Read one byte more than allowed (plus a CRLF) to detect "too long". */
    while (got < ENVTPM_MAX_AUTH + 3) {
        ssize_t n = read(fd, buf + got, ENVTPM_MAX_AUTH + 3 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "TPM auth value: cannot read pin file %s",
                          path);
            return ENVPROV_R_PIN_MISSING;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return ENVPROV_R_OK;
}

int envtpm_pin_read(const char *source, unsigned char **auth, size_t *len)
{
    unsigned char *buf;
    size_t n = 0;
    int r = ENVPROV_R_OK;

    *auth = NULL;
    *len = 0;
    buf = envelope_secmem_alloc(ENVTPM_MAX_AUTH + 4);
    if (buf == NULL) {
        ENVPROV_RAISE(ENVPROV_R_INTERNAL, "TPM auth value: out of secure memory");
        return ENVPROV_R_INTERNAL;
    }
    if (source != NULL && strncmp(source, "file:", 5) == 0) {
        r = from_file(source + 5, buf, &n);
    } else if (source != NULL && strncmp(source, "env:", 4) == 0) {
        const char *v = secure_getenv(source + 4);
        if (v == NULL) {
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING,
                          "TPM auth value: environment variable %s is not set", source + 4);
            r = ENVPROV_R_PIN_MISSING;
        } else {
            n = strnlen(v, ENVTPM_MAX_AUTH + 3);
            memcpy(buf, v, n);
        }
    } else {
        ENVPROV_RAISE(ENVPROV_R_BAD_CONFIG,
                      "TPM pin source must be file:PATH or env:NAME");
        r = ENVPROV_R_BAD_CONFIG;
    }
    if (r == ENVPROV_R_OK) {
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        if (n > ENVTPM_MAX_AUTH) {
            ENVPROV_RAISE(ENVPROV_R_BAD_ARGUMENT,
                          "TPM auth value longer than %d bytes; the TPM would refuse it",
                          ENVTPM_MAX_AUTH);
            r = ENVPROV_R_BAD_ARGUMENT;
        }
    }
    if (r != ENVPROV_R_OK) {
        envelope_secmem_free(buf);
        return r;
    }
    *auth = buf;
    *len = n;
    return ENVPROV_R_OK;
}

static unsigned char *fp_key;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
    unsigned char *k = envelope_secmem_alloc(32);
    if (k != NULL && RAND_bytes(k, 32) == 1)
        fp_key = k;
    else
        envelope_secmem_free(k);
}

int envtpm_auth_fingerprint(const unsigned char *auth, size_t len, unsigned char out[32])
{
    static const unsigned char empty[1];
    unsigned int n = 0;
    pthread_once(&fp_once, fp_key_init);
    return fp_key != NULL
           && HMAC(EVP_sha256(), fp_key, 32, auth != NULL ? auth : empty, len, out, &n) != NULL
           && n == 32;
}

static int fingerprint_of(const struct envtpm_key *k, unsigned char fp[32])
{
    return envtpm_auth_fingerprint(k->auth, k->auth != NULL ? k->auth_len : 0, fp);
}

void envtpm_auth_rejected(struct envtpm_ctx *t, const struct envtpm_key *k)
{
    unsigned char fp[32];
    if (!fingerprint_of(k, fp) || k->name_len > ENVTPM_MAX_NAME)
        return;
    unsigned i = t->nrejected++ % (sizeof(t->rejected) / sizeof(t->rejected[0]));
    memcpy(t->rejected[i].name, k->name, k->name_len);
    t->rejected[i].name_len = k->name_len;
    memcpy(t->rejected[i].fp, fp, 32);
    OPENSSL_cleanse(fp, sizeof(fp));
}

int envtpm_auth_was_rejected(struct envtpm_ctx *t, const struct envtpm_key *k)
{
    unsigned char fp[32];
    int hit = 0;
    size_t n = sizeof(t->rejected) / sizeof(t->rejected[0]);
    if (!fingerprint_of(k, fp))
        return 0;
    for (size_t i = 0; i < n && i < t->nrejected; i++)
        hit |= t->rejected[i].name_len == k->name_len
               && memcmp(t->rejected[i].name, k->name, k->name_len) == 0
               && CRYPTO_memcmp(t->rejected[i].fp, fp, 32) == 0;
    OPENSSL_cleanse(fp, sizeof(fp));
    return hit;
}
