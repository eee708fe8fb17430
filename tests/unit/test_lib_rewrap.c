/*
 * test_lib_rewrap.c - envelope_rewrap_header: the authenticated header and
 * the body are unchanged byte for byte, the new KEK opens the result, the
 * old one too unless remove_old; a rerun is recognised (already_done)
 * without using a KEK; dry_run makes no header; a tampered header, the
 * wrong KEK, a truncated header and an EDK list that would pass 16 entries
 * are refused with no header returned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "lib_test_util.h"

#define LEN 10000u

typedef struct msg {
    uint8_t *b;
    size_t n;
} msg;

static uint8_t *pt;

static msg seal_with(envelope_kek **keks, size_t n)
{
    static const char *const kv[] = {"tenant=acme", NULL};
    msg m = {NULL, 0};
    tu_seal(keks, n, kv, 4096, pt, LEN, &m.b, &m.n);
    return m;
}

/* The rewrapped message: new header, then the old bytes after the old one. */
static msg apply(const msg *old, const envelope_rewrap_result *r)
{
    msg m;
    m.n = r->header_len + old->n - r->old_header_len;
    m.b = malloc(m.n);
    assert_non_null(m.b);
    memcpy(m.b, r->header, r->header_len);
    memcpy(m.b + r->header_len, old->b + r->old_header_len, old->n - r->old_header_len);
    return m;
}

static envelope_status open_with(envelope_kek *k, const msg *m)
{
    envelope_kek *a[] = {k};
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    uint8_t *out = NULL;
    size_t olen = 0;
    envelope_err e;
    envelope_status s = envelope_open(tu.lib, &o, m->b, m->n, &out, &olen, NULL, &e);
    if (s == ENVELOPE_OK) {
        assert_int_equal(olen, LEN);
        assert_memory_equal(out, pt, LEN);
    }
    envelope_buffer_free(out, olen);
    return s;
}

static envelope_status rewrap(envelope_kek *from, envelope_kek *to, int remove_old, int dry_run,
                              const msg *m, envelope_rewrap_result *r)
{
    envelope_kek *f[] = {from}, *t[] = {to};
    envelope_rewrap_opts o = {.struct_size = sizeof(o),
                              .from = f,
                              .nfrom = 1,
                              .to = t,
                              .nto = 1,
                              .remove_old = remove_old,
                              .dry_run = dry_run};
    envelope_err e;
    return envelope_rewrap_header(tu.lib, &o, m->b, m->n, r, &e);
}

static void same_data(const msg *a, const msg *b)
{
    env_header ha, hb;
    assert_int_equal(env_header_parse(a->b, a->n, &ha, NULL, NULL), ENVELOPE_OK);
    assert_int_equal(env_header_parse(b->b, b->n, &hb, NULL, NULL), ENVELOPE_OK);
    /* body and tag: everything the header tag and commitment cover */
    assert_int_equal(ha.body_len, hb.body_len);
    assert_memory_equal(a->b, b->b, ha.body_len + ENV_TAG_LEN);
    assert_int_equal(a->n - ha.total_len, b->n - hb.total_len);
    assert_memory_equal(a->b + ha.total_len, b->b + hb.total_len, a->n - ha.total_len);
}

static size_t edk_count(const msg *m)
{
    env_header h;
    assert_int_equal(env_header_parse(m->b, m->n, &h, NULL, NULL), ENVELOPE_OK);
    return h.edk_count;
}

static void test_add_keep_old(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    msg m = seal_with(a, 1);
    envelope_rewrap_result r;
    assert_int_equal(rewrap(tu.k1, tu.k2, 0, 0, &m, &r), ENVELOPE_OK);
    assert_false(r.already_done);
    assert_int_equal(r.edks_added, 1);
    assert_int_equal(r.edks_removed, 0);
    assert_non_null(r.header);
    msg n = apply(&m, &r);
    same_data(&m, &n);
    assert_int_equal(edk_count(&n), 2);
    assert_int_equal(open_with(tu.k2, &n), ENVELOPE_OK);
    assert_int_equal(open_with(tu.k1, &n), ENVELOPE_OK);
    envelope_buffer_free(r.header, r.header_len);
    /* a rerun: recognised, nothing made */
    assert_int_equal(rewrap(tu.k1, tu.k2, 0, 0, &n, &r), ENVELOPE_OK);
    assert_true(r.already_done);
    assert_null(r.header);
    /* the same with remove_old still has the old EDK to drop */
    assert_int_equal(rewrap(tu.k1, tu.k2, 1, 0, &n, &r), ENVELOPE_OK);
    assert_false(r.already_done);
    assert_int_equal(r.edks_added, 0);
    assert_int_equal(r.edks_removed, 1);
    msg o = apply(&n, &r);
    assert_int_equal(edk_count(&o), 1);
    assert_int_equal(open_with(tu.k1, &o), ENVELOPE_ERR_NO_KEK);
    assert_int_equal(open_with(tu.k2, &o), ENVELOPE_OK);
    envelope_buffer_free(r.header, r.header_len);
    free(m.b);
    free(n.b);
    free(o.b);
}

