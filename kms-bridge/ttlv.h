/*
 * ttlv.h - KMIP 1.4 TTLV encoding (KMIP 1.4 spec §9.1): bounded writer and
 * reader. Nothing else in the bridge touches raw message bytes.
 *
 * Wire form of one item (§9.1.1): 3-byte tag, 1-byte type, 4-byte big-endian
 * length of the value (unpadded), then the value padded with zeros to a
 * multiple of 8 bytes. A Structure's value is the concatenation of its items.
 *
 * Writer contract: ttlv_w writes into caller memory of fixed capacity (the
 * caller allocates it, from envelope_secmem when it will hold key material).
 * Any overflow sets w->err and every later call is a no-op, so a builder
 * checks once, at the end.
 *
 * Reader contract: a ttlv_r cursor never reads outside [p, p+left). Every
 * length is checked against what is left before use, the padding must fit,
 * primitive lengths must match their type (§9.1.1.4), and structures nest at
 * most TTLV_MAX_DEPTH deep. Values point into the caller's buffer (no copy).
 */
#ifndef KMS_TTLV_H
#define KMS_TTLV_H

#include <stddef.h>
#include <stdint.h>

/* KMIP 1.4 §9.1.1.2 item types */
enum {
    TTLV_STRUCT = 0x01,
    TTLV_INT = 0x02,
    TTLV_LONG = 0x03,
    TTLV_BIGINT = 0x04,
    TTLV_ENUM = 0x05,
    TTLV_BOOL = 0x06,
    TTLV_TEXT = 0x07,
    TTLV_BYTES = 0x08,
    TTLV_DATETIME = 0x09,
    TTLV_INTERVAL = 0x0A,
};

/* Our responses are a header and one batch item holding a payload with one
 * structure at most a few levels down (Attribute -> Name); 16 leaves margin
 * and stops stack- or time-exhaustion by deeply nested input. */
#define TTLV_MAX_DEPTH 16
#define TTLV_HDR_LEN 8

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err; /* sticky: set on overflow or misuse */
} ttlv_w;

void ttlv_w_init(ttlv_w *w, uint8_t *buf, size_t cap);
/* Opens a structure; returns the offset to pass to ttlv_w_end. */
size_t ttlv_w_begin(ttlv_w *w, uint32_t tag);
void ttlv_w_end(ttlv_w *w, size_t begin);
void ttlv_w_int(ttlv_w *w, uint32_t tag, int32_t v);
void ttlv_w_enum(ttlv_w *w, uint32_t tag, uint32_t v);
void ttlv_w_long(ttlv_w *w, uint32_t tag, int64_t v);
void ttlv_w_bool(ttlv_w *w, uint32_t tag, int v);
void ttlv_w_datetime(ttlv_w *w, uint32_t tag, int64_t unix_seconds);
void ttlv_w_text(ttlv_w *w, uint32_t tag, const char *s, size_t n);
void ttlv_w_bytes(ttlv_w *w, uint32_t tag, const uint8_t *b, size_t n);
/* Bytes an item of value length n occupies on the wire. */
size_t ttlv_item_size(size_t n);

typedef struct {
    uint32_t tag;
    uint8_t type;
    uint32_t len;       /* unpadded value length */
    const uint8_t *val; /* len bytes, inside the reader's buffer */
    int depth;          /* depth of the structure holding this item */
} ttlv_item;

typedef struct {
    const uint8_t *p;
    size_t left;
    int depth;
} ttlv_r;

typedef enum {
    TTLV_OK = 0,
    TTLV_END = 1, /* no more items at this level */
    TTLV_EMALFORMED = -1,
    TTLV_ETOODEEP = -2,
    TTLV_ETYPE = -3,    /* item present but of another type or length */
    TTLV_EMISSING = -4, /* required item absent */
} ttlv_rc;

void ttlv_r_init(ttlv_r *r, const uint8_t *p, size_t len);
/* Reads the next item at this level; TTLV_END when the level is used up. */
ttlv_rc ttlv_next(ttlv_r *r, ttlv_item *it) __attribute__((warn_unused_result));
/* A cursor over the items inside a structure item. */
ttlv_rc ttlv_enter(const ttlv_item *it, ttlv_r *inner) __attribute__((warn_unused_result));
/* The first item with `tag` at this level (scans from the cursor's start,
 * without moving it). TTLV_EMISSING if none. */
ttlv_rc ttlv_find(const ttlv_r *r, uint32_t tag, ttlv_item *it) __attribute__((warn_unused_result));
/* Typed finders: absent -> TTLV_EMISSING, wrong type/length -> TTLV_ETYPE. */
ttlv_rc ttlv_find_struct(const ttlv_r *r, uint32_t tag, ttlv_r *inner)
    __attribute__((warn_unused_result));
ttlv_rc ttlv_find_int(const ttlv_r *r, uint32_t tag, int32_t *v)
    __attribute__((warn_unused_result));
ttlv_rc ttlv_find_enum(const ttlv_r *r, uint32_t tag, uint32_t *v)
    __attribute__((warn_unused_result));
ttlv_rc ttlv_find_bytes(const ttlv_r *r, uint32_t tag, const uint8_t **b, size_t *n)
    __attribute__((warn_unused_result));
ttlv_rc ttlv_find_text(const ttlv_r *r, uint32_t tag, const char **s, size_t *n)
    __attribute__((warn_unused_result));
/* Walks a whole message: every item well formed, depth limited. */
ttlv_rc ttlv_validate(const uint8_t *p, size_t len) __attribute__((warn_unused_result));

#endif
