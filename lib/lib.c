/*
 * lib.c - the library context: every algorithm the hot path needs is
 * fetched here, once (docs/ARCHITECTURE.md, "Hot paths": implicit fetches are the hidden cost of
 * OpenSSL 3), and message ids are drawn in batches.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "internal.h"

/* The header's version is the project's (CMakeLists.txt), which
 * lib/CMakeLists.txt passes in. */
#if defined(ENV_BUILD_VERSION_MAJOR)
#if ENVELOPE_LIB_VERSION_MAJOR != ENV_BUILD_VERSION_MAJOR ||                                       \
    ENVELOPE_LIB_VERSION_MINOR != ENV_BUILD_VERSION_MINOR ||                                       \
    ENVELOPE_LIB_VERSION_PATCH != ENV_BUILD_VERSION_PATCH
#error "include/envelope/envelope.h's ENVELOPE_LIB_VERSION_* differ from the project's version"
#endif
#endif

uint32_t envelope_version(void)
{
    return ((uint32_t)ENVELOPE_LIB_VERSION_MAJOR << 16) |
           ((uint32_t)ENVELOPE_LIB_VERSION_MINOR << 8) | (uint32_t)ENVELOPE_LIB_VERSION_PATCH;
}

#define ENV_STR_(x) #x
#define ENV_STR(x) ENV_STR_(x)
const char *envelope_version_string(void)
{
    return ENV_STR(ENVELOPE_LIB_VERSION_MAJOR) "." ENV_STR(ENVELOPE_LIB_VERSION_MINOR) "." ENV_STR(
        ENVELOPE_LIB_VERSION_PATCH);
}

size_t envelope_frame_size_default(void)
{
    return ENVELOPE_FRAME_SIZE_DEFAULT;
}

size_t envelope_max_edks(void)
{
    return ENVELOPE_MAX_EDKS;
}

/*
 * Fork generations. Every fork(2) through libc runs the child handler,
 * which bumps the child's copy of the counter; a pool remembers the
 * generation it was filled in, so the first id a child draws comes from a
 * fresh batch. A process id does not do this: it names a live process,
 * not a fork. A pool records the pid of the process that filled it; once
 * that process has exited its pid can be handed to a descendant that
 * inherited the pool untouched (a child that forked before drawing an id),
 * and to another such descendant after that one exits, and each would draw
 * the same unused ids: the same message ids, so the same data keys and
 * GCM nonces under the sealer's one DEK (docs/FORMAT.md, message id).
 *
 * The handler is registered once, when the first library context is made
 * (no pool can exist before one). The hot path reads one integer; no
 * getpid() system call per message. A child made by a raw clone(2) system
 * call runs no fork handlers (nor OpenSSL's); such a child must not use a
 * sealer it inherited.
 */
static unsigned long fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

unsigned long env_fork_generation(void)
{
    return __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
}

static void on_fork_child(void)
{
    __atomic_add_fetch(&fork_generation, 1, __ATOMIC_RELAXED);
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

envelope_status envelope_lib_new(void *ossl_libctx, const char *propq, envelope_lib **out,
                                 envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_lib_new: out is NULL");
    if (pthread_once(&atfork_once, register_atfork) != 0)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "cannot register the fork handler");
    *out = NULL;
    envelope_lib *lib = OPENSSL_zalloc(sizeof(*lib));
    if (lib == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    lib->libctx = ossl_libctx;
    if (propq != NULL && (lib->propq = OPENSSL_strdup(propq)) == NULL) {
        envelope_lib_free(lib);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    lib->gcm = EVP_CIPHER_fetch(lib->libctx, "AES-256-GCM", lib->propq);
    lib->sha256 = EVP_MD_fetch(lib->libctx, "SHA2-256", lib->propq);
    lib->sha512 = EVP_MD_fetch(lib->libctx, "SHA2-512", lib->propq);
    lib->ecb = EVP_CIPHER_fetch(lib->libctx, "AES-256-ECB", lib->propq);
    if (lib->gcm == NULL || lib->sha256 == NULL || lib->sha512 == NULL || lib->ecb == NULL) {
        envelope_lib_free(lib);
        return env_fail_ossl(
            err, ENVELOPE_ERR_CRYPTO,
            "cannot fetch AES-256-GCM, AES-256-ECB, SHA2-256 and SHA2-512%s%s; check that "
            "the default provider is loaded (OPENSSL_CONF)",
            propq ? " with properties " : "", propq ? propq : "");
    }
    env_lib_read_preference(lib);
    env_reuse_read(lib);
    *out = lib;
    return ENVELOPE_OK;
}

void envelope_lib_free(envelope_lib *lib)
{
    if (lib == NULL)
        return;
    EVP_CIPHER_free(lib->gcm);
    EVP_MD_free(lib->sha256);
    EVP_MD_free(lib->sha512);
    EVP_CIPHER_free(lib->ecb);
    OPENSSL_free(lib->propq);
    env_reuse_free(lib->reuse);
    for (size_t i = 0; i < lib->npref; i++)
        OPENSSL_free(lib->pref[i]);
    OPENSSL_free(lib);
}

/*
 * Message ids are public, but a repeated id under a reused DEK would repeat
 * the data key and so the GCM nonces: the pool is refilled after every
 * fork (see fork_generation above), in the child, which inherits a copy of
 * the parent's unused ids.
 */
envelope_status env_idpool_next(env_idpool *p, envelope_lib *lib, uint8_t id[32], envelope_err *err)
{
    unsigned long gen = __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
    if (p->gen != gen || p->off == 0 || p->off > sizeof(p->buf) - 32) {
        if (RAND_bytes_ex(lib->libctx, p->buf, sizeof(p->buf), 256) != 1) {
            p->off = 0; /* never hand out what is left of an old batch */
            return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "random generator failed");
        }
        p->gen = gen;
        p->off = 32; /* first id is buf[0..32) */
        memcpy(id, p->buf, 32);
        OPENSSL_cleanse(p->buf, 32);
        return ENVELOPE_OK;
    }
    memcpy(id, p->buf + p->off, 32);
    OPENSSL_cleanse(p->buf + p->off, 32);
    p->off += 32;
    return ENVELOPE_OK;
}
