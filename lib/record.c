/*
 * record.c - suite 2 compact records (docs/FORMAT.md §10.3, §10.5):
 * XAES-256-GCM under a key block's K. The hot path: a nonce from a batch,
 * two AES blocks (xaes.c), one GCM key setup, the GCM pass; no hash and no
 * allocation (tests/unit/test_lib_record_alloc.c counts).
 *
 * A record context keeps an AES-256-ECB context keyed with the K of the
 * last key block it served (re-keyed when the block changes, by serial,
 * never by address) and two GCM contexts, so that sealing and opening
 * never switch one context's direction.
 *
 * CT: Kx lives in envelope_secmem memory and is wiped after each key
 * setup; the tag is checked by EVP_DecryptFinal_ex in constant time.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "secmem.h"
#include "suite2.h"

struct envelope_record_ctx {
    envelope_lib *lib;
    EVP_CIPHER_CTX *ecb, *enc, *dec;
    uint64_t serial; /* the key block ecb is keyed for; 0 = none */
    uint8_t *kx;     /* secmem, 32 bytes */
    env_idpool nonces;
};

envelope_status envelope_record_ctx_new(envelope_lib *lib, envelope_record_ctx **out,
                                        envelope_err *err)
{
    if (lib == NULL || out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_record_ctx_new: NULL argument");
    *out = NULL;
    envelope_record_ctx *rc = OPENSSL_zalloc(sizeof(*rc));
    if (rc == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    rc->lib = lib;
    rc->ecb = EVP_CIPHER_CTX_new();
    rc->enc = EVP_CIPHER_CTX_new();
    rc->dec = EVP_CIPHER_CTX_new();
    rc->kx = envelope_secmem_alloc(32);
    if (rc->ecb == NULL || rc->enc == NULL || rc->dec == NULL || rc->kx == NULL) {
        envelope_record_ctx_free(rc);
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    }
    if (EVP_EncryptInit_ex2(rc->ecb, lib->ecb, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(rc->ecb, 0) != 1 ||
        EVP_EncryptInit_ex2(rc->enc, lib->gcm, NULL, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(rc->dec, lib->gcm, NULL, NULL, NULL) != 1) {
        envelope_record_ctx_free(rc);
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "AES-256-GCM setup failed");
    }
    *out = rc;
    return ENVELOPE_OK;
}

void envelope_record_ctx_free(envelope_record_ctx *rc)
{
    if (rc == NULL)
        return;
    EVP_CIPHER_CTX_free(rc->ecb); /* frees with the key schedules wiped */
    EVP_CIPHER_CTX_free(rc->enc);
    EVP_CIPHER_CTX_free(rc->dec);
    envelope_secmem_free(rc->kx);
    OPENSSL_clear_free(rc, sizeof(*rc));
}

int env_record_ctx_locked(const envelope_record_ctx *rc)
{
    return rc != NULL && envelope_secmem_locked(rc->kx);
}

size_t envelope_record_sealed_size(size_t inlen)
{
    return inlen > ENVELOPE_RECORD_MAX_PLAINTEXT ? 0 : inlen + ENVELOPE_RECORD_OVERHEAD;
}

/* Kx for nonce n into rc->kx, with rc->ecb keyed for kb. */
static envelope_status derive(envelope_record_ctx *rc, const envelope_keyblock *kb,
                              const uint8_t *n, envelope_err *err)
{
    if (rc->serial != kb->serial) {
        rc->serial = 0;
        /* the cipher was set once (envelope_record_ctx_new): passing it
         * again would free and remake the provider context */
        if (EVP_EncryptInit_ex2(rc->ecb, NULL, kb->s->k, NULL, NULL) != 1)
            return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "AES-256 key setup failed");
        rc->serial = kb->serial;
    }
    if (!env_xaes_derive(rc->ecb, kb->s->k1, n, rc->kx))
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "record key derivation failed");
    return ENVELOPE_OK;
}

envelope_status env_xaes_seal(envelope_record_ctx *rc, const envelope_keyblock *kb,
                              const uint8_t n[24], const uint8_t *a1, size_t l1, const uint8_t *a2,
                              size_t l2, const uint8_t *in, size_t len, uint8_t *ct,
                              uint8_t tag[ENV_TAG_LEN], envelope_err *err)
{
    ENV_GUARD(derive(rc, kb, n, err));
    int outl = 0, fl = 0;
    uint8_t none[ENV_TAG_LEN];
    int ok = EVP_EncryptInit_ex2(rc->enc, NULL, rc->kx, n + 12, NULL) == 1;
    OPENSSL_cleanse(rc->kx, 32);
    ok = ok && (l1 == 0 || EVP_EncryptUpdate(rc->enc, NULL, &outl, a1, (int)l1) == 1) &&
         (l2 == 0 || EVP_EncryptUpdate(rc->enc, NULL, &outl, a2, (int)l2) == 1) &&
         (len == 0 || EVP_EncryptUpdate(rc->enc, ct, &outl, in, (int)len) == 1) &&
         EVP_EncryptFinal_ex(rc->enc, none, &fl) == 1 &&
         EVP_CIPHER_CTX_ctrl(rc->enc, EVP_CTRL_AEAD_GET_TAG, ENV_TAG_LEN, tag) == 1;
    return ok ? ENVELOPE_OK : env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "record encryption failed");
}

