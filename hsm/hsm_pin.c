/*
 * hsm_pin.c - reading a PIN from a pin source.
 *
 * RFC 7512 §2.3 defines pin-source as a URI naming where the PIN is kept;
 * we accept "file:PATH" (and a bare absolute PATH, which the RFC's examples
 * use) and, as an extension, "env:NAME". The PIN goes straight into locked
 * memory; one trailing newline is removed (files written by `echo`).
 */
#include "hsm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "errors.h"
#include "secmem.h"

static int pin_from_file(const char *path, char **pin_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "cannot open PIN file %s: %s", path, strerror(errno));
        return ENVPROV_R_PIN_MISSING;
    }
    char *pin = envelope_secmem_alloc(HSM_MAX_PIN + 2);
    if (pin == NULL) {
        close(fd);
        return ENVPROV_R_INTERNAL;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, pin + n, HSM_MAX_PIN + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "cannot read PIN file %s: %s", path, strerror(errno));
            close(fd);
            envelope_secmem_free(pin);
            return ENVPROV_R_PIN_MISSING;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > HSM_MAX_PIN) {
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "PIN file %s is longer than %d bytes", path, HSM_MAX_PIN);
            close(fd);
            envelope_secmem_free(pin);
            return ENVPROV_R_PIN_MISSING;
        }
    }
    close(fd);
    if (n > 0 && pin[n - 1] == '\n')
        n--;
    if (n > 0 && pin[n - 1] == '\r')
        n--;
    pin[n] = '\0';
    *pin_out = pin;
    return ENVPROV_R_OK;
}

int hsm_pin_read(const char *source, char **pin_out)
{
    *pin_out = NULL;
    if (strncmp(source, "file:", 5) == 0)
        return pin_from_file(source + 5, pin_out);
    if (source[0] == '/')
        return pin_from_file(source, pin_out);
    if (strncmp(source, "env:", 4) == 0) {
        /* secure_getenv: a setuid or setgid program never takes a PIN from
         * the environment of whoever ran it. */
        const char *v = secure_getenv(source + 4);
        if (v == NULL) {
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "PIN environment variable %s is not set", source + 4);
            return ENVPROV_R_PIN_MISSING;
        }
        if (strlen(v) > HSM_MAX_PIN) {
            ENVPROV_RAISE(ENVPROV_R_PIN_MISSING, "PIN in %s is longer than %d bytes", source + 4, HSM_MAX_PIN);
            return ENVPROV_R_PIN_MISSING;
        }
        *pin_out = envelope_secmem_strdup(v);
        return *pin_out ? ENVPROV_R_OK : ENVPROV_R_INTERNAL;
    }
    ENVPROV_RAISE(ENVPROV_R_BAD_CONFIG,
                  "unsupported pin-source \"%.64s\": use file:PATH or env:NAME", source);
    return ENVPROV_R_BAD_CONFIG;
}

/* The fingerprint key: random, per process (a child shares it, which is
 * right: it shares the tokens), in locked memory, never freed. */
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

int hsm_pin_fingerprint(const char *pin, unsigned char out[32])
{
    unsigned int len = 0;
    pthread_once(&fp_once, fp_key_init);
    if (fp_key == NULL)
        return 0;
    return HMAC(EVP_sha256(), fp_key, 32, (const unsigned char *)pin, strlen(pin), out, &len)
               != NULL
           && len == 32;
}
