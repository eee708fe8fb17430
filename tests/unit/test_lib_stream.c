/*
 * test_lib_stream.c - the streaming encryptor/decryptor and the inspector:
 * any chunking gives the one-shot bytes' meaning, the stream reports an
 * improper end, failures are sticky, a refusing sink stops the stream.
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

typedef struct {
    uint8_t *b;
    size_t n, cap;
    int refuse_after; /* -1: never */
} buf;

static int sink(void *arg, const uint8_t *p, size_t n)
{
    buf *b = arg;
    if (b->refuse_after >= 0 && b->n >= (size_t)b->refuse_after)
        return 1;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->b = realloc(b->b, b->cap);
    }
    memcpy(b->b + b->n, p, n);
    b->n += n;
    return 0;
}

static void stream_encrypt(const uint8_t *pt, size_t len, size_t chunk, buf *out)
{
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = a, .nkeks = 1, .context = NULL, .frame_size = F};
    envelope_encryptor *enc = NULL;
    envelope_err e;
    assert_int_equal(envelope_encryptor_new(tu.lib, &o, sink, out, &enc, &e), ENVELOPE_OK);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        assert_int_equal(envelope_encryptor_update(enc, pt + off, n, &e), ENVELOPE_OK);
    }
    assert_int_equal(envelope_encryptor_final(enc, &e), ENVELOPE_OK);
    assert_int_equal(envelope_encryptor_update(enc, pt, 1, &e), ENVELOPE_ERR_STATE);
    envelope_encryptor_free(enc);
}

static envelope_status stream_decrypt(const uint8_t *m, size_t len, size_t chunk, buf *out)
{
    envelope_kek *a[] = {tu.k1};
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_decryptor *d = NULL;
    envelope_err e;
    assert_int_equal(envelope_decryptor_new(tu.lib, &o, sink, out, &d, &e), ENVELOPE_OK);
    envelope_status s = ENVELOPE_OK;
    for (size_t off = 0; off < len && s == ENVELOPE_OK; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        s = envelope_decryptor_update(d, m + off, n, &e);
    }
    if (s == ENVELOPE_OK)
        s = envelope_decryptor_final(d, &e);
    else /* sticky */
        assert_int_equal(envelope_decryptor_final(d, &e), s);
    envelope_decryptor_free(d);
    return s;
}

static void test_chunkings(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, F - 1, F, F + 1, 10 * F};
    static const size_t chunks[] = {1, 7, F, F + 1, 3 * F + 5, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *pt = tu_pattern(sizes[i], 11);
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            if (chunks[c] == 1 && sizes[i] > 2 * F)
                continue; /* byte-by-byte over 40 KiB adds time, not coverage */
            buf ct = {NULL, 0, 0, -1}, back = {NULL, 0, 0, -1};
            stream_encrypt(pt, sizes[i], chunks[c], &ct);
            /* Canonical framing: the one-shot size for the same plaintext. */
            envelope_kek *a[] = {tu.k1};
            envelope_encrypt_opts o = {
                .struct_size = sizeof(o), .keks = a, .nkeks = 1, .context = NULL, .frame_size = F};
            envelope_sealer *s = NULL;
            envelope_err e;
            assert_int_equal(envelope_sealer_new(tu.lib, &o, 1, &s, &e), ENVELOPE_OK);
            assert_int_equal(ct.n, envelope_sealer_sealed_size(s, sizes[i]));
            envelope_sealer_free(s);
            assert_int_equal(stream_decrypt(ct.b, ct.n, chunks[(c + 2) % 6], &back), ENVELOPE_OK);
            assert_int_equal(back.n, sizes[i]);
            assert_true(sizes[i] == 0 || memcmp(back.b, pt, sizes[i]) == 0);
            /* one-shot open of the streamed message */
            uint8_t *out = NULL;
            size_t olen = 0;
            envelope_decrypt_opts od = {.struct_size = sizeof(od),
                                        .keks = a,
                                        .nkeks = 1,
                                        .expected = NULL,
                                        .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
            assert_int_equal(envelope_open(tu.lib, &od, ct.b, ct.n, &out, &olen, NULL, &e),
                             ENVELOPE_OK);
            assert_int_equal(olen, sizes[i]);
            envelope_buffer_free(out, olen);
            free(ct.b);
            free(back.b);
        }
        free(pt);
    }
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    uint8_t *pt = tu_pattern(2 * F, 1);
    buf ct = {NULL, 0, 0, -1};
    stream_encrypt(pt, 2 * F, F, &ct);
    buf back = {NULL, 0, 0, -1};
    assert_int_equal(stream_decrypt(ct.b, ct.n - 16, 999, &back), ENVELOPE_ERR_TRUNCATED);
    free(back.b);
    back = (buf){NULL, 0, 0, -1};
    ct.b = realloc(ct.b, ct.n + 3);
    memcpy(ct.b + ct.n, "xyz", 3);
    assert_int_equal(stream_decrypt(ct.b, ct.n + 3, 1 << 20, &back), ENVELOPE_ERR_TRAILING_DATA);
    free(back.b);
    back = (buf){NULL, 0, 0, -1};
    assert_int_equal(stream_decrypt(ct.b, ct.n + 3, 1, &back), ENVELOPE_ERR_TRAILING_DATA);
    free(back.b);
    /* A sink that refuses stops the stream with ENVELOPE_ERR_OUTPUT. */
    back = (buf){NULL, 0, 0, 0};
    assert_int_equal(stream_decrypt(ct.b, ct.n, 1 << 20, &back), ENVELOPE_ERR_OUTPUT);
    free(back.b);
    free(ct.b);
    free(pt);
}

static void test_inspector(void **state)
{
    (void)state;
    uint8_t *pt = tu_pattern(3 * F + 1, 2);
    buf ct = {NULL, 0, 0, -1};
    stream_encrypt(pt, 3 * F + 1, 5000, &ct);
    envelope_inspector *in = NULL;
    envelope_err e;
    assert_int_equal(envelope_inspector_new(&in, &e), ENVELOPE_OK);
    for (size_t off = 0; off < ct.n; off += 777)
        assert_int_equal(envelope_inspector_update(in, ct.b + off,
                                                   ct.n - off < 777 ? ct.n - off : 777, &e),
                         ENVELOPE_OK);
    assert_int_equal(envelope_inspector_final(in, &e), ENVELOPE_OK);
    assert_int_equal(envelope_inspector_frame_count(in), 4);
    assert_int_equal(envelope_inspector_plaintext_len(in), 3 * F + 1);
    assert_int_equal(envelope_inspector_frame_size(in), F);
    assert_int_equal(envelope_inspector_edk_count(in), 1);
    envelope_edk_info ei;
    assert_true(envelope_inspector_edk(in, 0, &ei));
    assert_int_equal(ei.wrap_kind, ENVELOPE_WRAP_RSA_OAEP_SHA256);
    assert_string_equal(ei.reference, envelope_kek_reference(tu.k1));
    assert_int_equal(ei.wrapped_len, 384);
    envelope_inspector_free(in);
    /* truncated: not complete */
    assert_int_equal(envelope_inspector_new(&in, &e), ENVELOPE_OK);
    assert_int_equal(envelope_inspector_update(in, ct.b, ct.n - 1, &e), ENVELOPE_OK);
    assert_int_equal(envelope_inspector_final(in, &e), ENVELOPE_ERR_TRUNCATED);
    envelope_inspector_free(in);
    free(ct.b);
    free(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunkings),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_inspector),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
