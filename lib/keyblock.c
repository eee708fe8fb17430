/*
 * keyblock.c - making suite 2 key blocks (docs/FORMAT.md §10.1, §10.2,
 * §10.4): a fresh DEK, its keys K, M, C by one HKDF-SHA-512, the DEK id,
 * the key-block tag and an EDK per KEK. Loading is keyblock_load.c.
 *
 * CT: the DEK, okm, K, M and K1 live in envelope_secmem memory and are
 * wiped on every path; only C (public by design) leaves it.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "secmem.h"
#include "suite2.h"

static uint64_t kb_serial;

envelope_status env_kb_okm(envelope_lib *lib, const uint8_t *dek, const uint8_t *ctx_enc,
                           size_t ctx_len, uint8_t *okm, envelope_err *err)
{
    /* info = "ENVELOPE-V2-KEYS" || suite || SHA-256(context_bytes): K, C and
     * the DEK id commit to the context as well as the DEK */
    uint8_t info[18 + 32] = {'E', 'N', 'V', 'E', 'L', 'O', 'P', 'E',  '-',
                             'V', '2', '-', 'K', 'E', 'Y', 'S', 0x00, 0x02};
    size_t hl = 0;
    if (!EVP_Q_digest(lib->libctx, "SHA2-256", lib->propq, ctx_enc, ctx_len, info + 18, &hl) ||
        hl != 32)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "SHA-256 failed");
    EVP_KDF *kdf = EVP_KDF_fetch(lib->libctx, "HKDF", lib->propq);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA2-512", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)dek, ENVELOPE_DEK_BYTES),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info)),
        OSSL_PARAM_construct_end()};
    int ok = kc != NULL && EVP_KDF_derive(kc, okm, ENV_KB_OKM_LEN, p) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return ok ? ENVELOPE_OK : env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "key derivation failed");
}

envelope_status env_kb_tag(envelope_lib *lib, const uint8_t m[32], const uint8_t *body, size_t len,
                           uint8_t tag[ENV_TAG_LEN], envelope_err *err)
{
    uint8_t full[32];
    size_t outl = 0;
    if (EVP_Q_mac(lib->libctx, "HMAC", lib->propq, "SHA2-256", NULL, m, 32, body, len, full,
                  sizeof(full), &outl) == NULL ||
        outl != sizeof(full))
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "key-block tag computation failed");
    memcpy(tag, full, ENV_TAG_LEN);
    return ENVELOPE_OK;
}

envelope_status env_kb_make(envelope_lib *lib, const uint8_t *bytes, size_t len, size_t body_len,
                            const uint8_t *ctx_enc, size_t ctx_len, const uint8_t k[32],
                            uint64_t max_records, envelope_keyblock **out, envelope_err *err)
{
    if (bytes == NULL || k == NULL || len < ENV_KB_FIXED)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "key block: no bytes or key");
    envelope_keyblock *kb = OPENSSL_zalloc(sizeof(*kb));
    envelope_status s = ENVELOPE_ERR_NOMEM;
    if (kb == NULL || (kb->s = envelope_secmem_alloc(sizeof(*kb->s))) == NULL ||
        (kb->bytes = OPENSSL_memdup(bytes, len)) == NULL) {
        envelope_keyblock_free(kb);
        return env_fail(err, s, "out of memory");
    }
    kb->len = len;
    kb->body_len = body_len;
    memcpy(kb->id, bytes + 8, ENVELOPE_DEK_ID_BYTES);
    memcpy(kb->s->k, k, 32);
    kb->max = max_records ? max_records : ENV_KB_MAX_RECORDS;
    kb->serial = __atomic_add_fetch(&kb_serial, 1, __ATOMIC_RELAXED);
    if ((s = env_xaes_subkey(lib, kb->s->k, kb->s->k1, err)) != ENVELOPE_OK ||
        (s = env_context_decode(ctx_enc, ctx_len, &kb->ctx, err)) != ENVELOPE_OK) {
        envelope_keyblock_free(kb);
        return s;
    }
    *out = kb;
    return ENVELOPE_OK;
}

