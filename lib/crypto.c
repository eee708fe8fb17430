/*
 * crypto.c - key derivation, key commitment, header tag and frames
 * (docs/FORMAT.md §5). One digest and two GCM contexts per object, created
 * once and re-keyed per message: no allocation per frame or record.
 * The header tag is made with the encrypt context and checked with the
 * decrypt context, so a sealer keys only one and an opener only the other.
 *
 * CT: the DEK, PRK, data key and commitment live in envelope_secmem memory
 * (c->s) and never reach a branch or an index; tags and the commitment are
 * compared with CRYPTO_memcmp.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "bytes.h"
#include "internal.h"
#include "secmem.h"

envelope_status env_crypto_init(env_crypto *c, envelope_lib *lib, int which, envelope_err *err)
{
    memset(c, 0, sizeof(*c));
    c->lib = lib;
    c->which = which;
    c->s = envelope_secmem_alloc(sizeof(*c->s));
    c->md = EVP_MD_CTX_new();
    c->enc = EVP_CIPHER_CTX_new();
    c->dec = EVP_CIPHER_CTX_new();
    if (c->s == NULL || c->md == NULL || c->enc == NULL || c->dec == NULL) {
        env_crypto_cleanup(c);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    /* The algorithms are set once, here: OpenSSL 3.0 frees and remakes the
     * provider context whenever an init names one, an allocation per
     * record; later inits pass NULL and only re-key or restart. */
    if (EVP_DigestInit_ex2(c->md, lib->sha512, NULL) != 1 ||
        EVP_EncryptInit_ex2(c->enc, lib->gcm, NULL, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(c->dec, lib->gcm, NULL, NULL, NULL) != 1) {
        env_crypto_cleanup(c);
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "SHA-512 or AES-256-GCM setup failed");
    }
    return ENVELOPE_OK;
}

void env_crypto_cleanup(env_crypto *c)
{
    EVP_MD_CTX_free(c->md);
    EVP_CIPHER_CTX_free(c->enc); /* frees with the key schedule wiped */
    EVP_CIPHER_CTX_free(c->dec);
    envelope_secmem_free(c->s);
    memset(c, 0, sizeof(*c));
}

/*
 * HMAC-SHA-512 (RFC 2104) over two reused digest contexts. EVP_MAC's HMAC
 * in OpenSSL 3.0 duplicates digest contexts (an allocation) on every key
 * and every final; this runs once per record on the sealer's hot path.
 * Keys here are at most one block (message id 32, PRK 64 bytes).
 * CT: the padded key lives in c->s->block, the inner hash in c->s->inner.
 */
static int hmac512(env_crypto *c, const uint8_t *key, size_t klen, const uint8_t *m1, size_t l1,
                   const uint8_t *m2, size_t l2, uint8_t out[64])
{
    env_secrets *s = c->s;
    unsigned int l = 0;
    memset(s->block, 0x36, sizeof(s->block));
    for (size_t i = 0; i < klen; i++)
        s->block[i] ^= key[i];
    int ok = EVP_DigestInit_ex2(c->md, NULL, NULL) == 1 &&
             EVP_DigestUpdate(c->md, s->block, sizeof(s->block)) == 1 &&
             EVP_DigestUpdate(c->md, m1, l1) == 1 &&
             (l2 == 0 || EVP_DigestUpdate(c->md, m2, l2) == 1) &&
             EVP_DigestFinal_ex(c->md, s->inner, &l) == 1;
    for (size_t i = 0; i < sizeof(s->block); i++)
        s->block[i] ^= 0x36 ^ 0x5c;
    ok = ok && EVP_DigestInit_ex2(c->md, NULL, NULL) == 1 &&
         EVP_DigestUpdate(c->md, s->block, sizeof(s->block)) == 1 &&
         EVP_DigestUpdate(c->md, s->inner, 64) == 1 && EVP_DigestFinal_ex(c->md, out, &l) == 1;
    OPENSSL_cleanse(s->block, sizeof(s->block));
    OPENSSL_cleanse(s->inner, sizeof(s->inner));
    return ok;
}

/* RFC 5869 with HMAC-SHA-512: L = 64, so Expand is the single block T(1).
 * Only the GCM context the caller uses is keyed (which: ENV_KEY_*). */
