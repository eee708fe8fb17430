/*
 * rewrap.c - KEK rotation without touching the data: a message's EDK list
 * is replaced while its authenticated header (body and tag) and its frames
 * stay byte for byte what they were. This works because the header tag
 * does not cover the EDK list and each EDK is bound by its own wrap AAD
 * (docs/FORMAT.md §1, §5.3).
 *
 * The DEK is unwrapped with the caller's `from` KEKs only (never with a
 * reference read from the message), must pass the key commitment and the
 * header tag (env_unwrap_header), and is wrapped afresh for each `to` KEK.
 * It lives in the env_crypto secrets (envelope_secmem: locked, not dumped)
 * and is wiped by env_crypto_cleanup on every path.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"

/* An EDK is "for" a KEK when it records the KEK's key id and wrap kind,
 * the rule decryption uses to pick candidates (docs/FORMAT.md §5.3). */
static int edk_for(const env_edk *e, const envelope_kek *k)
{
    return e->kind == (uint8_t)k->kind && e->key_id_len == k->key_id_len &&
           memcmp(e->key_id, k->key_id, k->key_id_len) == 0;
}

static int edk_for_any(const env_edk *e, envelope_kek *const *keks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (edk_for(e, keks[i]))
            return 1;
    return 0;
}

static int same_kek(const envelope_kek *a, const envelope_kek *b)
{
    return a->kind == b->kind && a->key_id_len == b->key_id_len &&
           memcmp(a->key_id, b->key_id, a->key_id_len) == 0;
}

/* 1 if to[i] repeats an earlier `to` KEK (wrapped once only). */
static int repeated(envelope_kek *const *to, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (same_kek(to[j], to[i]))
            return 1;
    return 0;
}

static envelope_status check_keks(envelope_kek *const *keks, size_t n, const char *what,
                                  envelope_err *err)
{
    if (n == 0 || n > ENVELOPE_MAX_EDKS || keks == NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_COUNT, "rewrap needs 1..%d %s KEKs (got %zu)",
                        ENVELOPE_MAX_EDKS, what, n);
    for (size_t i = 0; i < n; i++) {
        if (keks[i] == NULL)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "%s KEK %zu is NULL", what, i + 1);
        /* Without a key id an EDK cannot be told apart from another's:
         * remove_old and the already-done test would be guesses. */
        if (keks[i]->key_id_len == 0)
            return env_fail(err, ENVELOPE_ERR_KEK_UNSUPPORTED,
                            "KEK \"%.200s\" has no key id, so its EDKs cannot be recognised",
                            keks[i]->ref);
    }
    return ENVELOPE_OK;
}

/* What the new list keeps of the old one: an EDK of a `to` KEK is wrapped
 * afresh, one of a `from` KEK goes with remove_old. */
static int keep_edk(const envelope_rewrap_opts *o, const env_edk *e)
{
    if (edk_for_any(e, o->to, o->nto))
        return 0;
    return !(o->remove_old && edk_for_any(e, o->from, o->nfrom));
}

/* The bytes of one parsed EDK, as they are in the message. */
static const uint8_t *edk_span(const env_edk *e, size_t *len)
{
    const uint8_t *start = e->uri - 4; /* kind, reserved, u16 ref_len */
    *len = (size_t)(e->wrapped + e->wrapped_len - start);
    return start;
}

static envelope_status plan(const envelope_rewrap_opts *o, const env_header *h,
                            envelope_rewrap_result *r, size_t *kept, envelope_err *err)
{
    size_t nto = 0, missing = 0, stale = 0;
    for (size_t i = 0; i < o->nto; i++) {
        if (repeated(o->to, i))
            continue;
        nto++;
        int present = 0;
        for (size_t j = 0; j < h->edk_count && !present; j++)
            present = edk_for(&h->edks[j], o->to[i]);
        missing += !present;
    }
    *kept = 0;
    for (size_t j = 0; j < h->edk_count; j++) {
        const env_edk *e = &h->edks[j];
        if (keep_edk(o, e))
            (*kept)++;
        else if (!edk_for_any(e, o->to, o->nto))
            stale++; /* a `from` EDK that remove_old drops */
    }
    r->already_done = missing == 0 && stale == 0;
    r->edks_added = missing;
    r->edks_removed = stale;
    if (*kept + nto > ENVELOPE_MAX_EDKS)
        return env_fail(err, ENVELOPE_ERR_EDK_COUNT,
                        "the rewrapped message would have %zu EDKs; the format allows %d "
                        "(drop old ones with remove_old)",
                        *kept + nto, ENVELOPE_MAX_EDKS);
    return ENVELOPE_OK;
}

