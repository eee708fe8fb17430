/*
 * test_lib_header.c - the header parser: each limit gives its own error, a
 * short input asks for exactly what it needs, and the streaming header
 * accumulator agrees with the one-shot parser at any split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "bytes.h"
#include "internal.h"
#include "lib_test_util.h"

static uint8_t *msg;
static size_t mlen;

static int setup(void **state)
{
    if (tu_setup(state) != 0)
        return -1;
    envelope_kek *a[] = {tu.k1, tu.k2};
    static const char *const kv[] = {"tenant=acme", "x=", NULL};
    uint8_t pt[10] = {0};
    envelope_context *c = NULL;
    envelope_err e;
    if (envelope_context_new(&c, &e) != ENVELOPE_OK)
        return -1;
    for (int i = 0; kv[i]; i++)
        if (envelope_context_add_kv(c, kv[i], &e) != ENVELOPE_OK)
            return -1;
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = a, .nkeks = 2, .context = c, .frame_size = 8192};
    envelope_status s = envelope_seal(tu.lib, &o, pt, sizeof(pt), &msg, &mlen, &e);
    envelope_context_free(c);
    return s == ENVELOPE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    OPENSSL_free(msg);
    return tu_teardown(state);
}

static void test_fields(void **state)
{
    (void)state;
    env_header h;
    envelope_err e;
    assert_int_equal(env_header_parse(msg, mlen, &h, NULL, &e), ENVELOPE_OK);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.suite, 1);
    assert_int_equal(h.frame_size, 8192);
    assert_int_equal(h.edk_count, 2);
    assert_int_equal(h.body_len, 44 + h.ctx_enc_len + 2 + 32);
    assert_ptr_equal(h.tag, msg + h.body_len);
    assert_int_equal(h.total_len, h.body_len + 16 + h.edk_list_len);
    assert_int_equal(mlen, h.total_len + 1 + 4 + 10 + 16);
    assert_int_equal(h.edks[0].wrapped_len, 384);
    assert_int_equal(h.edks[1].wrapped_len, 256);
}

static void test_short_reads_ask_for_more(void **state)
{
    (void)state;
    env_header h, full;
    envelope_err e;
    assert_int_equal(env_header_parse(msg, mlen, &full, NULL, &e), ENVELOPE_OK);
    for (size_t n = 0; n < full.total_len; n++) {
        size_t need = 0;
        assert_int_equal(env_header_parse(msg, n, &h, &need, &e), ENVELOPE_ERR_TRUNCATED);
        assert_true(need > n && need <= full.total_len);
    }
}

static void test_accumulator_any_split(void **state)
{
    (void)state;
    env_header full;
    envelope_err e;
    assert_int_equal(env_header_parse(msg, mlen, &full, NULL, &e), ENVELOPE_OK);
    static const size_t steps[] = {1, 2, 3, 64, 1000, 100000};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        env_hdracc a;
        assert_int_equal(env_hdracc_init(&a, &e), ENVELOPE_OK);
        const uint8_t *p = msg;
        size_t left = mlen;
        envelope_status st = ENVELOPE_ERR_TRUNCATED;
        while (st == ENVELOPE_ERR_TRUNCATED && left > 0) {
            size_t n = left < steps[s] ? left : steps[s], before = n;
            const uint8_t *q = p;
            st = env_hdracc_feed(&a, &q, &n, &e);
            p += before - n;
            left -= before - n;
        }
        assert_int_equal(st, ENVELOPE_OK);
        assert_int_equal(a.h.total_len, full.total_len);
        /* nothing past the header was consumed */
        assert_int_equal((size_t)(p - msg), full.total_len);
        env_hdracc_cleanup(&a);
    }
}

static envelope_status parse_changed(size_t off, uint8_t val)
{
    uint8_t *m = malloc(mlen);
    memcpy(m, msg, mlen);
    m[off] = val;
    env_header h;
    envelope_err e;
    envelope_status s = env_header_parse(m, mlen, &h, NULL, &e);
    free(m);
    return s;
}

static void test_each_limit(void **state)
{
    (void)state;
    env_header h;
    envelope_err e;
    assert_int_equal(env_header_parse(msg, mlen, &h, NULL, &e), ENVELOPE_OK);
    size_t ctx = (size_t)(h.ctx_enc - msg), ext = ctx + h.ctx_enc_len,
           edk = (size_t)(h.edk_list - msg);
    assert_int_equal(parse_changed(0, 'X'), ENVELOPE_ERR_BAD_MAGIC);
    assert_int_equal(parse_changed(4, 2), ENVELOPE_ERR_VERSION);
    assert_int_equal(parse_changed(6, 2), ENVELOPE_ERR_SUITE);
    assert_int_equal(parse_changed(7, 2), ENVELOPE_ERR_RESERVED); /* 0x01 is KEK policy any */
    assert_int_equal(parse_changed(7, 0x80), ENVELOPE_ERR_RESERVED);
    assert_int_equal(parse_changed(7, 1), ENVELOPE_OK); /* parses; the header tag covers it */
    assert_int_equal(parse_changed(42, 0x0f), ENVELOPE_ERR_HDR_FRAME_SIZE);     /* 0x0f00 < 4096 */
    assert_int_equal(parse_changed(40, 0x01), ENVELOPE_ERR_HDR_FRAME_SIZE);     /* > 16 MiB */
    assert_int_equal(parse_changed(ctx + 1, 65), ENVELOPE_ERR_CONTEXT_LIMIT);   /* 65 pairs */
    assert_int_equal(parse_changed(ctx + 2, 0x01), ENVELOPE_ERR_CONTEXT_LIMIT); /* key len 262 */
    assert_int_equal(parse_changed(ctx + 4, 0xff), ENVELOPE_ERR_CONTEXT_ENCODING);
    assert_int_equal(parse_changed(ctx + 4, '='), ENVELOPE_ERR_CONTEXT_ENCODING);
    assert_int_equal(parse_changed(ctx + 4, 'y'),
                     ENVELOPE_ERR_CONTEXT_ENCODING); /* "yenant" > "x" */
    assert_int_equal(parse_changed(ext, 1), ENVELOPE_ERR_RESERVED);
    assert_int_equal(parse_changed(edk, 0), ENVELOPE_ERR_EDK_COUNT);
    assert_int_equal(parse_changed(edk, 17), ENVELOPE_ERR_EDK_COUNT);
    assert_int_equal(parse_changed(edk + 1, 0), ENVELOPE_ERR_WRAP_KIND);
    assert_int_equal(parse_changed(edk + 1, 3), ENVELOPE_ERR_WRAP_KIND);
    assert_int_equal(parse_changed(edk + 2, 1), ENVELOPE_ERR_RESERVED);
    assert_int_equal(parse_changed(edk + 3, 0x04), ENVELOPE_ERR_EDK_FIELD); /* ref > 1024 */
    size_t idl = edk + 5 + h.edks[0].uri_len;
    assert_int_equal(parse_changed(idl, 65), ENVELOPE_ERR_EDK_FIELD);
    size_t wl = idl + 1 + h.edks[0].key_id_len;
    assert_int_equal(parse_changed(wl, 0x08), ENVELOPE_ERR_EDK_FIELD); /* > 2048 */
    uint8_t *m = malloc(mlen);
    memcpy(m, msg, mlen);
    m[wl] = 0, m[wl + 1] = 0;
    assert_int_equal(env_header_parse(m, mlen, &h, NULL, &e), ENVELOPE_ERR_EDK_FIELD);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_short_reads_ask_for_more),
        cmocka_unit_test(test_accumulator_any_split),
        cmocka_unit_test(test_each_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
