/*
 * unwrap.c - finding the DEK of a message. KEK references in a message are
 * untrusted (issue 3): with caller-named KEKs only those are tried (an EDK
 * is a candidate for a KEK whose key id it records); otherwise only
 * references env_uri_check_untrusted accepts are opened.
 *
 * An unwrapped DEK must also pass the key commitment: a DEK that unwraps
 * but does not commit to the header means two recipients would read two
 * different plaintexts, so it fails the message instead of trying the next
 * EDK (docs/FORMAT.md §5.4).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

static int same_id(const envelope_kek *k, const env_edk *e)
{
    return e->key_id_len == k->key_id_len &&
           (e->key_id_len == 0 || memcmp(e->key_id, k->key_id, e->key_id_len) == 0);
}

/* Worst failure seen so far, by what the caller should do about it. */
static int rank(envelope_status s)
{
    switch (s) {
    case ENVELOPE_ERR_BACKEND: return 5;
    case ENVELOPE_ERR_POLICY: return 4;
    case ENVELOPE_ERR_AUTH: return 3;
    case ENVELOPE_ERR_KEK_REF_REFUSED: return 2;
    default: return 1;
    }
}

static envelope_status try_edk(env_crypto *c, const envelope_kek *k, const env_header *h,
                               const env_edk *e, envelope_err *err)
{
    uint8_t aad[32];
    ENV_GUARD(env_wrap_aad(c->lib, h->suite, h->ctx_enc, h->ctx_enc_len, e->kind, e->uri,
                           e->uri_len, e->key_id, e->key_id_len, aad, err));
    return env_kek_unwrap(k, e->kind, aad, e->wrapped, e->wrapped_len, c->s->dek, err);
}

envelope_status env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                  const env_header *h, envelope_err *err)
{
    envelope_err last = { ENVELOPE_ERR_NO_KEK, "" };
    envelope_err e1;
    size_t tried = 0;
    for (size_t i = 0; i < h->edk_count; i++) {
        const env_edk *e = &h->edks[i];
        envelope_status s;
        if (nkeks > 0) {
            for (size_t j = 0; j < nkeks; j++) {
                if (!same_id(keks[j], e) || keks[j]->kind != e->kind)
                    continue;
                tried++;
                if ((s = try_edk(c, keks[j], h, e, &e1)) == ENVELOPE_OK)
                    goto unwrapped;
                if (rank(s) >= rank(last.code))
                    last = e1;
            }
            continue;
        }
        char uri[ENVELOPE_MAX_KEK_URI + 1];
        envelope_kek *k = NULL;
        if ((s = env_uri_check_untrusted(e->uri, e->uri_len, uri, sizeof(uri), &e1)) != ENVELOPE_OK ||
            (s = envelope_kek_open(c->lib, uri, &k, &e1)) != ENVELOPE_OK) {
            if (s == ENVELOPE_ERR_KEK_NOT_FOUND)
                s = e1.code = ENVELOPE_ERR_NO_KEK;
            if (rank(s) >= rank(last.code))
                last = e1;
            continue;
        }
        if (!same_id(k, e) || k->kind != e->kind) {
            envelope_kek_free(k);
            continue;
        }
        tried++;
        s = try_edk(c, k, h, e, &e1);
        envelope_kek_free(k);
        if (s == ENVELOPE_OK)
            goto unwrapped;
        if (rank(s) >= rank(last.code))
            last = e1;
    }
    if (tried == 0 && last.code == ENVELOPE_ERR_NO_KEK)
        return env_fail(err, ENVELOPE_ERR_NO_KEK,
                        "none of the message's %zu EDKs is for the KEKs at hand; see which KEKs "
                        "it needs with: envelope inspect", h->edk_count);
    if (last.code == ENVELOPE_ERR_AUTH || last.code == ENVELOPE_ERR_NO_KEK)
        /* One uniform answer: do not say which EDK or check failed. */
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    if (err != NULL)
        *err = last;
    return last.code;

unwrapped:
    ENV_GUARD(env_crypto_derive(c, h->message_id, err));
    return env_header_verify(c, h, err);
}