static void test_remove_old(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    msg m = seal_with(a, 1);
    envelope_rewrap_result r;
    assert_int_equal(rewrap(tu.k1, tu.k2, 1, 0, &m, &r), ENVELOPE_OK);
    assert_int_equal(r.edks_added, 1);
    assert_int_equal(r.edks_removed, 1);
    msg n = apply(&m, &r);
    same_data(&m, &n);
    assert_int_equal(edk_count(&n), 1);
    assert_int_equal(open_with(tu.k1, &n), ENVELOPE_ERR_NO_KEK);
    assert_int_equal(open_with(tu.k2, &n), ENVELOPE_OK);
    envelope_buffer_free(r.header, r.header_len);
    assert_int_equal(rewrap(tu.k1, tu.k2, 1, 0, &n, &r), ENVELOPE_OK);
    assert_true(r.already_done);
    /* the old KEK cannot rewrap what it can no longer open */
    assert_int_equal(rewrap(tu.k1, tu.k1, 0, 0, &n, &r), ENVELOPE_ERR_NO_KEK);
    assert_null(r.header);
    free(m.b);
    free(n.b);
}

/* A `to` KEK whose EDK is there (the public half of the `from` KEK has its
 * key id): nothing to do, even with remove_old. */
static void test_same_key_is_done(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    msg m = seal_with(a, 1);
    envelope_rewrap_result r;
    assert_int_equal(rewrap(tu.k1, tu.pub1k, 1, 0, &m, &r), ENVELOPE_OK);
    assert_true(r.already_done);
    assert_null(r.header);
    assert_int_equal(r.edks_added, 0);
    assert_int_equal(r.edks_removed, 0);
    free(m.b);
}

static void test_dry_run(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    msg m = seal_with(a, 1);
    envelope_rewrap_result r;
    assert_int_equal(rewrap(tu.k1, tu.k2, 1, 1, &m, &r), ENVELOPE_OK);
    assert_false(r.already_done);
    assert_null(r.header);
    assert_int_equal(r.edks_added, 1);
    assert_int_equal(r.edks_removed, 1);
    /* a dry run still unwraps and checks: the wrong KEK fails */
    assert_int_equal(rewrap(tu.k2, tu.k2, 0, 1, &m, &r), ENVELOPE_ERR_NO_KEK);
    free(m.b);
}

static void test_tampered(void **state)
{
    (void)state;
    envelope_kek *a[] = {tu.k1};
    msg m = seal_with(a, 1);
    env_header h;
    envelope_rewrap_result r;
    assert_int_equal(env_header_parse(m.b, m.n, &h, NULL, NULL), ENVELOPE_OK);
    /* the message id (commitment), the context (wrap AAD), the commitment,
     * the tag, the last byte of the wrapped DEK */
    size_t at[] = {8, 48, h.body_len - 1, h.body_len + 3, h.total_len - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        m.b[at[i]] ^= 0x01;
        envelope_status s = rewrap(tu.k1, tu.k2, 0, 0, &m, &r);
        if (s != ENVELOPE_ERR_AUTH)
            fail_msg("change of byte %zu: %s, wanted ENVELOPE_ERR_AUTH", at[i],
                     envelope_status_name(s));
        assert_null(r.header);
        m.b[at[i]] ^= 0x01;
    }
    /* a body byte is not the header's business: rewrap copies it */
    m.b[m.n - 5] ^= 0x01;
    assert_int_equal(rewrap(tu.k1, tu.k2, 0, 0, &m, &r), ENVELOPE_OK);
    envelope_buffer_free(r.header, r.header_len);
    free(m.b);
}

static void test_limits(void **state)
{
    (void)state;
    envelope_kek *many[ENVELOPE_MAX_EDKS];
    for (size_t i = 0; i < ENVELOPE_MAX_EDKS; i++)
        many[i] = tu.k1;
    msg m = seal_with(many, ENVELOPE_MAX_EDKS);
    envelope_rewrap_result r;
    envelope_err e;
    assert_int_equal(rewrap(tu.k1, tu.k2, 0, 0, &m, &r), ENVELOPE_ERR_EDK_COUNT);
    assert_null(r.header);
    /* dropping the old ones makes room */
    assert_int_equal(rewrap(tu.k1, tu.k2, 1, 0, &m, &r), ENVELOPE_OK);
    assert_int_equal(r.edks_removed, ENVELOPE_MAX_EDKS);
    msg n = apply(&m, &r);
    assert_int_equal(edk_count(&n), 1);
    assert_int_equal(open_with(tu.k2, &n), ENVELOPE_OK);
    envelope_buffer_free(r.header, r.header_len);
    /* a header cut short, no KEKs, NULLs */
    msg cut = {m.b, 60};
    assert_int_equal(rewrap(tu.k1, tu.k2, 0, 0, &cut, &r), ENVELOPE_ERR_TRUNCATED);
    envelope_kek *f[] = {tu.k1};
    envelope_rewrap_opts none = {.struct_size = sizeof(none),
                                 .from = f,
                                 .nfrom = 1,
                                 .to = NULL,
                                 .nto = 0,
                                 .remove_old = 0,
                                 .dry_run = 0};
    assert_int_equal(envelope_rewrap_header(tu.lib, &none, m.b, m.n, &r, &e),
                     ENVELOPE_ERR_KEK_COUNT);
    assert_int_equal(envelope_rewrap_header(tu.lib, NULL, m.b, m.n, &r, &e), ENVELOPE_ERR_ARGUMENT);
    free(m.b);
    free(n.b);
}

int main(void)
{
    pt = tu_pattern(LEN, 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_keep_old),     cmocka_unit_test(test_remove_old),
        cmocka_unit_test(test_same_key_is_done), cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_tampered),         cmocka_unit_test(test_limits),
    };
    int rc = cmocka_run_group_tests(tests, tu_setup, tu_teardown);
    free(pt);
    return rc;
}
