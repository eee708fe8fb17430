/*
 * context.c - the encryption context: UTF-8 key=value pairs kept sorted by
 * key bytes, so that its encoding (docs/FORMAT.md §3.2) is canonical.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
 * NUL is refused too (C strings carry these values). */
int env_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Byte-wise order, a prefix before its extensions. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int r = m ? memcmp(a, b, m) : 0;
    if (r != 0)
        return r;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

envelope_status envelope_context_new(envelope_context **out, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_context_new: out is NULL");
    *out = OPENSSL_zalloc(sizeof(**out));
    return *out ? ENVELOPE_OK : env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
}

void envelope_context_free(envelope_context *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        OPENSSL_clear_free(c->pairs[i].key, c->pairs[i].klen + 1);
        OPENSSL_clear_free(c->pairs[i].value, c->pairs[i].vlen + 1);
    }
    OPENSSL_free(c->pairs);
    OPENSSL_free(c);
}

/* Adds a validated pair; `fmt_err` picks caller (usage) or message (format) codes. */
static envelope_status add_pair(envelope_context *c, const uint8_t *k, size_t klen,
                                const uint8_t *v, size_t vlen, int from_message, envelope_err *err)
{
    envelope_status limit = from_message ? ENVELOPE_ERR_CONTEXT_LIMIT
                                         : ENVELOPE_ERR_CONTEXT_INVALID;
    envelope_status enc = from_message ? ENVELOPE_ERR_CONTEXT_ENCODING
                                       : ENVELOPE_ERR_CONTEXT_INVALID;
    if (c->n >= ENVELOPE_MAX_CONTEXT_PAIRS)
        return env_fail(err, limit, "encryption context has more than %d pairs",
                        ENVELOPE_MAX_CONTEXT_PAIRS);
    if (klen == 0 || klen > ENVELOPE_MAX_CONTEXT_KEY)
        return env_fail(err, limit, "context key length %zu is outside 1..%d bytes", klen,
                        ENVELOPE_MAX_CONTEXT_KEY);
    if (vlen > ENVELOPE_MAX_CONTEXT_VALUE)
        return env_fail(err, limit, "context value length %zu is over %d bytes", vlen,
                        ENVELOPE_MAX_CONTEXT_VALUE);
    if (!env_utf8_valid(k, klen) || memchr(k, '=', klen) != NULL)
        return env_fail(err, enc, "context key is not UTF-8 without NUL and '='");
    if (!env_utf8_valid(v, vlen))
        return env_fail(err, enc, "context value is not UTF-8 without NUL");
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++)
        total += 4 + c->pairs[i].klen + c->pairs[i].vlen;
    if (total + 4 + klen + vlen > ENVELOPE_MAX_CONTEXT_BYTES)
        return env_fail(err, limit, "encryption context is over %d bytes encoded",
                        ENVELOPE_MAX_CONTEXT_BYTES);
    /* Find the insertion point; a message must already be in order. */
    size_t at = c->n;
    for (size_t i = 0; i < c->n; i++) {
        int r = key_cmp((const uint8_t *)c->pairs[i].key, c->pairs[i].klen, k, klen);
        if (r == 0)
            return env_fail(err, enc, "context key given twice");
        if (r > 0) {
            at = i;
            break;
        }
    }
    if (from_message && at != c->n)
        return env_fail(err, enc, "context pairs are not in canonical (sorted) order");
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 4;
        env_pair *np = OPENSSL_realloc(c->pairs, ncap * sizeof(*np));
        if (np == NULL)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        c->pairs = np;
        c->cap = ncap;
    }
    env_pair p = {OPENSSL_malloc(klen + 1), OPENSSL_malloc(vlen + 1), klen, vlen};
    if (p.key == NULL || p.value == NULL) {
        OPENSSL_free(p.key);
        OPENSSL_free(p.value);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    memcpy(p.key, k, klen);
    p.key[klen] = '\0';
    if (vlen)
        memcpy(p.value, v, vlen);
    p.value[vlen] = '\0';
    memmove(c->pairs + at + 1, c->pairs + at, (c->n - at) * sizeof(*c->pairs));
    c->pairs[at] = p;
    c->n++;
    return ENVELOPE_OK;
}

