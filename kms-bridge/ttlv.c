/*
 * ttlv.c - KMIP 1.4 §9.1 TTLV writer and bounded reader. See ttlv.h.
 */
#include "ttlv.h"

#include <string.h>

/* ---- writer ------------------------------------------------------------ */

void ttlv_w_init(ttlv_w *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = buf == NULL;
}

size_t ttlv_item_size(size_t n)
{
    return TTLV_HDR_LEN + ((n + 7) & ~(size_t)7);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Reserves header + padded value; returns the value's start or NULL. */
static uint8_t *put_hdr(ttlv_w *w, uint32_t tag, uint8_t type, size_t n)
{
    /* n is checked against the room left before it is rounded up, so that
     * n + 7 cannot wrap a 32-bit size_t. */
    if (w->err || n > UINT32_MAX || n > w->cap - w->len || ttlv_item_size(n) > w->cap - w->len) {
        w->err = 1;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    put_be(p, tag, 3);
    p[3] = type;
    put_be(p + 4, n, 4);
    memset(p + TTLV_HDR_LEN, 0, ttlv_item_size(n) - TTLV_HDR_LEN);
    w->len += ttlv_item_size(n);
    return p + TTLV_HDR_LEN;
}

size_t ttlv_w_begin(ttlv_w *w, uint32_t tag)
{
    size_t at = w->len;
    (void)put_hdr(w, tag, TTLV_STRUCT, 0);
    return at;
}

void ttlv_w_end(ttlv_w *w, size_t begin)
{
    if (w->err || begin + TTLV_HDR_LEN > w->len) {
        w->err = 1;
        return;
    }
    size_t n = w->len - begin - TTLV_HDR_LEN;
    if (n > UINT32_MAX) {
        w->err = 1;
        return;
    }
    put_be(w->buf + begin + 4, n, 4);
}

void ttlv_w_int(ttlv_w *w, uint32_t tag, int32_t v)
{
    uint8_t *p = put_hdr(w, tag, TTLV_INT, 4);
    if (p)
        put_be(p, (uint32_t)v, 4);
}

void ttlv_w_enum(ttlv_w *w, uint32_t tag, uint32_t v)
{
    uint8_t *p = put_hdr(w, tag, TTLV_ENUM, 4);
    if (p)
        put_be(p, v, 4);
}

void ttlv_w_long(ttlv_w *w, uint32_t tag, int64_t v)
{
    uint8_t *p = put_hdr(w, tag, TTLV_LONG, 8);
    if (p)
        put_be(p, (uint64_t)v, 8);
}

void ttlv_w_bool(ttlv_w *w, uint32_t tag, int v)
{
    uint8_t *p = put_hdr(w, tag, TTLV_BOOL, 8);
    if (p)
        put_be(p, v ? 1 : 0, 8);
}

void ttlv_w_datetime(ttlv_w *w, uint32_t tag, int64_t unix_seconds)
{
    uint8_t *p = put_hdr(w, tag, TTLV_DATETIME, 8);
    if (p)
        put_be(p, (uint64_t)unix_seconds, 8);
}

void ttlv_w_text(ttlv_w *w, uint32_t tag, const char *s, size_t n)
{
    uint8_t *p = put_hdr(w, tag, TTLV_TEXT, n);
    if (p && n)
        memcpy(p, s, n);
}

void ttlv_w_bytes(ttlv_w *w, uint32_t tag, const uint8_t *b, size_t n)
{
    uint8_t *p = put_hdr(w, tag, TTLV_BYTES, n);
    if (p && n)
        memcpy(p, b, n);
}

/* ---- reader ------------------------------------------------------------ */

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

void ttlv_r_init(ttlv_r *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->left = p ? len : 0;
    r->depth = 0;
}

/* §9.1.1.4: fixed lengths per primitive type. */
static int length_ok(uint8_t type, uint32_t len)
{
    switch (type) {
    case TTLV_INT:
    case TTLV_ENUM:
    case TTLV_INTERVAL: return len == 4;
    case TTLV_LONG:
    case TTLV_DATETIME:
    case TTLV_BOOL: return len == 8;
    case TTLV_BIGINT:
    case TTLV_STRUCT: /* items inside are padded, so the sum is too */ return len % 8 == 0;
    case TTLV_TEXT:
    case TTLV_BYTES: return 1;
    default: return 0; /* unknown type: refuse rather than guess its size */
    }
}

ttlv_rc ttlv_next(ttlv_r *r, ttlv_item *it)
{
    if (r->left == 0)
        return TTLV_END;
    if (r->left < TTLV_HDR_LEN)
        return TTLV_EMALFORMED;
    uint32_t tag = (uint32_t)get_be(r->p, 3);
    uint8_t type = r->p[3];
    uint32_t len = (uint32_t)get_be(r->p + 4, 4);
    /* In 64 bits: len + 7 must not wrap a 32-bit size_t. */
    uint64_t padded64 = ((uint64_t)len + 7) & ~(uint64_t)7;
    if (padded64 > (uint64_t)(r->left - TTLV_HDR_LEN) || !length_ok(type, len))
        return TTLV_EMALFORMED;
    size_t padded = (size_t)padded64;
    /* §9.1.1.1: tags are 0x42XXXX (spec) or 0x54XXXX (extensions). */
    if ((tag >> 16) != 0x42 && (tag >> 16) != 0x54)
        return TTLV_EMALFORMED;
    if (type == TTLV_BOOL && get_be(r->p + TTLV_HDR_LEN, 8) > 1)
        return TTLV_EMALFORMED;
    it->tag = tag;
    it->type = type;
    it->len = len;
    it->val = r->p + TTLV_HDR_LEN;
    it->depth = r->depth;
    r->p += TTLV_HDR_LEN + padded;
    r->left -= TTLV_HDR_LEN + padded;
    return TTLV_OK;
}

ttlv_rc ttlv_enter(const ttlv_item *it, ttlv_r *inner)
{
    if (it->type != TTLV_STRUCT)
        return TTLV_ETYPE;
    if (it->depth + 1 > TTLV_MAX_DEPTH)
        return TTLV_ETOODEEP;
    inner->p = it->val;
    inner->left = it->len;
    inner->depth = it->depth + 1;
    return TTLV_OK;
}

ttlv_rc ttlv_find(const ttlv_r *r, uint32_t tag, ttlv_item *it)
{
    ttlv_r c = *r;
    ttlv_rc rc;
    while ((rc = ttlv_next(&c, it)) == TTLV_OK)
        if (it->tag == tag)
            return TTLV_OK;
    return rc == TTLV_END ? TTLV_EMISSING : rc;
}

static ttlv_rc find_typed(const ttlv_r *r, uint32_t tag, uint8_t type, ttlv_item *it)
{
    ttlv_rc rc = ttlv_find(r, tag, it);
    if (rc != TTLV_OK)
        return rc;
    return it->type == type ? TTLV_OK : TTLV_ETYPE;
}

ttlv_rc ttlv_find_struct(const ttlv_r *r, uint32_t tag, ttlv_r *inner)
{
    ttlv_item it;
    ttlv_rc rc = find_typed(r, tag, TTLV_STRUCT, &it);
    return rc != TTLV_OK ? rc : ttlv_enter(&it, inner);
}

ttlv_rc ttlv_find_int(const ttlv_r *r, uint32_t tag, int32_t *v)
{
    ttlv_item it;
    ttlv_rc rc = find_typed(r, tag, TTLV_INT, &it);
    if (rc == TTLV_OK)
        *v = (int32_t)(uint32_t)get_be(it.val, 4);
    return rc;
}

ttlv_rc ttlv_find_enum(const ttlv_r *r, uint32_t tag, uint32_t *v)
{
    ttlv_item it;
    ttlv_rc rc = find_typed(r, tag, TTLV_ENUM, &it);
    if (rc == TTLV_OK)
        *v = (uint32_t)get_be(it.val, 4);
    return rc;
}

ttlv_rc ttlv_find_bytes(const ttlv_r *r, uint32_t tag, const uint8_t **b, size_t *n)
{
    ttlv_item it;
    ttlv_rc rc = find_typed(r, tag, TTLV_BYTES, &it);
    if (rc == TTLV_OK) {
        *b = it.val;
        *n = it.len;
    }
    return rc;
}

ttlv_rc ttlv_find_text(const ttlv_r *r, uint32_t tag, const char **s, size_t *n)
{
    ttlv_item it;
    ttlv_rc rc = find_typed(r, tag, TTLV_TEXT, &it);
    if (rc == TTLV_OK) {
        *s = (const char *)it.val;
        *n = it.len;
    }
    return rc;
}

/* Recursion is bounded by TTLV_MAX_DEPTH through ttlv_enter. */
static ttlv_rc validate_level(ttlv_r *r) // NOLINT(misc-no-recursion): depth bounded

{
    ttlv_item it;
    ttlv_rc rc;
    while ((rc = ttlv_next(r, &it)) == TTLV_OK) {
        if (it.type == TTLV_STRUCT) {
            ttlv_r inner;
            if ((rc = ttlv_enter(&it, &inner)) != TTLV_OK)
                return rc;
            if ((rc = validate_level(&inner)) != TTLV_OK)
                return rc;
        }
    }
    return rc == TTLV_END ? TTLV_OK : rc;
}

ttlv_rc ttlv_validate(const uint8_t *p, size_t len)
{
    ttlv_r r;
    ttlv_r_init(&r, p, len);
    if (len == 0)
        return TTLV_EMALFORMED;
    return validate_level(&r);
}