static envelope_status wrap_one(env_crypto *c, const env_header *h, const envelope_kek *k,
                                env_wr *w, envelope_err *err)
{
    size_t ulen = strlen(k->ref), wlen = 0;
    uint8_t aad[32], wrapped[ENVELOPE_MAX_WRAPPED];
    ENV_GUARD(env_wrap_aad(c->lib, h->suite, h->ctx_enc, h->ctx_enc_len, k->kind,
                           (const uint8_t *)k->ref, ulen, k->key_id, k->key_id_len, aad, err));
    ENV_GUARD(env_kek_wrap_for(k, aad, c->s->dek, 1, wrapped, &wlen, sizeof(wrapped), err));
    env_wr_u8(w, (uint8_t)k->kind);
    env_wr_u8(w, 0);
    env_wr_u16(w, (uint16_t)ulen);
    env_wr_bytes(w, k->ref, ulen);
    env_wr_u8(w, (uint8_t)k->key_id_len);
    env_wr_bytes(w, k->key_id, k->key_id_len);
    env_wr_u16(w, (uint16_t)wlen);
    env_wr_bytes(w, wrapped, wlen);
    return ENVELOPE_OK;
}

/* The new header: the authenticated header as it was, then the kept EDKs
 * in their order, then one fresh EDK per `to` KEK. */
static envelope_status build(env_crypto *c, const envelope_rewrap_opts *o, const env_header *h,
                             size_t kept, uint8_t **out, size_t *outlen, envelope_err *err)
{
    size_t cap = h->body_len + ENV_TAG_LEN + 1 + h->edk_list_len;
    for (size_t i = 0; i < o->nto; i++)
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): check_keks saw every KEK
        cap += 1 + 1 + 2 + strlen(o->to[i]->ref) + 1 + o->to[i]->key_id_len + 2 +
               ENVELOPE_MAX_WRAPPED;
    uint8_t *buf = OPENSSL_malloc(cap);
    if (buf == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    env_wr w;
    env_wr_init(&w, buf, cap);
    env_wr_bytes(&w, h->body, h->body_len + ENV_TAG_LEN); /* the tag follows the body */
    size_t count = kept;
    for (size_t i = 0; i < o->nto; i++)
        count += !repeated(o->to, i);
    env_wr_u8(&w, (uint8_t)count);
    for (size_t j = 0; j < h->edk_count; j++) {
        size_t n;
        const uint8_t *p = edk_span(&h->edks[j], &n);
        if (keep_edk(o, &h->edks[j]))
            env_wr_bytes(&w, p, n);
    }
    envelope_status s = ENVELOPE_OK;
    for (size_t i = 0; s == ENVELOPE_OK && i < o->nto; i++)
        if (!repeated(o->to, i))
            s = wrap_one(c, h, o->to[i], &w, err);
    /* The result must be a header this library reads, ending where it was
     * written; anything else is a bug, and nothing is returned. */
    env_header check;
    if (s == ENVELOPE_OK &&
        (w.overflow || env_header_parse(buf, w.off, &check, NULL, NULL) != ENVELOPE_OK ||
         check.total_len != w.off || check.edk_count != count))
        s = env_fail(err, ENVELOPE_ERR_INTERNAL, "rewrap made a header that does not parse");
    if (s != ENVELOPE_OK) {
        OPENSSL_free(buf);
        return s;
    }
    *out = buf;
    *outlen = w.off;
    return ENVELOPE_OK;
}

envelope_status envelope_rewrap_header(envelope_lib *lib, const envelope_rewrap_opts *o,
                                       const uint8_t *in, size_t inlen, envelope_rewrap_result *r,
                                       envelope_err *err)
{
    env_err_clear(err);
    if (r != NULL)
        memset(r, 0, sizeof(*r));
    if (lib == NULL || in == NULL || r == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_rewrap_header: NULL argument");
    envelope_rewrap_opts oc;
    ENV_GUARD(env_rewrap_opts_get(o, &oc, err));
    o = &oc;
    ENV_GUARD(check_keks(o->from, o->nfrom, "--from", err));
    ENV_GUARD(check_keks(o->to, o->nto, "--to", err));
    env_header h;
    size_t kept = 0;
    ENV_GUARD(env_header_parse(in, inlen, &h, NULL, err));
    ENV_GUARD(plan(o, &h, r, &kept, err));
    r->old_header_len = h.total_len;
    if (r->already_done)
        return ENVELOPE_OK; /* no KEK used: a rerun costs no backend call */

    env_crypto c;
    envelope_status s = env_crypto_init(&c, lib, ENV_KEY_DEC, err);
    if (s != ENVELOPE_OK)
        return s;
    /* Unwrap, derive, commitment, header tag: a DEK that does not commit
     * to this header is never wrapped for anyone. */
    s = env_unwrap_header(&c, o->from, o->nfrom, &h, err);
    if (s == ENVELOPE_OK && !o->dry_run)
        s = build(&c, o, &h, kept, &r->header, &r->header_len, err);
    env_crypto_cleanup(&c); /* wipes the DEK and the derived keys */
    if (s != ENVELOPE_OK) {
        size_t old = r->old_header_len;
        memset(r, 0, sizeof(*r));
        r->old_header_len = old;
    }
    return s;
}