envelope_status envelope_context_add(envelope_context *c, const char *key, const char *value,
                                     envelope_err *err)
{
    env_err_clear(err);
    if (c == NULL || key == NULL || value == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_context_add: NULL argument");
    return add_pair(c, (const uint8_t *)key, strlen(key), (const uint8_t *)value, strlen(value), 0,
                    err);
}

envelope_status envelope_context_add_kv(envelope_context *c, const char *kv, envelope_err *err)
{
    env_err_clear(err);
    if (c == NULL || kv == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_context_add_kv: NULL argument");
    const char *eq = strchr(kv, '=');
    if (eq == NULL)
        return env_fail(err, ENVELOPE_ERR_CONTEXT_INVALID,
                        "context pair must be KEY=VALUE (no '=' found)");
    return add_pair(c, (const uint8_t *)kv, (size_t)(eq - kv), (const uint8_t *)eq + 1,
                    strlen(eq + 1), 0, err);
}

size_t envelope_context_count(const envelope_context *c)
{
    return c ? c->n : 0;
}

const char *envelope_context_key(const envelope_context *c, size_t i)
{
    return c && i < c->n ? c->pairs[i].key : NULL;
}

const char *envelope_context_value(const envelope_context *c, size_t i)
{
    return c && i < c->n ? c->pairs[i].value : NULL;
}

const char *envelope_context_get(const envelope_context *c, const char *key)
{
    if (c == NULL || key == NULL)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < c->n; i++)
        if (c->pairs[i].klen == klen && memcmp(c->pairs[i].key, key, klen) == 0)
            return c->pairs[i].value;
    return NULL;
}

size_t env_context_encoded_len(const envelope_context *c)
{
    size_t n = 2;
    for (size_t i = 0; c && i < c->n; i++)
        n += 4 + c->pairs[i].klen + c->pairs[i].vlen;
    return n;
}

void env_context_encode(const envelope_context *c, uint8_t *out)
{
    env_wr w;
    env_wr_init(&w, out, env_context_encoded_len(c));
    env_wr_u16(&w, (uint16_t)(c ? c->n : 0));
    for (size_t i = 0; c && i < c->n; i++) {
        env_wr_u16(&w, (uint16_t)c->pairs[i].klen);
        env_wr_bytes(&w, c->pairs[i].key, c->pairs[i].klen);
        env_wr_u16(&w, (uint16_t)c->pairs[i].vlen);
        env_wr_bytes(&w, c->pairs[i].value, c->pairs[i].vlen);
    }
}

envelope_status env_context_decode(const uint8_t *enc, size_t len, envelope_context **out,
                                   envelope_err *err)
{
    envelope_context *c = NULL;
    ENV_GUARD(envelope_context_new(&c, err));
    env_rd r;
    env_rd_init(&r, enc, len);
    uint16_t count, kl, vl;
    envelope_status s = ENVELOPE_OK;
    if (!env_rd_u16(&r, &count)) {
        s = env_fail(err, ENVELOPE_ERR_TRUNCATED, "header ends inside the encryption context");
        goto done;
    }
    for (uint16_t i = 0; i < count; i++) {
        const uint8_t *k, *v;
        if (!env_rd_u16(&r, &kl) || (k = env_rd_bytes(&r, kl)) == NULL || !env_rd_u16(&r, &vl) ||
            (v = env_rd_bytes(&r, vl)) == NULL) {
            s = env_fail(err, ENVELOPE_ERR_TRUNCATED, "header ends inside the encryption context");
            goto done;
        }
        if ((s = add_pair(c, k, kl, v, vl, 1, err)) != ENVELOPE_OK)
            goto done;
    }
    if (env_rd_left(&r) != 0)
        s = env_fail(err, ENVELOPE_ERR_CONTEXT_ENCODING, "bytes left after the encryption context");
done:
    if (s != ENVELOPE_OK) {
        envelope_context_free(c);
        c = NULL;
    }
    *out = c;
    return s;
}

envelope_status env_context_dup(const envelope_context *c, envelope_context **out,
                                envelope_err *err)
{
    envelope_context *d = NULL;
    ENV_GUARD(envelope_context_new(&d, err));
    for (size_t i = 0; c && i < c->n; i++) {
        envelope_status s = add_pair(d, (const uint8_t *)c->pairs[i].key, c->pairs[i].klen,
                                     (const uint8_t *)c->pairs[i].value, c->pairs[i].vlen, 0, err);
        if (s != ENVELOPE_OK) {
            envelope_context_free(d);
            return s;
        }
    }
    *out = d;
    return ENVELOPE_OK;
}

/* Walks the (already validated) encoding without allocating: this runs
 * once per record on the opener's hot path. */
envelope_status env_context_check(const envelope_context *expected, const uint8_t *enc, size_t len,
                                  envelope_err *err)
{
    for (size_t i = 0; expected && i < expected->n; i++) {
        const env_pair *want = &expected->pairs[i];
        env_rd r;
        env_rd_init(&r, enc, len);
        uint16_t count, kl, vl;
        int found = 0, same = 0;
        if (!env_rd_u16(&r, &count))
            return env_fail(err, ENVELOPE_ERR_TRUNCATED, "header ends inside the context");
        for (uint16_t j = 0; j < count && !found; j++) {
            const uint8_t *k, *v;
            if (!env_rd_u16(&r, &kl) || (k = env_rd_bytes(&r, kl)) == NULL ||
                !env_rd_u16(&r, &vl) || (v = env_rd_bytes(&r, vl)) == NULL)
                return env_fail(err, ENVELOPE_ERR_TRUNCATED, "header ends inside the context");
            if (kl == want->klen && memcmp(k, want->key, kl) == 0) {
                found = 1;
                same = vl == want->vlen && CRYPTO_memcmp(v, want->value, vl) == 0;
            }
        }
        /* Key names are not secret; values are never printed. */
        if (!found)
            return env_fail(err, ENVELOPE_ERR_CONTEXT_MISMATCH,
                            "expected context key \"%.64s\" is not in the message", want->key);
        if (!same)
            return env_fail(err, ENVELOPE_ERR_CONTEXT_MISMATCH,
                            "context key \"%.64s\" has another value in the message", want->key);
    }
    return ENVELOPE_OK;
}