envelope_status env_xaes_open(envelope_record_ctx *rc, const envelope_keyblock *kb,
                              const uint8_t n[24], const uint8_t *a1, size_t l1, const uint8_t *a2,
                              size_t l2, const uint8_t *ct, size_t len,
                              const uint8_t tag[ENV_TAG_LEN], uint8_t *out, envelope_err *err)
{
    uint8_t t[ENV_TAG_LEN], none[ENV_TAG_LEN];
    memcpy(t, tag, sizeof(t));
    ENV_GUARD(derive(rc, kb, n, err));
    int outl = 0, fl = 0;
    int ok = EVP_DecryptInit_ex2(rc->dec, NULL, rc->kx, n + 12, NULL) == 1;
    OPENSSL_cleanse(rc->kx, 32);
    ok = ok && (l1 == 0 || EVP_DecryptUpdate(rc->dec, NULL, &outl, a1, (int)l1) == 1) &&
         (l2 == 0 || EVP_DecryptUpdate(rc->dec, NULL, &outl, a2, (int)l2) == 1) &&
         (len == 0 || EVP_DecryptUpdate(rc->dec, out, &outl, ct, (int)len) == 1) &&
         EVP_CIPHER_CTX_ctrl(rc->dec, EVP_CTRL_AEAD_SET_TAG, ENV_TAG_LEN, t) == 1;
    /* EVP_DecryptFinal_ex checks the tag in constant time (GCM writes
     * nothing there). */
    int fin = ok && EVP_DecryptFinal_ex(rc->dec, none, &fl) == 1;
    if (fin)
        return ENVELOPE_OK;
    if (len > 0)
        OPENSSL_cleanse(out, len);
    return ok ? env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED)
              : env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "record decryption failed");
}

static envelope_status check_args(envelope_record_ctx *rc, const envelope_keyblock *kb,
                                  const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen,
                                  const uint8_t *out, const size_t *outlen, const char *fn,
                                  envelope_err *err)
{
    if (rc == NULL || kb == NULL || outlen == NULL || (in == NULL && inlen > 0) ||
        (out == NULL && inlen > 0) || (ad == NULL && adlen > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "%s: NULL argument", fn);
    if (adlen > ENVELOPE_RECORD_MAX_AD)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "associated data is %zu bytes; records allow at most %u", adlen,
                        ENVELOPE_RECORD_MAX_AD);
    return ENVELOPE_OK;
}

envelope_status envelope_record_seal(envelope_record_ctx *rc, const envelope_keyblock *kb,
                                     const uint8_t *ad, size_t adlen, const uint8_t *in,
                                     size_t inlen, uint8_t *out, size_t outsize, size_t *outlen,
                                     envelope_err *err)
{
    ENV_GUARD(check_args(rc, kb, ad, adlen, in, inlen, out, outlen, "envelope_record_seal", err));
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_record_seal: NULL argument");
    *outlen = 0;
    size_t need = envelope_record_sealed_size(inlen);
    if (need == 0)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "record plaintext is over %u bytes",
                        ENVELOPE_RECORD_MAX_PLAINTEXT);
    if (outsize < need)
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL, "output needs %zu bytes", need);
    envelope_keyblock *mkb = (envelope_keyblock *)kb; /* only the atomic counter changes */
    if (__atomic_fetch_add(&mkb->used, 1, __ATOMIC_RELAXED) >= kb->max) {
        __atomic_fetch_sub(&mkb->used, 1, __ATOMIC_RELAXED);
        return env_fail(err, ENVELOPE_ERR_SEALER_EXHAUSTED,
                        "this key block has sealed its %llu records; make a new key block",
                        (unsigned long long)kb->max);
    }
    uint8_t nonce[32];
    static const uint8_t prefix[7] = {'E', 'N', 'V', 'R', ENVELOPE_VERSION, 0x00, 0x02};
    memcpy(out, prefix, sizeof(prefix));
    memcpy(out + 7, kb->id, ENVELOPE_DEK_ID_BYTES);
    uint8_t *n = out + ENV_REC_PREFIX_LEN, *ct = n + ENV_REC_NONCE_LEN;
    envelope_status s = env_idpool_next(&rc->nonces, rc->lib, nonce, err);
    if (s != ENVELOPE_OK)
        return s;
    memcpy(n, nonce, ENV_REC_NONCE_LEN);
    if ((s = env_xaes_seal(rc, kb, n, out, ENV_REC_PREFIX_LEN, ad, adlen, in, inlen, ct, ct + inlen,
                           err)) != ENVELOPE_OK) {
        OPENSSL_cleanse(out, need);
        return s;
    }
    *outlen = need;
    return ENVELOPE_OK;
}