envelope_status env_crypto_derive(env_crypto *c, const uint8_t *message_id, envelope_err *err)
{
    env_secrets *s = c->s;
    static const uint8_t info[19] = {
        'E', 'N', 'V', 'E', 'L', 'O', 'P',  'E',  '-', 'V',
        '1', '-', 'K', 'E', 'Y', 'S', 0x00, 0x01, 0x01}; /* suite, counter */
    if (!hmac512(c, message_id, ENVELOPE_MESSAGE_ID_BYTES, s->dek, ENVELOPE_DEK_BYTES, NULL, 0,
                 s->prk) ||
        !hmac512(c, s->prk, sizeof(s->prk), info, sizeof(info), NULL, 0, s->okm))
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "key derivation failed");
    OPENSSL_cleanse(s->prk, sizeof(s->prk));
    if (((c->which & ENV_KEY_ENC) && EVP_EncryptInit_ex2(c->enc, NULL, s->okm, NULL, NULL) != 1) ||
        ((c->which & ENV_KEY_DEC) && EVP_DecryptInit_ex2(c->dec, NULL, s->okm, NULL, NULL) != 1))
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "AES-256-GCM key setup failed");
    return ENVELOPE_OK;
}

/* A worker's context keyed with src's data key: the okm is copied into the
 * worker's own locked memory, and its GCM context keyed from it. */
envelope_status env_crypto_key_copy(env_crypto *dst, const env_crypto *src, envelope_err *err)
{
    memcpy(dst->s->okm, src->s->okm, sizeof(dst->s->okm));
    if (((dst->which & ENV_KEY_ENC) &&
         EVP_EncryptInit_ex2(dst->enc, NULL, dst->s->okm, NULL, NULL) != 1) ||
        ((dst->which & ENV_KEY_DEC) &&
         EVP_DecryptInit_ex2(dst->dec, NULL, dst->s->okm, NULL, NULL) != 1))
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "AES-256-GCM key setup failed");
    return ENVELOPE_OK;
}

envelope_status env_crypto_header_tag(env_crypto *c, const uint8_t *body, size_t len,
                                      uint8_t tag[ENV_TAG_LEN], envelope_err *err)
{
    static const uint8_t zero_nonce[12] = {0};
    uint8_t dummy[16];
    int outl = 0;
    if (len > 0x7fffffff || EVP_EncryptInit_ex2(c->enc, NULL, NULL, zero_nonce, NULL) != 1 ||
        EVP_EncryptUpdate(c->enc, NULL, &outl, body, (int)len) != 1 ||
        EVP_EncryptFinal_ex(c->enc, dummy, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_AEAD_GET_TAG, ENV_TAG_LEN, tag) != 1)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "header tag computation failed");
    return ENVELOPE_OK;
}

envelope_status env_header_verify(env_crypto *c, const env_header *h, envelope_err *err)
{
    uint8_t tag[ENV_TAG_LEN];
    /* Commitment first: a DEK that does not commit to this header never
     * decrypts a byte (and never sees the header tag check either). */
    if (CRYPTO_memcmp(h->commitment, c->s->okm + 32, ENV_COMMIT_LEN) != 0)
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    /* The header tag through the decrypt context: EVP_DecryptFinal_ex
     * compares it in constant time (CRYPTO_memcmp inside OpenSSL's GCM). */
    static const uint8_t zero_nonce[12] = {0};
    uint8_t dummy[16];
    int outl = 0;
    memcpy(tag, h->tag, ENV_TAG_LEN);
    if (h->body_len > 0x7fffffff ||
        EVP_DecryptInit_ex2(c->dec, NULL, NULL, zero_nonce, NULL) != 1 ||
        EVP_DecryptUpdate(c->dec, NULL, &outl, h->body, (int)h->body_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_AEAD_SET_TAG, ENV_TAG_LEN, tag) != 1)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "header tag check failed");
    if (EVP_DecryptFinal_ex(c->dec, dummy, &outl) != 1)
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    return ENVELOPE_OK;
}