envelope_status env_kb_from_key(envelope_lib *lib, const uint8_t k[32], const uint8_t *id,
                                envelope_keyblock **out, envelope_err *err)
{
    /* a key block body with that id and an empty context, no EDKs */
    uint8_t body[ENV_KB_FIXED + 2] = {'E', 'N', 'V', 'K', ENVELOPE_VERSION, 0x00, 0x02, 0x00};
    memcpy(body + 8, id, ENVELOPE_DEK_ID_BYTES);
    return env_kb_make(lib, body, sizeof(body), sizeof(body), body + ENV_KB_FIXED, 2, k, 0, out,
                       err);
}

/* The fixed part, context and extensions of a key block (FORMAT.md §10.2),
 * the commitment, the tag and the EDK list, into buf. */
static envelope_status write_block(envelope_lib *lib, const envelope_encrypt_opts *o,
                                   const uint8_t *dek, const uint8_t *okm, const uint8_t *edks,
                                   size_t edks_len, env_wr *w, size_t *body_len, envelope_err *err)
{
    static const uint8_t prefix[8] = {'E', 'N', 'V', 'K', ENVELOPE_VERSION, 0x00, 0x02, 0x00};
    size_t clen = env_context_encoded_len(o->context);
    env_wr_bytes(w, prefix, sizeof(prefix));
    env_wr_bytes(w, okm + 64, ENVELOPE_DEK_ID_BYTES); /* DEK id = C[0..16) */
    if (w->overflow || clen > w->cap - w->off)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "key block overflow");
    const uint8_t *ctx = w->p + w->off;
    env_context_encode(o->context, w->p + w->off);
    w->off += clen;
    env_wr_u16(w, 0); /* extensions: reserved, empty */
    env_wr_bytes(w, okm + 64, ENV_COMMIT_LEN);
    if (w->overflow)
        return env_fail(err, ENVELOPE_ERR_INTERNAL, "key block overflow");
    *body_len = w->off;
    uint8_t tag[ENV_TAG_LEN] = {0};
    ENV_GUARD(env_kb_tag(lib, okm + 32, w->p, w->off, tag, err));
    env_wr_bytes(w, tag, sizeof(tag));
    if (edks != NULL) { /* DEK reuse: the EDK list made with this DEK */
        env_wr_bytes(w, edks, edks_len);
        return w->overflow ? env_fail(err, ENVELOPE_ERR_INTERNAL, "key block overflow")
                           : ENVELOPE_OK;
    }
    env_wr_u8(w, (uint8_t)o->nkeks);
    for (size_t i = 0; i < o->nkeks; i++) {
        const envelope_kek *k = o->keks[i];
        size_t ulen = strlen(k->ref), wlen = 0;
        uint8_t aad[32], wrapped[ENVELOPE_MAX_WRAPPED];
        ENV_GUARD(env_wrap_aad(lib, ENV_SUITE2, ctx, clen, k->kind, (const uint8_t *)k->ref, ulen,
                               k->key_id, k->key_id_len, aad, err));
        ENV_GUARD(env_kek_wrap(k, aad, dek, wrapped, &wlen, sizeof(wrapped), err));
        env_wr_u8(w, (uint8_t)k->kind);
        env_wr_u8(w, 0);
        env_wr_u16(w, (uint16_t)ulen);
        env_wr_bytes(w, k->ref, ulen);
        env_wr_u8(w, (uint8_t)k->key_id_len);
        env_wr_bytes(w, k->key_id, k->key_id_len);
        env_wr_u16(w, (uint16_t)wlen);
        env_wr_bytes(w, wrapped, wlen);
    }
    return w->overflow ? env_fail(err, ENVELOPE_ERR_INTERNAL, "key block overflow") : ENVELOPE_OK;
}

envelope_status env_kb_locked_refused(envelope_err *err)
{
    return env_fail(err, ENVELOPE_ERR_LOCKED_MEMORY,
                    "the kernel refused to lock memory for a key block's keys (RLIMIT_MEMLOCK); "
                    "raise it (ulimit -l, LimitMEMLOCK= in a systemd unit)");
}

envelope_status envelope_keyblock_new(envelope_lib *lib, const envelope_encrypt_opts *o,
                                      uint64_t max_records, envelope_keyblock **out,
                                      envelope_err *err)
{
    return env_kb_new(lib, o, max_records, 0, out, err);
}

