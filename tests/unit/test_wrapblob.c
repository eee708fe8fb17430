/* Unit tests for provider/wrapblob.c: the wrapped-key blob codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/obj_mac.h>

#include "wrapblob.h"

static void aes_roundtrip(void **state)
{
    unsigned char ct[48], out[WRAPBLOB_MAX];
    memset(ct, 0xab, sizeof(ct));
    wrapblob b = {.kind = WRAPBLOB_KIND_AES_GCM, .iv_len = 12, .ct = ct, .ct_len = sizeof(ct)};
    memset(b.iv, 7, 12);
    size_t n = wrapblob_encode(&b, out, sizeof(out));
    assert_int_equal(n, 4 + 1 + 12 + 2 + 48);
    assert_memory_equal(out, "EW\x01\x01\x0c", 5);
    wrapblob d;
    assert_true(wrapblob_decode(&d, out, n));
    assert_int_equal(d.kind, WRAPBLOB_KIND_AES_GCM);
    assert_int_equal(d.iv_len, 12);
    assert_memory_equal(d.iv, b.iv, 12);
    assert_int_equal(d.ct_len, 48);
    assert_memory_equal(d.ct, ct, 48);
}

static void rsa_roundtrip(void **state)
{
    unsigned char ct[384], out[WRAPBLOB_MAX];
    memset(ct, 0x5a, sizeof(ct));
    wrapblob b = {.kind = WRAPBLOB_KIND_RSA_OAEP,
                  .oaep_md = NID_sha1,
                  .mgf1_md = NID_sha256,
                  .binding = WRAPBLOB_BIND_PAYLOAD,
                  .ct = ct,
                  .ct_len = sizeof(ct)};
    size_t n = wrapblob_encode(&b, out, sizeof(out));
    assert_int_equal(n, 4 + 3 + 2 + 384);
    wrapblob d;
    assert_true(wrapblob_decode(&d, out, n));
    assert_int_equal(d.oaep_md, NID_sha1);
    assert_int_equal(d.mgf1_md, NID_sha256);
    assert_int_equal(d.binding, WRAPBLOB_BIND_PAYLOAD);
    assert_int_equal(d.ct_len, 384);
}

static void ec_roundtrip(void **state)
{
    (void)state;
    unsigned char point[65], ct[48], buf[256];
    memset(point, 0x11, sizeof(point));
    point[0] = 0x04;
    memset(ct, 0x22, sizeof(ct));
    wrapblob b = {.kind = WRAPBLOB_KIND_ECDH_P256,
                  .iv_len = 12,
                  .point = point,
                  .ct = ct,
                  .ct_len = sizeof(ct)};
    memset(b.iv, 0x33, 12);
    size_t n = wrapblob_encode(&b, buf, sizeof(buf));
    assert_int_equal(n, WRAPBLOB_EC_HEADER_LEN + 2 + sizeof(ct));
    wrapblob d;
    assert_true(wrapblob_decode(&d, buf, n));
    assert_int_equal(d.kind, WRAPBLOB_KIND_ECDH_P256);
    assert_memory_equal(d.point, point, 65);
    assert_memory_equal(d.iv, b.iv, 12);
    assert_int_equal(d.ct_len, sizeof(ct));
    assert_memory_equal(d.ct, ct, sizeof(ct));
    /* every field is checked: curve, kdf, point form, lengths, trailing */
    static const size_t bad_at[] = {4, 5, 6};
    for (size_t i = 0; i < sizeof(bad_at) / sizeof(bad_at[0]); i++) {
        buf[bad_at[i]] ^= 0x01;
        assert_false(wrapblob_decode(&d, buf, n));
        buf[bad_at[i]] ^= 0x01;
    }
    assert_false(wrapblob_decode(&d, buf, n - 1));
    buf[n] = 0;
    assert_false(wrapblob_decode(&d, buf, n + 1));
    /* a header-only encode leaves the ciphertext to the caller */
    b.ct = NULL;
    assert_int_equal(wrapblob_encode(&b, buf, sizeof(buf)), n);
    point[0] = 0x02; /* compressed: not what the format holds */
    assert_int_equal(wrapblob_encode(&b, buf, sizeof(buf)), 0);
}

