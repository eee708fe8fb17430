/*
 * bytes.h - bounded reader and writer: every byte that comes from outside
 * goes through env_rd_*, so a parser reads like the format spec
 * (docs/FORMAT.md) and can never read past its input. A reader that runs
 * out remembers how many bytes it would have needed (rd->need), which lets
 * a streaming caller wait for exactly that much more input.
 *
 * The writer refuses to overflow: env_wr_* set w->overflow instead.
 */
#ifndef ENVELOPE_LIB_BYTES_H
#define ENVELOPE_LIB_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct env_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    size_t need; /* on a short read: total bytes needed to go on */
    int short_read;
} env_rd;

static inline void env_rd_init(env_rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->need = 0;
    r->short_read = 0;
}

/* Returns a pointer to n bytes and advances, or NULL (short read). */
static inline const uint8_t *env_rd_bytes(env_rd *r, size_t n)
{
    if (r->short_read)
        return NULL;
    if (n > r->len - r->off) {
        r->short_read = 1;
        r->need = r->off + n;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

static inline int env_rd_u8(env_rd *r, uint8_t *v)
{
    const uint8_t *q = env_rd_bytes(r, 1);
    if (q == NULL)
        return 0;
    *v = q[0];
    return 1;
}

static inline int env_rd_u16(env_rd *r, uint16_t *v)
{
    const uint8_t *q = env_rd_bytes(r, 2);
    if (q == NULL)
        return 0;
    *v = (uint16_t)((q[0] << 8) | q[1]);
    return 1;
}

static inline int env_rd_u32(env_rd *r, uint32_t *v)
{
    const uint8_t *q = env_rd_bytes(r, 4);
    if (q == NULL)
        return 0;
    *v = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
    return 1;
}

static inline size_t env_rd_left(const env_rd *r)
{
    return r->len - r->off;
}

typedef struct env_wr {
    uint8_t *p;
    size_t cap;
    size_t off;
    int overflow;
} env_wr;

static inline void env_wr_init(env_wr *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->off = 0;
    w->overflow = 0;
}

static inline void env_wr_bytes(env_wr *w, const void *src, size_t n)
{
    if (w->overflow || n > w->cap - w->off) {
        w->overflow = 1;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->off, src, n);
    w->off += n;
}

static inline void env_wr_u8(env_wr *w, uint8_t v)
{
    env_wr_bytes(w, &v, 1);
}

static inline void env_wr_u16(env_wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    env_wr_bytes(w, b, 2);
}

static inline void env_wr_u32(env_wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    env_wr_bytes(w, b, 4);
}

static inline void env_put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline void env_put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

#endif
