/*
 * dek_reuse.c - one DEK (and its EDK list) for several messages of one
 * (KEK set, context), when the envelope provider's configuration turns it
 * on (dek-reuse-messages, -bytes, -seconds, dek-partition-key: docs/PROVIDER.md,
 * "DEK reuse"). Read once per library context.
 *
 * Why it is safe: every message still draws its own 256-bit message id, and
 * its data key and commitment are derived from the DEK and that id
 * (docs/FORMAT.md §5.1), so no two messages share a data key or a GCM
 * nonce sequence. The wrap AAD binds the whole context (§5.3), so an EDK
 * list can only serve messages with exactly that context: two tenants never
 * share a DEK. What reuse trades: a DEK that leaks opens every message of
 * its window, and revoking one message's key revokes the window's.
 *
 * Entries are named by SHA-256 over the context and every KEK's kind,
 * reference and key id; DEKs live in one locked slab (core/secmem), wiped
 * when an entry is used up, evicted, or the library context freed, and the
 * table starts empty in a forked child.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "envelope/provider.h"
#include "internal.h"
#include "secmem.h"

#define REUSE_SLOTS 256

struct slot {
    uint8_t name[32];
    int live;
    uint64_t messages, bytes, born_ms, used_ms;
    uint8_t *edks;
    size_t edks_len;
};

struct env_reuse {
    pthread_mutex_t lock;
    uint64_t max_messages, max_bytes, max_ms;
    char *partition; /* context key that must be present, or NULL */
    unsigned long gen;
    uint8_t *deks; /* secmem, REUSE_SLOTS * 32 */
    struct slot s[REUSE_SLOTS];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wipe(env_reuse *r, size_t i)
{
    OPENSSL_cleanse(r->deks + i * ENVELOPE_DEK_BYTES, ENVELOPE_DEK_BYTES);
    OPENSSL_free(r->s[i].edks);
    memset(&r->s[i], 0, sizeof(r->s[i]));
}

/* In a child after fork() the table is the parent's: start empty. */
static void check_fork(env_reuse *r)
{
    unsigned long gen = env_fork_generation();
    if (r->gen == gen)
        return;
    for (size_t i = 0; i < REUSE_SLOTS; i++)
        wipe(r, i);
    r->gen = gen;
}

static int get_u64(const char *v, uint64_t *out)
{
    if (v == NULL || *v == '\0')
        return 0;
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || v[0] == '-')
        return 0;
    *out = (uint64_t)n;
    return 1;
}

static int read_settings(OSSL_PROVIDER *prov, void *arg)
{
    env_reuse **out = arg;
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    const char *msgs = NULL, *bytes = NULL, *secs = NULL, *part = NULL;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_MESSAGES, &msgs, 0),
                      OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_BYTES, &bytes, 0),
                      OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_SECONDS, &secs, 0),
                      OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_PARTITION_KEY, &part, 0),
                      OSSL_PARAM_END};
    uint64_t m = 0, b = ENV_REUSE_BYTES_DEFAULT, s = ENV_REUSE_SECONDS_DEFAULT;
    if (OSSL_PROVIDER_get_params(prov, p) != 1 || !get_u64(msgs, &m) || m < 2)
        return 0; /* off (the provider validated the values) */
    if (bytes != NULL && *bytes != '\0' && !get_u64(bytes, &b))
        return 0;
    if (secs != NULL && *secs != '\0' && !get_u64(secs, &s))
        return 0;
    env_reuse *r = OPENSSL_zalloc(sizeof(*r));
    if (r == NULL)
        return 0;
    r->deks = envelope_secmem_alloc(REUSE_SLOTS * ENVELOPE_DEK_BYTES);
    if (r->deks == NULL || pthread_mutex_init(&r->lock, NULL) != 0 ||
        (part != NULL && *part != '\0' && (r->partition = OPENSSL_strdup(part)) == NULL)) {
        envelope_secmem_free(r->deks);
        OPENSSL_free(r);
        return 0;
    }
    r->max_messages = m;
    r->max_bytes = b;
    r->max_ms = s > UINT64_MAX / 1000 ? UINT64_MAX : s * 1000;
    r->gen = env_fork_generation();
    *out = r;
    return 0;
}

void env_reuse_read(envelope_lib *lib)
{
    ERR_set_mark();
    OSSL_PROVIDER_do_all(lib->libctx, read_settings, &lib->reuse);
    ERR_pop_to_mark();
}

void env_reuse_free(env_reuse *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < REUSE_SLOTS; i++)
        wipe(r, i);
    envelope_secmem_free(r->deks);
    pthread_mutex_destroy(&r->lock);
    OPENSSL_free(r->partition);
    OPENSSL_free(r);
}

int env_reuse_name(envelope_lib *lib, const envelope_encrypt_opts *o, const uint8_t *ctx_enc,
                   size_t ctx_len, uint8_t name[32])
{
    return env_reuse_name_suite(lib, o, ctx_enc, ctx_len,
                                ENVELOPE_SUITE_AES256GCM_HKDFSHA512_COMMIT, name);
}

