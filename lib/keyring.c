/*
 * keyring.c - key blocks by DEK id (docs/FORMAT.md §10.5): a sorted array
 * under a read-write lock, so that any number of threads can open records
 * while another adds a key block. Key blocks are only added, never
 * removed, so a pointer envelope_keyring_find returns stays valid until
 * the keyring is freed.
 *
 * A second key block with a DEK id already held is accepted only if its
 * authenticated part (kb_body) is the same bytes: a rewrapped copy may
 * differ in its EDK list only. Anything else under a known id is refused,
 * so that one reader can never be given two key blocks for one id.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "suite2.h"

struct envelope_keyring {
    pthread_rwlock_t lock;
    envelope_keyblock **kb; /* sorted by id */
    size_t n, cap;
};

envelope_status envelope_keyring_new(envelope_keyring **out, envelope_err *err)
{
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_keyring_new: NULL argument");
    envelope_keyring *kr = OPENSSL_zalloc(sizeof(*kr));
    if (kr == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        OPENSSL_free(kr);
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "cannot create a lock");
    }
    *out = kr;
    return ENVELOPE_OK;
}

/* Index of the first block whose id is >= id. Caller holds the lock. */
static size_t lower_bound(const envelope_keyring *kr, const uint8_t *id)
{
    size_t lo = 0, hi = kr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(kr->kb[mid]->id, id, ENVELOPE_DEK_ID_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

envelope_status envelope_keyring_add(envelope_keyring *kr, envelope_keyblock *kb, envelope_err *err)
{
    if (kr == NULL || kb == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_keyring_add: NULL argument");
    envelope_status s = ENVELOPE_OK;
    pthread_rwlock_wrlock(&kr->lock);
    size_t i = lower_bound(kr, kb->id);
    if (i < kr->n && memcmp(kr->kb[i]->id, kb->id, ENVELOPE_DEK_ID_BYTES) == 0) {
        const envelope_keyblock *have = kr->kb[i];
        if (have->body_len != kb->body_len || memcmp(have->bytes, kb->bytes, kb->body_len) != 0)
            s = env_fail(err, ENVELOPE_ERR_DEK_ID_CONFLICT,
                         "a different key block with this DEK id is already loaded; the new one "
                         "was refused");
        pthread_rwlock_unlock(&kr->lock);
        envelope_keyblock_free(kb); /* the one held stays */
        return s;
    }
    if (kr->n == kr->cap) {
        size_t cap = kr->cap ? kr->cap * 2 : 16;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        envelope_keyblock **grown = OPENSSL_realloc(kr->kb, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_rwlock_unlock(&kr->lock);
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        }
        kr->kb = grown;
        kr->cap = cap;
    }
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    memmove(kr->kb + i + 1, kr->kb + i, (kr->n - i) * sizeof(*kr->kb));
    kr->kb[i] = kb;
    kr->n++;
    pthread_rwlock_unlock(&kr->lock);
    return ENVELOPE_OK;
}

const envelope_keyblock *envelope_keyring_find(const envelope_keyring *kr, const uint8_t *dek_id)
{
    if (kr == NULL || dek_id == NULL)
        return NULL;
    envelope_keyring *m = (envelope_keyring *)kr; /* the lock, not the contents */
    const envelope_keyblock *kb = NULL;
    pthread_rwlock_rdlock(&m->lock);
    size_t i = lower_bound(kr, dek_id);
    if (i < kr->n && memcmp(kr->kb[i]->id, dek_id, ENVELOPE_DEK_ID_BYTES) == 0)
        kb = kr->kb[i];
    pthread_rwlock_unlock(&m->lock);
    return kb;
}

size_t envelope_keyring_count(const envelope_keyring *kr)
{
    if (kr == NULL)
        return 0;
    envelope_keyring *m = (envelope_keyring *)kr;
    pthread_rwlock_rdlock(&m->lock);
    size_t n = kr->n;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

envelope_status envelope_keyring_open(envelope_record_ctx *rc, const envelope_keyring *kr,
                                      const envelope_context *expected, const uint8_t *ad,
                                      size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out,
                                      size_t outsize, size_t *outlen,
                                      const envelope_keyblock **kb_out, envelope_err *err)
{
    const uint8_t *id = NULL;
    if (kb_out != NULL)
        *kb_out = NULL;
    if (kr == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_keyring_open: NULL argument");
    if (outlen != NULL)
        *outlen = 0;
    ENV_GUARD(envelope_record_dek_id(in, inlen, &id, err));
    const envelope_keyblock *kb = envelope_keyring_find(kr, id);
    if (kb == NULL)
        return env_fail(err, ENVELOPE_ERR_DEK_UNKNOWN,
                        "the record names a DEK id that no loaded key block has; load its key "
                        "block (envelope inspect shows the id)");
    /* the context lies between the fixed part and extensions + commitment */
    ENV_GUARD(env_context_check(expected, kb->bytes + ENV_KB_FIXED,
                                kb->body_len - ENV_KB_FIXED - 2 - ENV_COMMIT_LEN, err));
    ENV_GUARD(envelope_record_open(rc, kb, ad, adlen, in, inlen, out, outsize, outlen, err));
    if (kb_out != NULL)
        *kb_out = kb;
    return ENVELOPE_OK;
}

void envelope_keyring_free(envelope_keyring *kr)
{
    if (kr == NULL)
        return;
    for (size_t i = 0; i < kr->n; i++)
        envelope_keyblock_free(kr->kb[i]);
    OPENSSL_free(kr->kb);
    pthread_rwlock_destroy(&kr->lock);
    OPENSSL_free(kr);
}
