/*
 * pin_source.c - see pin_source.h.
 */
#include "pin_source.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "errors.h"
#include "secmem.h"

static int from_file(const char *path, const char *what, char *buf, size_t *len)
{
    /* O_NONBLOCK: a FIFO or device put where a PIN file belongs must not
     * hang us (it is refused below, before anything is read) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "cannot open the %s file %s: %s", what, path,
                      ENVCORE_ERRNO_TEXT(errno));
        return ENVCORE_R_PIN_MISSING;
    }
    /* As ssh does for private keys: a secret others can read is refused,
     * not used (a PIN others can read is no longer the holder's alone). */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "the %s file %s is not a regular file", what, path);
        close(fd);
        return ENVCORE_R_PIN_MISSING;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        /* someone else's file: they could change the secret we send */
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "the %s file %s belongs to uid %ld, not to this user (uid %ld) or root; "
                      "it is not used",
                      what, path, (long)st.st_uid, (long)geteuid());
        close(fd);
        return ENVCORE_R_PIN_MISSING;
    }
    if ((st.st_mode & 077) != 0) {
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "the %s file %s is accessible by group or others (mode %04o), so it is not "
                      "used; make it private: chmod 600 %s",
                      what, path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return ENVCORE_R_PIN_MISSING;
    }
    size_t n = 0;
    for (;;) {
        /* one byte more than allowed (plus a CRLF) tells "too long" */
        ssize_t r = read(fd, buf + n, ENVCORE_MAX_PIN + 3 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "cannot read the %s file %s: %s", what, path,
                          ENVCORE_ERRNO_TEXT(errno));
            close(fd);
            return ENVCORE_R_PIN_MISSING;
        }
        if (r == 0 || (n += (size_t)r) == ENVCORE_MAX_PIN + 3)
            break;
    }
    close(fd);
    *len = n;
    return ENVCORE_R_OK;
}

int envcore_pin_read(const char *source, const char *what, unsigned flags, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char *buf = envelope_secmem_alloc(ENVCORE_MAX_PIN + 4);
    if (buf == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "no locked memory for the %s", what);
        return ENVCORE_R_INTERNAL;
    }
    size_t n = 0;
    int r = ENVCORE_R_OK;
    const char *name = source;
    if (source != NULL && strncmp(source, "file:", 5) == 0) {
        r = from_file(name = source + 5, what, buf, &n);
    } else if (source != NULL && source[0] == '/') {
        r = from_file(source, what, buf, &n);
    } else if (source != NULL && strncmp(source, "env:", 4) == 0) {
        const char *v = secure_getenv(name = source + 4);
        if (v == NULL) {
            ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "%s environment variable %s is not set", what,
                          source + 4);
            r = ENVCORE_R_PIN_MISSING;
        } else {
            n = strnlen(v, ENVCORE_MAX_PIN + 3);
            memcpy(buf, v, n);
        }
    } else {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                      "unsupported %s source \"%.64s\": use file:PATH or env:NAME", what,
                      source != NULL ? source : "");
        r = ENVCORE_R_BAD_CONFIG;
    }
    if (r == ENVCORE_R_OK) {
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        if (n > ENVCORE_MAX_PIN) {
            ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "the %s in %s is longer than %d bytes", what, name,
                          ENVCORE_MAX_PIN);
            r = ENVCORE_R_PIN_MISSING;
        } else if ((flags & ENVCORE_PIN_TEXT) && memchr(buf, '\0', n) != NULL) {
            /* a C string would cut it: the token would get another PIN */
            ENVCORE_RAISE(ENVCORE_R_PIN_MISSING, "the %s in %s holds a NUL byte", what, name);
            r = ENVCORE_R_PIN_MISSING;
        }
    }
    if (r != ENVCORE_R_OK) {
        envelope_secmem_free(buf);
        return r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ENVCORE_R_OK;
}

static unsigned char *fp_key;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
    unsigned char *k = envelope_secmem_alloc(32);
    if (k != NULL && RAND_bytes(k, 32) == 1)
        fp_key = k; /* never freed: it lives as long as the fingerprints */
    else
        envelope_secmem_free(k);
}

int envcore_secret_fingerprint(const void *secret, size_t len, unsigned char out[32])
{
    static const unsigned char empty[1];
    unsigned int n = 0;
    pthread_once(&fp_once, fp_key_init);
    return fp_key != NULL &&
           HMAC(EVP_sha256(), fp_key, 32, secret != NULL ? secret : empty, len, out, &n) != NULL &&
           n == 32;
}
