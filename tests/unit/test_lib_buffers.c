/*
 * test_lib_buffers.c - the buffer-in/buffer-out encryptor and decryptor
 * (envelope_buf_*): round trips through output buffers of 1 byte and up and
 * input pieces of every size, each equal to the one-shot open;
 * ENVELOPE_ERR_BUFFER_TOO_SMALL only when no progress is possible, and the
 * object usable after it; a tampered frame releases no byte of its
 * plaintext and fails every later call; truncation is never "done".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "lib_test_util.h"

#define F 4096u

static envelope_encrypt_opts enc_opts(envelope_kek **a)
{
    envelope_encrypt_opts o = ENVELOPE_ENCRYPT_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.frame_size = F;
    return o;
}

static envelope_decrypt_opts dec_opts(envelope_kek **a)
{
    envelope_decrypt_opts o = ENVELOPE_DECRYPT_OPTS_INIT;
    o.keks = a;
    o.nkeks = 1;
    o.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    return o;
}

/* Everything through b with input pieces of `piece` and output room `cap`. */
static uint8_t *run_enc(envelope_buf_encryptor *b, const uint8_t *in, size_t len, size_t piece,
                        size_t cap, size_t *outlen)
{
    size_t room = len + 65536 + cap, n = 0, off = 0;
    uint8_t *out = malloc(room);
    envelope_err e;
    while (off < len) {
        size_t give = len - off < piece ? len - off : piece, used = 0, w = 0;
        assert_int_equal(envelope_buf_encryptor_update(b, in + off, give, &used, out + n, cap, &w,
                                                       &e),
                         ENVELOPE_OK);
        assert_true(w <= cap);
        assert_true(used > 0 || w > 0); /* progress */
        off += used;
        n += w;
        assert_true(n + cap <= room);
    }
    for (int done = 0; !done;) {
        size_t w = 0;
        assert_int_equal(envelope_buf_encryptor_finish(b, out + n, cap, &w, &done, &e),
                         ENVELOPE_OK);
        assert_true(w <= cap);
        n += w;
        assert_true(n + cap <= room);
    }
    *outlen = n;
    return out;
}

static envelope_status run_dec(envelope_buf_decryptor *b, const uint8_t *in, size_t len,
                               size_t piece, size_t cap, uint8_t *out, size_t *outlen, int *done)
{
    size_t n = 0, off = 0;
    envelope_err e;
    envelope_status s = ENVELOPE_OK;
    *done = 0;
    while (off < len) {
        size_t give = len - off < piece ? len - off : piece, used = 0, w = 0;
        s = envelope_buf_decryptor_update(b, in + off, give, &used, out + n, cap, &w, &e);
        n += w;
        if (s != ENVELOPE_OK) {
            *outlen = n;
            return s;
        }
        off += used;
    }
    while (!*done) {
        size_t w = 0;
        s = envelope_buf_decryptor_finish(b, out + n, cap, &w, done, &e);
        n += w;
        if (s != ENVELOPE_OK)
            break;
    }
    *outlen = n;
    return s;
}

static void test_roundtrip_tiny_buffers(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts eo = enc_opts(a);
    envelope_decrypt_opts dop = dec_opts(a);
    static const size_t sizes[] = {0, 1, F - 1, F, F + 1, 3 * F + 5};
    static const size_t caps[] = {1, 7, F + 21, 1 << 20};
    static const size_t pieces[] = {1, 100, F, 1 << 20};
    envelope_err e;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (size_t j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
            size_t len = sizes[i], cap = caps[j], piece = pieces[(i + j) % 4], mlen = 0;
            if (cap == 1 && len > F + 1)
                continue; /* one byte per call: the small sizes say it */
            uint8_t *pt = tu_pattern(len, (unsigned)(len + j));
            envelope_buf_encryptor *be = NULL;
            assert_int_equal(envelope_buf_encryptor_new(tu.lib, &eo, &be, &e), ENVELOPE_OK);
            uint8_t *msg = run_enc(be, pt, len, piece, cap, &mlen);
            envelope_buf_encryptor_free(be);
            /* the one-shot open reads it */
            uint8_t *back = NULL;
            size_t blen = 0;
            assert_int_equal(envelope_open(tu.lib, &dop, msg, mlen, &back, &blen, NULL, &e),
                             ENVELOPE_OK);
            assert_int_equal(blen, len);
            assert_true(len == 0 || memcmp(back, pt, len) == 0);
            envelope_buffer_free(back, blen);
            /* and the buffer decryptor, with other pieces */
            envelope_buf_decryptor *bd = NULL;
            assert_int_equal(envelope_buf_decryptor_new(tu.lib, &dop, &bd, &e), ENVELOPE_OK);
            uint8_t *out = malloc(len + cap + 1);
            size_t olen = 0;
            int done = 0;
            assert_int_equal(run_dec(bd, msg, mlen, pieces[(i + j + 1) % 4], cap, out, &olen,
                                     &done),
                             ENVELOPE_OK);
            assert_true(done);
            assert_int_equal(olen, len);
            assert_true(len == 0 || memcmp(out, pt, len) == 0);
            assert_non_null(envelope_buf_decryptor_context(bd));
            envelope_buf_decryptor_free(bd);
            free(out);
            free(msg);
            free(pt);
        }
}

