/*
 * fuzz_decrypt_stream.c - libFuzzer target for the message frames: the
 * streaming decryptor fed in chunk sizes the fuzzer picks, and the
 * one-shot envelope_open, on whole messages (header and frames).
 *
 * Input: byte 0 = n (mod 16), then n chunk sizes (one byte each; 0 means
 * "the rest"), then the message. The sizes are used in a cycle. With bit 7
 * of byte 0 set the stream's sink refuses to write (a full disk); with
 * bit 6 the readers open frames on two worker threads (threads = 2).
 *
 * The reader holds the DEKs of the committed vectors (tests/vectors/): at
 * start each is unwrapped once with the real RSA-OAEP KEKs, and
 * env_unwrap_header is wrapped (ld --wrap) to answer from that table by
 * message id, so every execution does not pay an RSA-3072 decryption. What
 * follows the DEK is the library's own code: key derivation, commitment,
 * header tag, frames. A message id the table lacks gets ENVELOPE_ERR_NO_KEK.
 *
 * Checked on every input, against an oracle in this file (OpenSSL's HKDF
 * and AES-GCM called directly, docs/FORMAT.md §5):
 *  - plaintext reaches the sink only after its frame's tag verified: what
 *    the decryptor released is a prefix of the frames the oracle verifies,
 *    in order, after a header whose commitment and tag verify;
 *  - no sink call is longer than the frame size (on the caller's thread:
 *    the workers hand on several verified frames in one call);
 *  - the streaming and the one-shot reader agree on accept/reject, and on
 *    the plaintext when they accept; acceptance means the oracle saw the
 *    final frame and nothing after it;
 *  - the streaming decryptor on 2 worker threads (threads in the options,
 *    lib/decrypt_par.c) and the serial one, fed the same chunks into the
 *    same kind of sink, end with the same status and have released exactly
 *    the same bytes;
 *  - a finished or failed decryptor takes no more input; a sink's refusal
 *    ends the stream with ENVELOPE_ERR_OUTPUT;
 *  - envelope_opener_open into a buffer half the message's size gives the
 *    one-shot's plaintext when it fits, and when it does not, refuses with
 *    the size it needs.
 * Memory is bounded by the frame size (at most 16 MiB, allocated only after
 * the header authenticated); scripts/fuzz.sh runs with -malloc_limit_mb.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
envelope_status __real_env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                         const env_header *h, envelope_err *err);
envelope_status __wrap_env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                         const env_header *h, envelope_err *err);

#define MAX_KNOWN 128
static struct {
    uint8_t id[32];
    uint8_t dek[32];
} known[MAX_KNOWN];
static size_t nknown;
static envelope_lib *lib;
static int use_table; /* off while the table is built from the real KEKs */

static const uint8_t *dek_for(const uint8_t *id)
{
    for (size_t i = 0; i < nknown; i++)
        if (memcmp(known[i].id, id, 32) == 0)
            return known[i].dek;
    return NULL;
}

envelope_status __wrap_env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                         const env_header *h, envelope_err *err)
{
    if (!use_table)
        return __real_env_unwrap_header(c, keks, nkeks, h, err);
    const uint8_t *dek = dek_for(h->message_id);
    if (dek == NULL)
        return env_fail(err, ENVELOPE_ERR_NO_KEK, "no DEK for this message id");
    memcpy(c->s->dek, dek, ENVELOPE_DEK_BYTES);
    ENV_GUARD(env_crypto_derive(c, h->message_id, err));
    return env_header_verify(c, h, err);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; s[0] && s[1] && n < cap; s += 2) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Learns the DEK of every vector message that the real KEKs open. */
static void learn(const uint8_t *msg, size_t len, envelope_kek **k, size_t nk)
{
    env_header h;
    size_t need;
    envelope_err e;
    if (nknown == MAX_KNOWN || env_header_parse(msg, len, &h, &need, &e) != ENVELOPE_OK ||
        dek_for(h.message_id) != NULL)
        return;
    env_crypto c;
    if (env_crypto_init(&c, lib, ENV_KEY_DEC, &e) != ENVELOPE_OK)
        return;
    if (__real_env_unwrap_header(&c, k, nk, &h, &e) == ENVELOPE_OK) {
        memcpy(known[nknown].id, h.message_id, 32);
        memcpy(known[nknown].dek, c.s->dek, 32);
        nknown++;
    }
    env_crypto_cleanup(&c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    envelope_err e;
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK)
        abort();
    envelope_kek *k[2] = {NULL, NULL};
    const char *names[2] = {"kek1.pem", "kek2.pem"};
    for (int i = 0; i < 2; i++) {
        char uri[1024];
        snprintf(uri, sizeof(uri), "file:%s/%s", ENVELOPE_FUZZ_VECTORS, names[i]);
        if (envelope_kek_open(lib, uri, &k[i], &e) != ENVELOPE_OK) {
            fprintf(stderr, "fuzz_decrypt_stream: %s: %s\n", uri, e.message);
            abort();
        }
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/vectors.txt", ENVELOPE_FUZZ_VECTORS);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        abort();
    static char line[1 << 19];
    static uint8_t msg[1 << 18];
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "message: ", 9) == 0)
            learn(msg, unhex(line + 9, msg, sizeof(msg)), k, 2);
    fclose(f);
    envelope_kek_free(k[0]);
    envelope_kek_free(k[1]);
    if (nknown == 0)
        abort();
    use_table = 1;
    return 0;
}