static void kms_opaque_roundtrip(void **state)
{
    (void)state;
    unsigned char ct[184], out[WRAPBLOB_MAX];
    memset(ct, 0x3c, sizeof(ct));
    wrapblob b = {.kind = WRAPBLOB_KIND_KMS_OPAQUE, .ct = ct, .ct_len = sizeof(ct)};
    size_t n = wrapblob_encode(&b, out, sizeof(out));
    assert_int_equal(n, 4 + 2 + 184);
    assert_memory_equal(out, "EW\x01\x04\x00\xb8", 6);
    wrapblob d;
    assert_true(wrapblob_decode(&d, out, n));
    assert_int_equal(d.kind, WRAPBLOB_KIND_KMS_OPAQUE);
    assert_int_equal(d.ct_len, 184);
    assert_memory_equal(d.ct, ct, 184);
    assert_false(wrapblob_decode(&d, out, n - 1)); /* cut */
    out[n] = 0;
    assert_false(wrapblob_decode(&d, out, n + 1)); /* trailing byte */
    static const unsigned char empty[] = {'E', 'W', 1, 4, 0, 0};
    assert_false(wrapblob_decode(&d, empty, sizeof(empty)));
    static const unsigned char big[] = {'E', 'W', 1, 4, 0x04, 0x01}; /* 1025 */
    assert_false(wrapblob_decode(&d, big, sizeof(big)));
    b.ct_len = WRAPBLOB_KMS_MAX_CT + 1;
    assert_int_equal(wrapblob_encode(&b, out, sizeof(out)), 0);
    b.ct_len = 0;
    assert_int_equal(wrapblob_encode(&b, out, sizeof(out)), 0);
}

static void rejects_malformed(void **state)
{
    unsigned char ct[32] = {0}, out[WRAPBLOB_MAX];
    wrapblob b = {.kind = WRAPBLOB_KIND_AES_GCM, .iv_len = 12, .ct = ct, .ct_len = sizeof(ct)};
    size_t n = wrapblob_encode(&b, out, sizeof(out));
    wrapblob d;
    /* every truncation, and one trailing byte, is refused */
    for (size_t i = 0; i < n; i++)
        assert_false(wrapblob_decode(&d, out, i));
    out[n] = 0;
    assert_false(wrapblob_decode(&d, out, n + 1));
    /* bad magic, version, kind, iv length */
    unsigned char c[WRAPBLOB_MAX] = {0};
    size_t bad_offsets[] = {0, 1, 2, 3};
    for (size_t i = 0; i < 4; i++) {
        memcpy(c, out, n);
        c[bad_offsets[i]] ^= 0x80;
        assert_false(wrapblob_decode(&d, c, n));
    }
    memcpy(c, out, n);
    c[4] = 11; /* IV shorter than 96 bits */
    assert_false(wrapblob_decode(&d, c, n));
    /* a ct_len that claims more than is there */
    memcpy(c, out, n);
    c[4 + 1 + 12 + 1]++;
    assert_false(wrapblob_decode(&d, c, n));
}

static void encode_refuses_bad_input(void **state)
{
    unsigned char ct[2000] = {0}, out[WRAPBLOB_MAX];
    wrapblob b = {.kind = WRAPBLOB_KIND_AES_GCM, .iv_len = 12, .ct = ct, .ct_len = 81};
    assert_int_equal(wrapblob_encode(&b, out, sizeof(out)), 0);
    b.ct_len = 32;
    b.iv_len = 17;
    assert_int_equal(wrapblob_encode(&b, out, sizeof(out)), 0);
    b.iv_len = 12;
    assert_int_equal(wrapblob_encode(&b, out, 10), 0); /* no room */
    wrapblob r = {.kind = WRAPBLOB_KIND_RSA_OAEP,
                  .oaep_md = NID_md5,
                  .mgf1_md = NID_sha1,
                  .binding = 1,
                  .ct = ct,
                  .ct_len = 256};
    assert_int_equal(wrapblob_encode(&r, out, sizeof(out)), 0);
    r.oaep_md = NID_sha256;
    r.binding = 3;
    assert_int_equal(wrapblob_encode(&r, out, sizeof(out)), 0);
    r.binding = 1;
    r.ct_len = 1025;
    assert_int_equal(wrapblob_encode(&r, out, sizeof(out)), 0);
    wrapblob k = {.kind = 9};
    assert_int_equal(wrapblob_encode(&k, out, sizeof(out)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aes_roundtrip),     cmocka_unit_test(rsa_roundtrip),
        cmocka_unit_test(ec_roundtrip),      cmocka_unit_test(kms_opaque_roundtrip),
        cmocka_unit_test(rejects_malformed), cmocka_unit_test(encode_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