/* Suite 2 key blocks (keyblock.c) get names of their own: a DEK is never
 * shared between the two suites (their EDKs differ anyway: the wrap AAD
 * binds the suite). */
int env_reuse_name_suite(envelope_lib *lib, const envelope_encrypt_opts *o, const uint8_t *ctx_enc,
                         size_t ctx_len, uint16_t suite, uint8_t name[32])
{
    env_reuse *r = lib->reuse;
    if (r == NULL || o->nkeks == 0)
        return 0;
    if (r->partition != NULL && envelope_context_get(o->context, r->partition) == NULL)
        return 0; /* only messages that name their partition share a DEK */
    static const char domain[] = "envelope dek reuse v1";
    static const char domain2[] = "envelope dek reuse v1, suite 2 key blocks";
    int one = suite == ENVELOPE_SUITE_AES256GCM_HKDFSHA512_COMMIT;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = m != NULL && EVP_DigestInit_ex(m, lib->sha256, NULL) &&
             EVP_DigestUpdate(m, one ? domain : domain2, one ? sizeof(domain) : sizeof(domain2)) &&
             EVP_DigestUpdate(m, ctx_enc, ctx_len);
    for (size_t i = 0; ok && i < o->nkeks; i++) {
        const envelope_kek *k = o->keks[i];
        uint8_t lens[4] = {(uint8_t)k->kind, (uint8_t)(strlen(k->ref) >> 8),
                           (uint8_t)strlen(k->ref), (uint8_t)k->key_id_len};
        ok = EVP_DigestUpdate(m, lens, sizeof(lens)) &&
             EVP_DigestUpdate(m, k->ref, strlen(k->ref)) &&
             EVP_DigestUpdate(m, k->key_id, k->key_id_len);
    }
    ok = ok && EVP_DigestFinal_ex(m, name, &n) && n == 32;
    EVP_MD_CTX_free(m);
    return ok;
}

int env_reuse_take(envelope_lib *lib, const uint8_t name[32], uint64_t bytes, uint8_t *dek,
                   uint8_t **edks, size_t *edks_len)
{
    env_reuse *r = lib->reuse;
    int got = 0;
    pthread_mutex_lock(&r->lock);
    check_fork(r);
    uint64_t now = now_ms();
    for (size_t i = 0; i < REUSE_SLOTS; i++) {
        struct slot *s = &r->s[i];
        if (!s->live || memcmp(s->name, name, 32) != 0)
            continue;
        /* (a streamed message is counted when it ends, so the total can
         * already be past the limit: compare before subtracting) */
        if (s->messages >= r->max_messages || s->bytes >= r->max_bytes ||
            bytes > r->max_bytes - s->bytes || now - s->born_ms >= r->max_ms) {
            wipe(r, i); /* its window is over: the next message gets a new DEK */
            break;
        }
        uint8_t *copy = OPENSSL_memdup(s->edks, s->edks_len);
        if (copy == NULL)
            break;
        memcpy(dek, r->deks + i * ENVELOPE_DEK_BYTES, ENVELOPE_DEK_BYTES);
        *edks = copy;
        *edks_len = s->edks_len;
        s->messages++;
        s->bytes += bytes;
        s->used_ms = now;
        got = 1;
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

void env_reuse_put(envelope_lib *lib, const uint8_t name[32], uint64_t bytes, const uint8_t *dek,
                   const uint8_t *edks, size_t edks_len)
{
    env_reuse *r = lib->reuse;
    uint8_t *copy = OPENSSL_memdup(edks, edks_len);
    if (copy == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    check_fork(r);
    size_t victim = 0;
    for (size_t i = 0; i < REUSE_SLOTS; i++) {
        if (!r->s[i].live || memcmp(r->s[i].name, name, 32) == 0) {
            victim = i;
            break;
        }
        if (r->s[i].used_ms < r->s[victim].used_ms)
            victim = i; /* least recently used */
    }
    wipe(r, victim);
    struct slot *s = &r->s[victim];
    memcpy(s->name, name, 32);
    memcpy(r->deks + victim * ENVELOPE_DEK_BYTES, dek, ENVELOPE_DEK_BYTES);
    s->edks = copy;
    s->edks_len = edks_len;
    s->messages = 1;
    s->bytes = bytes;
    s->born_ms = s->used_ms = now_ms();
    s->live = 1;
    pthread_mutex_unlock(&r->lock);
}

void env_reuse_account(envelope_lib *lib, const uint8_t name[32], uint64_t bytes)
{
    env_reuse *r = lib->reuse;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < REUSE_SLOTS; i++)
        if (r->s[i].live && memcmp(r->s[i].name, name, 32) == 0)
            r->s[i].bytes = bytes > UINT64_MAX - r->s[i].bytes ? UINT64_MAX : r->s[i].bytes + bytes;
    pthread_mutex_unlock(&r->lock);
}