static void test_buffer_too_small(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts eo = enc_opts(a);
    envelope_err e;
    envelope_buf_encryptor *be = NULL;
    uint8_t pt[100] = {1}, out[1];
    size_t used = 0, w = 0;
    int done = 0;
    assert_int_equal(envelope_buf_encryptor_new(tu.lib, &eo, &be, &e), ENVELOPE_OK);
    /* no room, nothing pending: the input is taken in (the header waits) */
    assert_int_equal(envelope_buf_encryptor_update(be, pt, sizeof(pt), &used, NULL, 0, &w, &e),
                     ENVELOPE_OK);
    assert_int_equal(used, sizeof(pt));
    assert_int_equal(w, 0);
    /* output waiting and no room: no progress possible */
    assert_int_equal(envelope_buf_encryptor_update(be, pt, sizeof(pt), &used, NULL, 0, &w, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(used, 0);
    assert_int_equal(envelope_buf_encryptor_finish(be, NULL, 0, &w, &done, &e),
                     ENVELOPE_ERR_BUFFER_TOO_SMALL);
    assert_false(done);
    /* still usable: one byte at a time */
    assert_int_equal(envelope_buf_encryptor_update(be, NULL, 0, &used, out, 1, &w, &e),
                     ENVELOPE_OK);
    assert_int_equal(w, 1);
    assert_int_equal(out[0], 'E'); /* the magic's first byte */
    envelope_buf_encryptor_free(be);
}

static void test_tampered_frame_releases_nothing(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts eo = enc_opts(a);
    envelope_decrypt_opts dop = dec_opts(a);
    envelope_err e;
    size_t len = 3 * F + 10, mlen = 0;
    uint8_t *pt = tu_pattern(len, 7);
    envelope_buf_encryptor *be = NULL;
    assert_int_equal(envelope_buf_encryptor_new(tu.lib, &eo, &be, &e), ENVELOPE_OK);
    uint8_t *msg = run_enc(be, pt, len, len, 1 << 20, &mlen);
    envelope_buf_encryptor_free(be);
    /* frames: 3 regular (1 + F + 16 bytes) and a final one of 10 (5 + 10 + 16);
     * flip a ciphertext byte of frame 2 */
    size_t frame2 = mlen - (5 + 10 + 16) - 2 * (1 + F + 16) + 10;
    msg[frame2] ^= 1;
    envelope_buf_decryptor *bd = NULL;
    assert_int_equal(envelope_buf_decryptor_new(tu.lib, &dop, &bd, &e), ENVELOPE_OK);
    uint8_t *out = malloc(len + 16);
    size_t olen = 0;
    int done = 0;
    assert_int_equal(run_dec(bd, msg, mlen, 1000, 1 << 20, out, &olen, &done), ENVELOPE_ERR_AUTH);
    assert_false(done);
    assert_true(olen <= F); /* frame 1 at most: none of frame 2 */
    assert_memory_equal(out, pt, olen);
    /* every later call fails the same way and writes nothing */
    size_t used = 9, w = 9;
    assert_int_equal(envelope_buf_decryptor_update(bd, msg, 1, &used, out, len, &w, &e),
                     ENVELOPE_ERR_AUTH);
    assert_int_equal(w, 0);
    assert_int_equal(envelope_buf_decryptor_finish(bd, out, len, &w, &done, &e), ENVELOPE_ERR_AUTH);
    assert_int_equal(w, 0);
    assert_false(done);
    envelope_buf_decryptor_free(bd);
    /* truncated at a frame boundary: whole frames out, never done */
    msg[frame2] ^= 1;
    assert_int_equal(envelope_buf_decryptor_new(tu.lib, &dop, &bd, &e), ENVELOPE_OK);
    assert_int_equal(run_dec(bd, msg, mlen - (5 + 10 + 16), 777, 13, out, &olen, &done),
                     ENVELOPE_ERR_TRUNCATED);
    assert_false(done);
    envelope_buf_decryptor_free(bd);
    free(out);
    free(msg);
    free(pt);
}

static void test_arguments(void **state)
{
    (void)state;
    envelope_err e;
    envelope_buf_decryptor *bd = NULL;
    assert_int_equal(envelope_buf_decryptor_new(tu.lib, NULL, &bd, &e), ENVELOPE_ERR_ARGUMENT);
    assert_null(bd);
    size_t used = 0, w = 0;
    assert_int_equal(envelope_buf_decryptor_update(NULL, NULL, 0, &used, NULL, 0, &w, &e),
                     ENVELOPE_ERR_ARGUMENT);
    envelope_buf_encryptor_free(NULL);
    envelope_buf_decryptor_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_tiny_buffers),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_tampered_frame_releases_nothing),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
