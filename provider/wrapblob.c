/*
 * wrapblob.c - encode and decode the wrapped-key blob (see wrapblob.h).
 */
#include "wrapblob.h"

#include <string.h>

#include <openssl/obj_mac.h>

/* A bounded reader: every read checks what is left first. */
typedef struct {
    const unsigned char *p;
    size_t left;
} reader;

static int read_u8(reader *r, unsigned *v)
{
    if (r->left < 1)
        return 0;
    *v = r->p[0];
    r->p++;
    r->left--;
    return 1;
}

static int read_u16(reader *r, size_t *v)
{
    if (r->left < 2)
        return 0;
    *v = ((size_t)r->p[0] << 8) | r->p[1];
    r->p += 2;
    r->left -= 2;
    return 1;
}

static int read_bytes(reader *r, size_t n, const unsigned char **out)
{
    if (r->left < n)
        return 0;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static int hash_code(int nid)
{
    switch (nid) {
    case NID_sha1: return 1;
    case NID_sha224: return 2;
    case NID_sha256: return 3;
    case NID_sha384: return 4;
    case NID_sha512: return 5;
    default: return 0;
    }
}

static int hash_nid(unsigned code)
{
    static const int nids[] = {0, NID_sha1, NID_sha224, NID_sha256, NID_sha384, NID_sha512};
    return code >= 1 && code <= 5 ? nids[code] : 0;
}

size_t wrapblob_encode(const wrapblob *b, unsigned char *out, size_t outsize)
{
    size_t need = 4;
    if (b->kind == WRAPBLOB_KIND_AES_GCM) {
        if (b->iv_len < 12 || b->iv_len > 16 || b->ct_len < 17 || b->ct_len > WRAPBLOB_AES_MAX_CT)
            return 0;
        need += 1 + b->iv_len + 2 + b->ct_len;
    } else if (b->kind == WRAPBLOB_KIND_RSA_OAEP) {
        if (!hash_code(b->oaep_md) || !hash_code(b->mgf1_md) || b->ct_len == 0 ||
            b->ct_len > WRAPBLOB_MAX_RSA_CT ||
            (b->binding != WRAPBLOB_BIND_LABEL && b->binding != WRAPBLOB_BIND_PAYLOAD))
            return 0;
        need += 3 + 2 + b->ct_len;
    } else if (b->kind == WRAPBLOB_KIND_ECDH_P256) {
        if (b->point == NULL || b->point[0] != 0x04 || b->iv_len != WRAPBLOB_EC_IV_LEN ||
            b->ct_len < 17 || b->ct_len > WRAPBLOB_AES_MAX_CT)
            return 0;
        need = WRAPBLOB_EC_HEADER_LEN + 2 + b->ct_len;
    } else if (b->kind == WRAPBLOB_KIND_KMS_OPAQUE) {
        if (b->ct == NULL || b->ct_len == 0 || b->ct_len > WRAPBLOB_KMS_MAX_CT)
            return 0;
        need += 2 + b->ct_len;
    } else {
        return 0;
    }
    if (need > outsize)
        return 0;
    unsigned char *p = out;
    *p++ = 'E';
    *p++ = 'W';
    *p++ = WRAPBLOB_VERSION;
    *p++ = (unsigned char)b->kind;
    if (b->kind == WRAPBLOB_KIND_AES_GCM) {
        *p++ = (unsigned char)b->iv_len;
        memcpy(p, b->iv, b->iv_len);
        p += b->iv_len;
    } else if (b->kind == WRAPBLOB_KIND_ECDH_P256) {
        *p++ = 1; /* P-256 */
        *p++ = 1; /* HKDF-SHA-256 */
        memcpy(p, b->point, WRAPBLOB_EC_POINT_LEN);
        p += WRAPBLOB_EC_POINT_LEN;
        memcpy(p, b->iv, WRAPBLOB_EC_IV_LEN);
        p += WRAPBLOB_EC_IV_LEN;
    } else if (b->kind == WRAPBLOB_KIND_RSA_OAEP) {
        *p++ = (unsigned char)hash_code(b->oaep_md);
        *p++ = (unsigned char)hash_code(b->mgf1_md);
        *p++ = (unsigned char)b->binding;
    }
    *p++ = (unsigned char)(b->ct_len >> 8);
    *p++ = (unsigned char)b->ct_len;
    if (b->ct != NULL)
        memcpy(p, b->ct, b->ct_len);
    else if (b->kind != WRAPBLOB_KIND_ECDH_P256)
        return 0;
    return need;
}

int wrapblob_decode(wrapblob *b, const unsigned char *in, size_t inlen)
{
    reader r = {in, inlen};
    unsigned m1, m2, ver, kind, v;
    memset(b, 0, sizeof(*b));
    if (!read_u8(&r, &m1) || !read_u8(&r, &m2) || m1 != 'E' || m2 != 'W' || !read_u8(&r, &ver) ||
        ver != WRAPBLOB_VERSION || !read_u8(&r, &kind))
        return 0;
    b->kind = (int)kind;
    if (kind == WRAPBLOB_KIND_AES_GCM) {
        const unsigned char *iv;
        if (!read_u8(&r, &v) || v < 12 || v > 16 || !read_bytes(&r, v, &iv))
            return 0;
        memcpy(b->iv, iv, v);
        b->iv_len = v;
        if (!read_u16(&r, &b->ct_len) || b->ct_len < 17 || b->ct_len > WRAPBLOB_AES_MAX_CT)
            return 0;
    } else if (kind == WRAPBLOB_KIND_RSA_OAEP) {
        unsigned h, g, bind;
        if (!read_u8(&r, &h) || !read_u8(&r, &g) || !read_u8(&r, &bind))
            return 0;
        b->oaep_md = hash_nid(h);
        b->mgf1_md = hash_nid(g);
        b->binding = (int)bind;
        if (!b->oaep_md || !b->mgf1_md ||
            (bind != WRAPBLOB_BIND_LABEL && bind != WRAPBLOB_BIND_PAYLOAD))
            return 0;
        if (!read_u16(&r, &b->ct_len) || b->ct_len == 0 || b->ct_len > WRAPBLOB_MAX_RSA_CT)
            return 0;
    } else if (kind == WRAPBLOB_KIND_ECDH_P256) {
        unsigned curve, kdf;
        const unsigned char *iv;
        if (!read_u8(&r, &curve) || curve != 1 || !read_u8(&r, &kdf) || kdf != 1 ||
            !read_bytes(&r, WRAPBLOB_EC_POINT_LEN, &b->point) || b->point[0] != 0x04 ||
            !read_bytes(&r, WRAPBLOB_EC_IV_LEN, &iv))
            return 0;
        memcpy(b->iv, iv, WRAPBLOB_EC_IV_LEN);
        b->iv_len = WRAPBLOB_EC_IV_LEN;
        if (!read_u16(&r, &b->ct_len) || b->ct_len < 17 || b->ct_len > WRAPBLOB_AES_MAX_CT)
            return 0;
    } else if (kind == WRAPBLOB_KIND_KMS_OPAQUE) {
        if (!read_u16(&r, &b->ct_len) || b->ct_len == 0 || b->ct_len > WRAPBLOB_KMS_MAX_CT)
            return 0;
    } else {
        return 0;
    }
    if (!read_bytes(&r, b->ct_len, &b->ct) || r.left != 0)
        return 0;
    return 1;
}