/* ---- the oracle ---- */

typedef struct {
    uint8_t *buf; /* plaintext of the frames that verify, in order */
    size_t len;
    int complete; /* final frame verified, no byte after it */
} oracle;

static int gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
                    size_t aadlen, const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *out)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, ok = x != NULL && EVP_DecryptInit_ex2(x, EVP_aes_256_gcm(), key, nonce, NULL) &&
                    EVP_DecryptUpdate(x, NULL, &n, aad, (int)aadlen) &&
                    (len == 0 || EVP_DecryptUpdate(x, out, &n, ct, (int)len)) &&
                    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) &&
                    EVP_DecryptFinal_ex(x, out + len, &n);
    EVP_CIPHER_CTX_free(x);
    return ok;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void run_oracle(const uint8_t *m, size_t size, oracle *o)
{
    env_header h;
    size_t need;
    envelope_err e;
    memset(o, 0, sizeof(*o));
    if (env_header_parse(m, size, &h, &need, &e) != ENVELOPE_OK)
        return;
    const uint8_t *dek = dek_for(h.message_id);
    if (dek == NULL)
        return;
    uint8_t okm[64], info[18] = ENV_HKDF_INFO; /* 16 bytes, then the suite */
    info[16] = (uint8_t)(h.suite >> 8), info[17] = (uint8_t)h.suite;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA512", 0),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)dek, 32),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)h.message_id,
                                                        32),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info)),
                      OSSL_PARAM_construct_end()};
    int ok = kc != NULL && EVP_KDF_derive(kc, okm, sizeof(okm), p) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    uint8_t nonce[12] = {0}, none[1];
    if (!ok || CRYPTO_memcmp(okm + 32, h.commitment, 32) != 0 ||
        !gcm_open(okm, nonce, h.body, h.body_len, NULL, 0, h.tag, none))
        return;
    o->buf = malloc(size + 1); /* plaintext is never longer than the message */
    if (o->buf == NULL)
        abort();
    size_t off = h.total_len;
    for (uint64_t n = 1;; n++) {
        if (off >= size)
            return;
        uint8_t t = m[off];
        size_t hl = t == ENV_FRAME_FINAL ? 5 : 1, len = h.frame_size;
        if (t > ENV_FRAME_FINAL || size - off < hl)
            return;
        if (t == ENV_FRAME_FINAL) {
            len = be32(m + off + 1);
            if (len > h.frame_size || (len == 0 && n != 1))
                return;
        }
        if (size - off - hl < len + ENV_TAG_LEN)
            return;
        uint8_t aad[ENV_FRAME_AAD_LEN];
        memcpy(aad, h.message_id, 32);
        put64(aad + 32, n);
        aad[40] = t;
        aad[41] = (uint8_t)(len >> 24), aad[42] = (uint8_t)(len >> 16);
        aad[43] = (uint8_t)(len >> 8), aad[44] = (uint8_t)len;
        put64(nonce + 4, n);
        if (!gcm_open(okm, nonce, aad, sizeof(aad), m + off + hl, len, m + off + hl + len,
                      o->buf + o->len))
            return;
        o->len += len;
        off += hl + len + ENV_TAG_LEN;
        if (t == ENV_FRAME_FINAL) {
            o->complete = off == size;
            return;
        }
    }
}

/* ---- the readers ---- */

typedef struct {
    uint8_t *buf;
    size_t len, cap, frame_size;
    int refuse, refused; /* a sink that cannot write (a full disk) */
} sink_buf;