static void frame_nonce_aad(uint8_t nonce[12], uint8_t aad[ENV_FRAME_AAD_LEN],
                            const uint8_t *message_id, uint64_t frame_no, int final, size_t len)
{
    memset(nonce, 0, 4);
    env_put_u64(nonce + 4, frame_no);
    memcpy(aad, message_id, 32);
    env_put_u64(aad + 32, frame_no);
    aad[40] = final ? ENV_FRAME_FINAL : ENV_FRAME_REGULAR;
    env_put_u32(aad + 41, (uint32_t)len);
}

envelope_status env_frame_seal(env_crypto *c, const uint8_t *message_id, uint64_t frame_no,
                               int final, const uint8_t *in, size_t len, uint8_t *out,
                               uint8_t tag[ENV_TAG_LEN], envelope_err *err)
{
    uint8_t nonce[12], aad[ENV_FRAME_AAD_LEN];
    int outl = 0, fl = 0;
    frame_nonce_aad(nonce, aad, message_id, frame_no, final, len);
    if (EVP_EncryptInit_ex2(c->enc, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(c->enc, NULL, &outl, aad, sizeof(aad)) != 1 ||
        (len > 0 && EVP_EncryptUpdate(c->enc, out, &outl, in, (int)len) != 1) ||
        EVP_EncryptFinal_ex(c->enc, out + (len > 0 ? (size_t)outl : 0), &fl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_AEAD_GET_TAG, ENV_TAG_LEN, tag) != 1)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "frame encryption failed");
    return ENVELOPE_OK;
}

envelope_status env_frame_open(env_crypto *c, const uint8_t *message_id, uint64_t frame_no,
                               int final, const uint8_t *in, size_t len, const uint8_t *tag,
                               uint8_t *out, envelope_err *err)
{
    uint8_t nonce[12], aad[ENV_FRAME_AAD_LEN], t[ENV_TAG_LEN];
    int outl = 0, fl = 0;
    memcpy(t, tag, sizeof(t));
    frame_nonce_aad(nonce, aad, message_id, frame_no, final, len);
    if (EVP_DecryptInit_ex2(c->dec, NULL, NULL, nonce, NULL) != 1 ||
        EVP_DecryptUpdate(c->dec, NULL, &outl, aad, sizeof(aad)) != 1 ||
        (len > 0 && EVP_DecryptUpdate(c->dec, out, &outl, in, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_AEAD_SET_TAG, ENV_TAG_LEN, t) != 1)
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "frame decryption failed");
    /* EVP_DecryptFinal_ex checks the tag in constant time. */
    if (EVP_DecryptFinal_ex(c->dec, out + (len > 0 ? (size_t)outl : 0), &fl) != 1) {
        if (len > 0)
            OPENSSL_cleanse(out, len);
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    }
    return ENVELOPE_OK;
}

envelope_status env_wrap_aad(envelope_lib *lib, uint16_t suite, const uint8_t *ctx_enc,
                             size_t ctx_enc_len, int kind, const uint8_t *uri, size_t uri_len,
                             const uint8_t *key_id, size_t key_id_len, uint8_t out[32],
                             envelope_err *err)
{
    uint8_t pre[3] = {ENVELOPE_VERSION, (uint8_t)(suite >> 8), (uint8_t)suite};
    uint8_t k = (uint8_t)kind, ul[2] = {(uint8_t)(uri_len >> 8), (uint8_t)uri_len};
    uint8_t il = (uint8_t)key_id_len;
    unsigned int olen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex2(md, lib->sha256, NULL) == 1 &&
             EVP_DigestUpdate(md, ENV_WRAP_AAD_LABEL, strlen(ENV_WRAP_AAD_LABEL)) == 1 &&
             EVP_DigestUpdate(md, pre, sizeof(pre)) == 1 &&
             EVP_DigestUpdate(md, ctx_enc, ctx_enc_len) == 1 && EVP_DigestUpdate(md, &k, 1) == 1 &&
             EVP_DigestUpdate(md, ul, 2) == 1 && EVP_DigestUpdate(md, uri, uri_len) == 1 &&
             EVP_DigestUpdate(md, &il, 1) == 1 &&
             (key_id_len == 0 || EVP_DigestUpdate(md, key_id, key_id_len) == 1) &&
             EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
    EVP_MD_CTX_free(md);
    return ok ? ENVELOPE_OK : env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "SHA-256 failed");
}
