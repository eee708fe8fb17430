/*
 * keyblock_load.c - reading suite 2 key blocks (docs/FORMAT.md §10.2,
 * §10.5): the parser (every field bounded, through the bounded reader),
 * then unwrap, commitment, DEK id and tag before the record key is kept.
 *
 * CT: the DEK and okm live in envelope_secmem memory, wiped on every
 * path; the commitment, DEK id and tag are compared with CRYPTO_memcmp,
 * all three before the result is looked at.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "secmem.h"
#include "suite2.h"

#define SHORT() return env_fail(err, ENVELOPE_ERR_TRUNCATED, "input ends inside the key block")

envelope_status env_kb_parse(const uint8_t *buf, size_t len, env_kb_parsed *p, envelope_err *err)
{
    env_rd r;
    env_rd_init(&r, buf, len);
    memset(p, 0, sizeof(*p));
    env_header *h = &p->h;
    const uint8_t *magic;
    uint8_t flags;
    uint16_t ext_len;
    if (len > ENVELOPE_MAX_KEYBLOCK_BYTES)
        return env_fail(err, ENVELOPE_ERR_TRAILING_DATA,
                        "key block is %zu bytes; the format allows at most %u", len,
                        ENVELOPE_MAX_KEYBLOCK_BYTES);
    if ((magic = env_rd_bytes(&r, 4)) == NULL)
        SHORT();
    if (memcmp(magic, ENV_KB_MAGIC, 4) != 0)
        return env_fail(err, ENVELOPE_ERR_BAD_MAGIC, "not an envelope key block (bad magic)");
    if (!env_rd_u8(&r, &h->version))
        SHORT();
    if (h->version != ENVELOPE_VERSION)
        return env_fail(err, ENVELOPE_ERR_VERSION,
                        "key block format version %u is not supported (this library reads %d)",
                        h->version, ENVELOPE_VERSION);
    if (!env_rd_u16(&r, &h->suite))
        SHORT();
    if (h->suite != ENV_SUITE2)
        return env_fail(err, ENVELOPE_ERR_SUITE, "key block has unknown suite id 0x%04x", h->suite);
    if (!env_rd_u8(&r, &flags))
        SHORT();
    if (flags != 0)
        return env_fail(err, ENVELOPE_ERR_RESERVED, "reserved key block flags 0x%02x are set",
                        flags);
    if ((p->id = env_rd_bytes(&r, ENVELOPE_DEK_ID_BYTES)) == NULL)
        SHORT();
    ENV_GUARD(env_parse_context(&r, h, NULL, err));
    if (!env_rd_u16(&r, &ext_len))
        SHORT();
    if (ext_len != 0)
        return env_fail(err, ENVELOPE_ERR_RESERVED,
                        "key block extensions (%u bytes) are reserved and must be empty", ext_len);
    if ((h->commitment = env_rd_bytes(&r, ENV_COMMIT_LEN)) == NULL)
        SHORT();
    h->body = buf;
    h->body_len = r.off;
    if ((h->tag = env_rd_bytes(&r, ENV_TAG_LEN)) == NULL)
        SHORT();
    ENV_GUARD(env_parse_edk_list(&r, h, NULL, err));
    h->total_len = r.off;
    if (env_rd_left(&r) != 0)
        return env_fail(err, ENVELOPE_ERR_TRAILING_DATA, "%zu bytes follow the key block's EDKs",
                        env_rd_left(&r));
    return ENVELOPE_OK;
}

/* §10.5 step 3: commitment, DEK id, then the tag; one uniform failure. */
static envelope_status check_block(envelope_lib *lib, const env_kb_parsed *p, const uint8_t *okm,
                                   envelope_err *err)
{
    uint8_t tag[ENV_TAG_LEN];
    int bad = CRYPTO_memcmp(p->h.commitment, okm + 64, ENV_COMMIT_LEN) != 0;
    bad |= CRYPTO_memcmp(p->id, okm + 64, ENVELOPE_DEK_ID_BYTES) != 0;
    if (bad)
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    ENV_GUARD(env_kb_tag(lib, okm + 32, p->h.body, p->h.body_len, tag, err));
    if (CRYPTO_memcmp(tag, p->h.tag, ENV_TAG_LEN) != 0)
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    return ENVELOPE_OK;
}

envelope_status envelope_keyblock_load(envelope_lib *lib, const envelope_decrypt_opts *o,
                                       const uint8_t *in, size_t inlen, envelope_keyblock **out,
                                       envelope_err *err)
{
    return env_kb_load(lib, o, in, inlen, 0, out, err);
}

envelope_status env_kb_load(envelope_lib *lib, const envelope_decrypt_opts *o, const uint8_t *in,
                            size_t inlen, int flags, envelope_keyblock **out, envelope_err *err)
{
    if (lib == NULL || in == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_keyblock_load: NULL argument");
    *out = NULL;
    size_t nkeks = o ? o->nkeks : 0;
    if (nkeks > 0 && o->keks == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "decrypt options: keks is NULL");
    for (size_t i = 0; i < nkeks; i++)
        if (o->keks[i] == NULL)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK %zu is NULL", i + 1);
    env_kb_parsed *p = OPENSSL_malloc(sizeof(*p)); /* ~1 KiB: not on the stack */
    if (p == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_status s = env_kb_parse(in, inlen, p, err);
    if (s == ENVELOPE_OK && o != NULL)
        s = env_context_check(o->expected, p->h.ctx_enc, p->h.ctx_enc_len, err);
    env_crypto c;
    int have_c = 0;
    uint8_t *okm = NULL;
    if (s == ENVELOPE_OK && (s = env_crypto_init(&c, lib, 0, err)) == ENVELOPE_OK)
        have_c = 1;
    if (s == ENVELOPE_OK && (okm = envelope_secmem_alloc(ENV_KB_OKM_LEN)) == NULL)
        s = env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (s == ENVELOPE_OK && (flags & ENV_KB_LOCKED) &&
        (!envelope_secmem_locked(okm) || !envelope_secmem_locked(c.s)))
        s = env_kb_locked_refused(err);
    if (s == ENVELOPE_OK)
        s = env_unwrap_dek(&c, nkeks ? o->keks : NULL, nkeks, &p->h, err);
    if (s == ENVELOPE_OK)
        s = env_kb_okm(lib, c.s->dek, p->h.ctx_enc, p->h.ctx_enc_len, okm, err);
    if (have_c)
        env_crypto_cleanup(&c); /* the DEK is wiped here */
    if (s == ENVELOPE_OK)
        s = check_block(lib, p, okm, err);
    if (s == ENVELOPE_OK)
        s = env_kb_make(lib, in, p->h.total_len, p->h.body_len, p->h.ctx_enc, p->h.ctx_enc_len, okm,
                        0, out, err);
    if (s == ENVELOPE_OK && (flags & ENV_KB_LOCKED) && !envelope_secmem_locked((*out)->s)) {
        envelope_keyblock_free(*out);
        *out = NULL;
        s = env_kb_locked_refused(err);
    }
    envelope_secmem_free(okm);
    OPENSSL_free(p);
    return s;
}