envelope_status envelope_record_dek_id(const uint8_t *in, size_t inlen, const uint8_t **id,
                                       envelope_err *err)
{
    if (in == NULL || id == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_record_dek_id: NULL argument");
    *id = NULL;
    if (inlen < 4 || memcmp(in, ENV_REC_MAGIC, 4) != 0)
        return env_fail(err, inlen < 4 ? ENVELOPE_ERR_TRUNCATED : ENVELOPE_ERR_BAD_MAGIC,
                        "not an envelope record (bad magic)");
    if (inlen < ENVELOPE_RECORD_OVERHEAD)
        return env_fail(err, ENVELOPE_ERR_TRUNCATED,
                        "record is %zu bytes; a record has at least %u", inlen,
                        ENVELOPE_RECORD_OVERHEAD);
    if (in[4] != ENVELOPE_VERSION)
        return env_fail(err, ENVELOPE_ERR_VERSION,
                        "record format version %u is not supported (this library reads %d)", in[4],
                        ENVELOPE_VERSION);
    unsigned suite = ((unsigned)in[5] << 8) | in[6];
    if (suite != ENV_SUITE2)
        return env_fail(err, ENVELOPE_ERR_SUITE, "record has unknown suite id 0x%04x", suite);
    if (inlen - ENVELOPE_RECORD_OVERHEAD > ENVELOPE_RECORD_MAX_PLAINTEXT)
        return env_fail(err, ENVELOPE_ERR_FRAME_LENGTH,
                        "record carries %zu bytes of ciphertext; the limit is %u",
                        inlen - ENVELOPE_RECORD_OVERHEAD, ENVELOPE_RECORD_MAX_PLAINTEXT);
    *id = in + 7;
    return ENVELOPE_OK;
}

envelope_status envelope_record_open(envelope_record_ctx *rc, const envelope_keyblock *kb,
                                     const uint8_t *ad, size_t adlen, const uint8_t *in,
                                     size_t inlen, uint8_t *out, size_t outsize, size_t *outlen,
                                     envelope_err *err)
{
    ENV_GUARD(check_args(rc, kb, ad, adlen, in, 0, out, outlen, "envelope_record_open", err));
    if (in == NULL || kb == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_record_open: NULL argument");
    *outlen = 0;
    const uint8_t *id = NULL;
    ENV_GUARD(envelope_record_dek_id(in, inlen, &id, err));
    if (id == NULL || memcmp(id, kb->id, ENVELOPE_DEK_ID_BYTES) != 0)
        return env_fail(err, ENVELOPE_ERR_DEK_UNKNOWN,
                        "the record names another DEK id than this key block's; load the key "
                        "block it names");
    size_t len = inlen - ENVELOPE_RECORD_OVERHEAD;
    if (len > 0 && out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_record_open: NULL argument");
    if (outsize < len)
        return env_fail(err, ENVELOPE_ERR_BUFFER_TOO_SMALL, "plaintext needs %zu bytes", len);
    const uint8_t *n = in + ENV_REC_PREFIX_LEN, *ct = n + ENV_REC_NONCE_LEN;
    ENV_GUARD(
        env_xaes_open(rc, kb, n, in, ENV_REC_PREFIX_LEN, ad, adlen, ct, len, ct + len, out, err));
    *outlen = len;
    return ENVELOPE_OK;
}