envelope_status env_kb_new(envelope_lib *lib, const envelope_encrypt_opts *o, uint64_t max_records,
                           int flags, envelope_keyblock **out, envelope_err *err)
{
    if (lib == NULL || o == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_keyblock_new: NULL argument");
    *out = NULL;
    if (o->nkeks == 0 || o->nkeks > ENVELOPE_MAX_EDKS || o->keks == NULL)
        return env_fail(err, ENVELOPE_ERR_KEK_COUNT, "a key block needs 1..%d KEKs (got %zu)",
                        ENVELOPE_MAX_EDKS, o->nkeks);
    for (size_t i = 0; i < o->nkeks; i++)
        if (o->keks[i] == NULL)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK %zu is NULL", i + 1);
    /* secrets: DEK (32) then okm (96) */
    uint8_t *sec = envelope_secmem_alloc(ENVELOPE_DEK_BYTES + ENV_KB_OKM_LEN);
    uint8_t *buf = OPENSSL_malloc(ENVELOPE_MAX_KEYBLOCK_BYTES);
    if (sec == NULL || buf == NULL) {
        envelope_secmem_free(sec);
        OPENSSL_free(buf);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    envelope_status s = ENVELOPE_OK;
    if ((flags & ENV_KB_LOCKED) && !envelope_secmem_locked(sec))
        s = env_kb_locked_refused(err);
    size_t body_len = 0, clen = env_context_encoded_len(o->context), elen = 0;
    uint8_t name[32], *edks = NULL;
    int reusable = 0;
    env_wr w;
    if (s == ENVELOPE_OK) {
        /* DEK reuse (dek_reuse.c), under names of suite 2's own: the DEK and
         * EDK list of an earlier key block for these KEKs and this context
         * while its window lasts, so that the key block comes out the same.
         * ENV_KB_NO_REUSE: the caller keeps its own window (the recorder). */
        env_context_encode(o->context, buf);
        reusable = !(flags & ENV_KB_NO_REUSE) &&
                   env_reuse_name_suite(lib, o, buf, clen, ENV_SUITE2, name);
        if (!reusable || !env_reuse_take(lib, name, 0, sec, &edks, &elen)) {
            edks = NULL;
            if (RAND_priv_bytes_ex(lib->libctx, sec, ENVELOPE_DEK_BYTES, 256) != 1)
                s = env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "random generator failed");
        }
    }
    if (s == ENVELOPE_OK)
        s = env_kb_okm(lib, sec, buf, clen, sec + ENVELOPE_DEK_BYTES, err);
    if (s == ENVELOPE_OK) {
        env_wr_init(&w, buf, ENVELOPE_MAX_KEYBLOCK_BYTES);
        s = write_block(lib, o, sec, sec + ENVELOPE_DEK_BYTES, edks, elen, &w, &body_len, err);
    }
    if (s == ENVELOPE_OK && reusable && edks == NULL)
        env_reuse_put(lib, name, 0, sec, buf + body_len + ENV_TAG_LEN,
                      w.off - body_len - ENV_TAG_LEN);
    OPENSSL_free(edks);
    if (s == ENVELOPE_OK)
        s = env_kb_make(lib, buf, w.off, body_len, buf + ENV_KB_FIXED,
                        env_context_encoded_len(o->context), sec + ENVELOPE_DEK_BYTES, max_records,
                        out, err);
    if (s == ENVELOPE_OK && (flags & ENV_KB_LOCKED) && !envelope_secmem_locked((*out)->s)) {
        envelope_keyblock_free(*out);
        *out = NULL;
        s = env_kb_locked_refused(err);
    }
    envelope_secmem_free(sec); /* wipes */
    OPENSSL_free(buf);
    return s;
}

const uint8_t *envelope_keyblock_bytes(const envelope_keyblock *kb, size_t *len)
{
    if (len != NULL)
        *len = kb ? kb->len : 0;
    return kb ? kb->bytes : NULL;
}

const uint8_t *envelope_keyblock_dek_id(const envelope_keyblock *kb)
{
    return kb ? kb->id : NULL;
}

const envelope_context *envelope_keyblock_context(const envelope_keyblock *kb)
{
    return kb ? kb->ctx : NULL;
}

void envelope_keyblock_free(envelope_keyblock *kb)
{
    if (kb == NULL)
        return;
    envelope_secmem_free(kb->s);
    OPENSSL_free(kb->bytes);
    envelope_context_free(kb->ctx);
    OPENSSL_clear_free(kb, sizeof(*kb));
}