static int sink(void *arg, const uint8_t *buf, size_t len)
{
    sink_buf *s = arg;
    if (len == 0 || (s->frame_size != 0 && len > s->frame_size))
        abort(); /* the sink gets whole frames, never more than F bytes */
    if (s->refuse) {
        s->refused = 1;
        return -1;
    }
    if (s->len + len > s->cap)
        abort(); /* more plaintext than the message has bytes */
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    size_t nsteps = data[0] % 16;
    if (size < 1 + nsteps)
        return 0;
    const uint8_t *steps = data + 1;
    /* a copy of exactly the message, so ASan sees any overread */
    size_t mlen = size - 1 - nsteps;
    uint8_t *m = malloc(mlen ? mlen : 1);
    if (m == NULL)
        return 0;
    memcpy(m, data + 1 + nsteps, mlen);

    oracle o;
    run_oracle(m, mlen, &o);

    envelope_err e;
    envelope_decrypt_opts dopts = ENVELOPE_DECRYPT_OPTS_INIT; /* the message's references */
    dopts.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    dopts.threads = (data[0] & 0x40) ? 2 : 1;
    envelope_decryptor *d = NULL;
    sink_buf sb = {malloc(mlen ? mlen : 1), 0, mlen, 0, (data[0] & 0x80) != 0, 0};
    if (sb.buf == NULL || envelope_decryptor_new(lib, &dopts, sink, &sb, &d, &e) != ENVELOPE_OK)
        abort();
    env_header h;
    size_t need;
    if (dopts.threads == 1 && env_header_parse(m, mlen, &h, &need, &e) == ENVELOPE_OK)
        sb.frame_size = h.frame_size; /* the workers hand on several frames at once */
    envelope_status ss = ENVELOPE_OK;
    for (size_t off = 0, i = 0; off < mlen && ss == ENVELOPE_OK; i++) {
        size_t step = nsteps ? steps[i % nsteps] : 0;
        size_t n = step == 0 || step > mlen - off ? mlen - off : step;
        ss = envelope_decryptor_update(d, m + off, n, &e);
        off += n;
    }
    if (ss == ENVELOPE_OK)
        ss = envelope_decryptor_final(d, &e);
    /* After the end a decryptor takes nothing more: a failed one repeats
     * its failure, a finished one is in the wrong state. */
    envelope_status again = ss == ENVELOPE_OK ? ENVELOPE_ERR_STATE : ss;
    if (envelope_decryptor_update(d, m, mlen, &e) != again ||
        envelope_decryptor_final(d, &e) != again)
        abort();
    envelope_decryptor_free(d);

    /* the same on the other thread count (bit 6 picked the first), with
     * the same sink: the workers' sink calls may span many frames */
    envelope_decrypt_opts topts = dopts;
    topts.threads = dopts.threads == 1 ? 2 : 1;
    sink_buf tb = {malloc(mlen ? mlen : 1), 0, mlen, 0, sb.refuse, 0};
    if (tb.buf == NULL || envelope_decryptor_new(lib, &topts, sink, &tb, &d, &e) != ENVELOPE_OK)
        abort();
    envelope_status ts = ENVELOPE_OK;
    for (size_t off = 0, i = 0; off < mlen && ts == ENVELOPE_OK; i++) {
        size_t step = nsteps ? steps[i % nsteps] : 0;
        size_t n = step == 0 || step > mlen - off ? mlen - off : step;
        ts = envelope_decryptor_update(d, m + off, n, &e);
        off += n;
    }
    if (ts == ENVELOPE_OK)
        ts = envelope_decryptor_final(d, &e);
    envelope_decryptor_free(d);
    if (ts != ss || tb.len != sb.len || (tb.len > 0 && memcmp(tb.buf, sb.buf, tb.len) != 0))
        abort(); /* threads changed the verdict or what was released */
    free(tb.buf);

    uint8_t *out = NULL;
    size_t olen = 0;
    envelope_status os = envelope_open(lib, &dopts, m, mlen, &out, &olen, NULL, &e);

    if (o.len < sb.len || (sb.len > 0 && memcmp(o.buf, sb.buf, sb.len) != 0))
        abort(); /* released plaintext no verified frame holds */
    if (sb.refused && (ss != ENVELOPE_ERR_OUTPUT || sb.len != 0 || o.len == 0))
        abort(); /* a sink's failure ends the stream, and only a verified frame reaches it */
    if (!sb.refused && (ss == ENVELOPE_OK) != (os == ENVELOPE_OK))
        abort(); /* the two readers disagree */
    if (ss == ENVELOPE_OK && (!o.complete || sb.len != o.len))
        abort(); /* accepted a message the oracle finds incomplete */
    if (os == ENVELOPE_OK && (olen != o.len || (olen > 0 && memcmp(out, o.buf, olen) != 0)))
        abort(); /* the one-shot plaintext is not the verified one */
    if (os != ENVELOPE_OK && out != NULL)
        abort(); /* output on failure */
    /* The caller's buffer, half the message's size: a plaintext that does
     * not fit is refused with the size it needs (read from the frames, before
     * any key is used), one that fits is the one-shot's, and an accepted
     * message's context is there to read. */
    envelope_opener *op = NULL;
    size_t half = mlen / 2, got = 0;
    uint8_t *hb = malloc(half ? half : 1);
    if (hb == NULL || envelope_opener_new(lib, &dopts, &op, &e) != ENVELOPE_OK)
        abort();
    envelope_status hs = envelope_opener_open(op, m, mlen, hb, half, &got, &e);
    if (hs == ENVELOPE_OK && (os != ENVELOPE_OK || envelope_opener_context(op) == NULL))
        abort();
    if (os == ENVELOPE_OK && olen <= half &&
        (hs != ENVELOPE_OK || got != olen || (olen > 0 && memcmp(hb, out, olen) != 0)))
        abort();
    if (os == ENVELOPE_OK && olen > half && (hs != ENVELOPE_ERR_BUFFER_TOO_SMALL || got != olen))
        abort();
    envelope_opener_free(op);
    free(hb);
    envelope_buffer_free(out, olen);
    free(o.buf);
    free(sb.buf);
    free(m);
    ERR_clear_error();
    return 0;
}
