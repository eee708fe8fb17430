/*
 * test_lib_threads.c - the streaming encryptor and decryptor with worker
 * threads (threads in the options, lib/encrypt_par.c, lib/decrypt_par.c):
 *
 *  - with the random generator made deterministic for the test, a message
 *    sealed on 2..8 threads is the serial one byte for byte after the EDK
 *    list (RSA-OAEP's own randomness is libcrypto's, so the EDKs differ),
 *    at sizes around frame and slot boundaries, 0 bytes included, fed in
 *    odd chunks and through the lent buffers; the serial decryptor reads
 *    the threaded output and the threaded decryptor the serial output;
 *  - a tampered frame k of n releases exactly frames 1..k-1, as the
 *    serial decryptor does (nothing of frame k or later); a bad type byte,
 *    truncation, swapped frames and trailing bytes the same;
 *  - threads exist only when asked for, and none is left after final, a
 *    failure, a refusing sink or a free in mid-stream (counted in
 *    /proc/self/task); more than 64 is refused.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "internal.h"
#include "lib_test_util.h"
#include "workers.h"

#define F 4096u

/* ---- a deterministic generator for the library's own draws ---- */
static int fixed_rand;
static uint64_t rand_ctr;
int __real_RAND_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st);
int __real_RAND_priv_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st);
int __wrap_RAND_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st);
int __wrap_RAND_priv_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st);
static void counter_bytes(unsigned char *buf, size_t num)
{
    for (size_t i = 0; i < num; i++)
        buf[i] = (unsigned char)((rand_ctr++ * 0x9e3779b97f4a7c15ull) >> 56);
}
int __wrap_RAND_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st)
{
    if (!fixed_rand)
        return __real_RAND_bytes_ex(ctx, buf, num, st);
    counter_bytes(buf, num);
    return 1;
}
int __wrap_RAND_priv_bytes_ex(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t num, unsigned int st)
{
    if (!fixed_rand)
        return __real_RAND_priv_bytes_ex(ctx, buf, num, st);
    counter_bytes(buf, num);
    return 1;
}

/* ---- helpers ---- */
typedef struct {
    uint8_t *b;
    size_t n, cap;
    long refuse_after; /* -1: never */
} buf;

static int sink(void *arg, const uint8_t *p, size_t n)
{
    buf *b = arg;
    if (b->refuse_after >= 0 && b->n >= (size_t)b->refuse_after)
        return 1;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->b = realloc(b->b, b->cap);
        assert_non_null(b->b);
    }
    if (n > 0)
        memcpy(b->b + b->n, p, n);
    b->n += n;
    return 0;
}

static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Chunk sizes to feed with; 0 means "through the lent buffer, reads of
 * varying length" (a read(2) that returns less than asked). */
static const size_t chunks[] = {0, 1 << 20, 7777, 1};

static size_t lent_read(size_t want, size_t i)
{
    static const size_t lens[] = {4096, 100000, 1, 65536, 300000, 3};
    size_t l = lens[i % 6];
    return l < want ? l : want;
}

static void encrypt(size_t threads, const uint8_t *pt, size_t len, size_t chunk, buf *out)
{
    envelope_kek *a[] = {tu.k1};
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = a, .nkeks = 1, .frame_size = F, .threads = threads};
    envelope_encryptor *enc = NULL;
    envelope_err e;
    assert_int_equal(envelope_encryptor_new(tu.lib, &o, sink, out, &enc, &e), ENVELOPE_OK);
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n;
        if (chunk == 0) {
            uint8_t *b = NULL;
            size_t room = 0;
            assert_int_equal(envelope_encryptor_buffer(enc, &b, &room, &e), ENVELOPE_OK);
            assert_true(room >= 1);
            n = lent_read(room < len - off ? room : len - off, i);
            memcpy(b, pt + off, n);
            assert_int_equal(envelope_encryptor_update(enc, b, n, &e), ENVELOPE_OK);
        } else {
            n = len - off < chunk ? len - off : chunk;
            assert_int_equal(envelope_encryptor_update(enc, pt + off, n, &e), ENVELOPE_OK);
        }
        off += n;
    }
    if (chunk == 0) { /* a last lent buffer asked for and left unused: EOF */
        uint8_t *b = NULL;
        size_t room = 0;
        assert_int_equal(envelope_encryptor_buffer(enc, &b, &room, &e), ENVELOPE_OK);
    }
    assert_int_equal(envelope_encryptor_final(enc, &e), ENVELOPE_OK);
    envelope_encryptor_free(enc);
}

static envelope_status decrypt(size_t threads, const uint8_t *m, size_t len, size_t chunk, buf *out,
                               envelope_err *e)
{
    envelope_kek *a[] = {tu.k1};
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = a,
                               .nkeks = 1,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT,
                               .threads = threads};
    envelope_decryptor *d = NULL;
    assert_int_equal(envelope_decryptor_new(tu.lib, &o, sink, out, &d, e), ENVELOPE_OK);
    envelope_status s = ENVELOPE_OK;
    size_t off = 0;
    for (size_t i = 0; off < len && s == ENVELOPE_OK; i++) {
        size_t n;
        if (chunk == 0) {
            uint8_t *b = NULL;
            size_t room = 0;
            s = envelope_decryptor_buffer(d, &b, &room, e);
            if (s != ENVELOPE_OK)
                break;
            n = lent_read(room < len - off ? room : len - off, i);
            memcpy(b, m + off, n);
            s = envelope_decryptor_update(d, b, n, e);
        } else {
            n = len - off < chunk ? len - off : chunk;
            s = envelope_decryptor_update(d, m + off, n, e);
        }
        off += n;
    }
    if (s == ENVELOPE_OK)
        s = envelope_decryptor_final(d, e);
    else /* sticky */
        assert_int_equal(envelope_decryptor_final(d, e), s);
    envelope_decryptor_free(d);
    return s;
}

/* Where the EDK list ends and the bytes the DEK and the id decide begin. */
static void split(const buf *m, size_t *edk_off, size_t *edk_end)
{
    env_header h;
    envelope_err e;
    assert_int_equal(env_header_parse(m->b, m->n, &h, NULL, &e), ENVELOPE_OK);
    *edk_off = (size_t)(h.edk_list - m->b);
    *edk_end = h.total_len;
}

static size_t slot_bytes(size_t threads)
{
    env_par_geom g;
    env_par_geometry(threads, F, &g);
    return g.kframes * F;
}

/* ---- the tests ---- */
static void test_same_bytes_as_serial(void **state)
{
    (void)state;
    static const size_t threads[] = {2, 3, 8};
    for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
        size_t sb = slot_bytes(threads[t]);
        env_par_geom g;
        env_par_geometry(threads[t], F, &g);
        const size_t sizes[] = {0,      1,      F - 1,          F,
                                F + 1,  2 * F,  sb - 1,         sb,
                                sb + 1, 2 * sb, 2 * sb + F + 7, (g.nslots + 1) * sb + 3};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t len = sizes[i], c = chunks[i % 4];
            uint8_t *pt = tu_pattern(len ? len : 1, (unsigned)(len + t));
            buf ser = {NULL, 0, 0, -1}, par = {NULL, 0, 0, -1};
            fixed_rand = 1;
            rand_ctr = 1000 + len;
            encrypt(1, pt, len, 1 << 20, &ser);
            rand_ctr = 1000 + len;
            encrypt(threads[t], pt, len, c, &par);
            fixed_rand = 0;
            size_t so, se, po, pe;
            split(&ser, &so, &se);
            split(&par, &po, &pe);
            assert_int_equal(ser.n, par.n);
            assert_int_equal(so, po);
            assert_int_equal(se, pe);
            /* header body and tag, then every frame: the same bytes */
            assert_memory_equal(ser.b, par.b, so);
            assert_memory_equal(ser.b + se, par.b + pe, ser.n - se);

            envelope_err e;
            buf a = {NULL, 0, 0, -1}, b = {NULL, 0, 0, -1};
            assert_int_equal(decrypt(1, par.b, par.n, 65536, &a, &e), ENVELOPE_OK);
            assert_int_equal(decrypt(threads[t], ser.b, ser.n, chunks[(i + 1) % 4], &b, &e),
                             ENVELOPE_OK);
            assert_int_equal(a.n, len);
            assert_int_equal(b.n, len);
            if (len > 0) {
                assert_memory_equal(a.b, pt, len);
                assert_memory_equal(b.b, pt, len);
            }
            free(a.b);
            free(b.b);
            free(ser.b);
            free(par.b);
            free(pt);
        }
    }
}

/* Offset of frame k (1-based) in a message whose frames start at `hdr`. */
static size_t frame_at(size_t hdr, size_t k)
{
    return hdr + (k - 1) * (1 + F + ENV_TAG_LEN);
}

static void test_tamper_releases_prefix(void **state)
{
    (void)state;
    size_t sb = slot_bytes(2), len = 3 * sb + 1000;
    size_t nframes = (len + F - 1) / F, kslot = sb / F;
    uint8_t *pt = tu_pattern(len, 5);
    buf m = {NULL, 0, 0, -1};
    encrypt(2, pt, len, 1 << 20, &m);
    size_t hdr, edk_end;
    split(&m, &hdr, &edk_end);
    hdr = edk_end;
    const size_t ks[] = {1, 2, kslot, kslot + 1, 2 * kslot + 5, nframes - 1, nframes};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        for (size_t c = 0; c < 4; c++) {
            size_t k = ks[i];
            uint8_t *t = malloc(m.n);
            memcpy(t, m.b, m.n);
            t[frame_at(hdr, k) + 1 + (k * 13) % 200] ^= 0x20; /* a ciphertext byte */
            buf ser = {NULL, 0, 0, -1}, par = {NULL, 0, 0, -1};
            envelope_err e;
            assert_int_equal(decrypt(1, t, m.n, 1 << 20, &ser, &e), ENVELOPE_ERR_AUTH);
            assert_int_equal(decrypt(c == 0 ? 8 : 2, t, m.n, chunks[c], &par, &e),
                             ENVELOPE_ERR_AUTH);
            assert_string_equal(e.message, ENV_AUTH_FAILED);
            /* exactly frames 1..k-1, as serially */
            assert_int_equal(par.n, (k - 1) * F);
            assert_int_equal(ser.n, par.n);
            if (par.n > 0)
                assert_memory_equal(par.b, pt, par.n);
            free(ser.b);
            free(par.b);
            free(t);
        }
    }
    /* a bad type byte in frame k: frames 1..k-1, then FRAME_TYPE */
    {
        size_t k = kslot + 2;
        uint8_t *t = malloc(m.n);
        memcpy(t, m.b, m.n);
        t[frame_at(hdr, k)] = 0x07;
        buf par = {NULL, 0, 0, -1};
        envelope_err e;
        assert_int_equal(decrypt(2, t, m.n, 0, &par, &e), ENVELOPE_ERR_FRAME_TYPE);
        assert_int_equal(par.n, (k - 1) * F);
        free(par.b);
        free(t);
    }
    /* frames 2 and 3 swapped: frame 1 only */
    {
        size_t fl = 1 + F + ENV_TAG_LEN;
        uint8_t *t = malloc(m.n);
        memcpy(t, m.b, m.n);
        memcpy(t + frame_at(hdr, 2), m.b + frame_at(hdr, 3), fl);
        memcpy(t + frame_at(hdr, 3), m.b + frame_at(hdr, 2), fl);
        buf par = {NULL, 0, 0, -1};
        envelope_err e;
        assert_int_equal(decrypt(2, t, m.n, 7777, &par, &e), ENVELOPE_ERR_AUTH);
        assert_int_equal(par.n, F);
        free(par.b);
        free(t);
    }
    free(m.b);
    free(pt);
}

static void test_truncation_and_trailing(void **state)
{
    (void)state;
    size_t sb = slot_bytes(2), len = 2 * sb + 3 * F; /* ends with a full final frame */
    size_t nframes = len / F;
    uint8_t *pt = tu_pattern(len, 9);
    buf m = {NULL, 0, 0, -1};
    encrypt(2, pt, len, 0, &m);
    size_t edk_off, hdr;
    split(&m, &edk_off, &hdr);
    envelope_err e;
    for (size_t c = 0; c < 4; c++) {
        /* the final frame dropped: every regular frame, then TRUNCATED */
        buf a = {NULL, 0, 0, -1};
        assert_int_equal(decrypt(2, m.b, frame_at(hdr, nframes), chunks[c], &a, &e),
                         ENVELOPE_ERR_TRUNCATED);
        assert_int_equal(a.n, (nframes - 1) * F);
        assert_memory_equal(a.b, pt, a.n);
        free(a.b);
        /* cut inside frame sb/F + 1: the frames before it */
        buf b = {NULL, 0, 0, -1};
        size_t k = sb / F + 1;
        assert_int_equal(decrypt(3, m.b, frame_at(hdr, k) + 100, chunks[c], &b, &e),
                         ENVELOPE_ERR_TRUNCATED);
        assert_int_equal(b.n, (k - 1) * F);
        free(b.b);
        /* cut inside the header */
        buf h = {NULL, 0, 0, -1};
        assert_int_equal(decrypt(2, m.b, hdr - 1, chunks[c], &h, &e), ENVELOPE_ERR_TRUNCATED);
        assert_int_equal(h.n, 0);
        free(h.b);
        /* one byte appended: the whole plaintext, then TRAILING_DATA */
        uint8_t *t = malloc(m.n + 1);
        memcpy(t, m.b, m.n);
        t[m.n] = 0;
        buf d = {NULL, 0, 0, -1};
        assert_int_equal(decrypt(2, t, m.n + 1, chunks[c], &d, &e), ENVELOPE_ERR_TRAILING_DATA);
        assert_int_equal(d.n, len);
        free(d.b);
        free(t);
    }
    free(m.b);
    free(pt);
}

static void test_threads_only_when_asked_and_joined(void **state)
{
    (void)state;
    int base = task_count();
    size_t len = 3 * slot_bytes(4);
    uint8_t *pt = tu_pattern(len, 3);
    envelope_kek *a[] = {tu.k1};
    envelope_err e;
    /* 0 (the default): none */
    envelope_encrypt_opts o0 = {.struct_size = sizeof(o0), .keks = a, .nkeks = 1};
    envelope_encryptor *enc = NULL;
    buf m = {NULL, 0, 0, -1};
    assert_int_equal(envelope_encryptor_new(tu.lib, &o0, sink, &m, &enc, &e), ENVELOPE_OK);
    assert_int_equal(envelope_encryptor_update(enc, pt, len, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base);
    assert_int_equal(envelope_encryptor_final(enc, &e), ENVELOPE_OK);
    envelope_encryptor_free(enc);
    /* a caller built against the header before threads: struct_size ends
     * before it, whatever follows in memory is not read */
    struct {
        envelope_encrypt_opts o;
    } old;
    memset(&old, 0xff, sizeof(old));
    old.o.struct_size = offsetof(envelope_encrypt_opts, threads);
    old.o.keks = a;
    old.o.nkeks = 1;
    old.o.context = NULL;
    old.o.frame_size = 0;
    old.o.kek_policy = 0;
    old.o.skipped = NULL;
    assert_int_equal(envelope_encryptor_new(tu.lib, &old.o, sink, &m, &enc, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base);
    envelope_encryptor_free(enc);
    /* 4: four while the encryptor lives, none after final */
    envelope_encrypt_opts o4 = {.struct_size = sizeof(o4), .keks = a, .nkeks = 1, .threads = 4};
    free(m.b);
    m = (buf){NULL, 0, 0, -1};
    assert_int_equal(envelope_encryptor_new(tu.lib, &o4, sink, &m, &enc, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base + 4);
    assert_int_equal(envelope_encryptor_update(enc, pt, len, &e), ENVELOPE_OK);
    assert_int_equal(envelope_encryptor_final(enc, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base);
    envelope_encryptor_free(enc);
    /* freed in mid-stream (cancellation): joined */
    buf x = {NULL, 0, 0, -1};
    assert_int_equal(envelope_encryptor_new(tu.lib, &o4, sink, &x, &enc, &e), ENVELOPE_OK);
    assert_int_equal(envelope_encryptor_update(enc, pt, len, &e), ENVELOPE_OK);
    envelope_encryptor_free(enc);
    assert_int_equal(task_count(), base);
    /* a sink that refuses: ENVELOPE_ERR_OUTPUT, joined at once, sticky */
    buf r = {NULL, 0, 0, 100};
    assert_int_equal(envelope_encryptor_new(tu.lib, &o4, sink, &r, &enc, &e), ENVELOPE_OK);
    envelope_status s = envelope_encryptor_update(enc, pt, len, &e);
    if (s == ENVELOPE_OK)
        s = envelope_encryptor_final(enc, &e);
    assert_int_equal(s, ENVELOPE_ERR_OUTPUT);
    assert_int_equal(task_count(), base);
    assert_int_equal(envelope_encryptor_final(enc, &e), ENVELOPE_ERR_OUTPUT);
    envelope_encryptor_free(enc);
    free(r.b);
    free(x.b);
    /* decryptor: threads start after the header, end with a failure */
    envelope_decrypt_opts d4 = {.struct_size = sizeof(d4),
                                .keks = a,
                                .nkeks = 1,
                                .flags = ENVELOPE_DECRYPT_ANY_CONTEXT,
                                .threads = 4};
    envelope_decryptor *dec = NULL;
    buf p = {NULL, 0, 0, -1};
    assert_int_equal(envelope_decryptor_new(tu.lib, &d4, sink, &p, &dec, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base);
    assert_int_equal(envelope_decryptor_update(dec, m.b, m.n / 2, &e), ENVELOPE_OK);
    assert_int_equal(task_count(), base + 4);
    m.b[m.n / 2 + 10] ^= 1;
    s = envelope_decryptor_update(dec, m.b + m.n / 2, m.n - m.n / 2, &e);
    if (s == ENVELOPE_OK) /* the failing slot may still be with a worker */
        s = envelope_decryptor_final(dec, &e);
    assert_int_equal(s, ENVELOPE_ERR_AUTH);
    assert_int_equal(task_count(), base);
    envelope_decryptor_free(dec);
    /* and freed in mid-stream */
    assert_int_equal(envelope_decryptor_new(tu.lib, &d4, sink, &p, &dec, &e), ENVELOPE_OK);
    assert_int_equal(envelope_decryptor_update(dec, m.b, m.n / 3, &e), ENVELOPE_OK);
    envelope_decryptor_free(dec);
    assert_int_equal(task_count(), base);
    /* more than 64: refused, none started */
    envelope_encrypt_opts o65 = {.struct_size = sizeof(o65), .keks = a, .nkeks = 1, .threads = 65};
    assert_int_equal(envelope_encryptor_new(tu.lib, &o65, sink, &m, &enc, &e),
                     ENVELOPE_ERR_ARGUMENT);
    d4.threads = 65;
    assert_int_equal(envelope_decryptor_new(tu.lib, &d4, sink, &p, &dec, &e),
                     ENVELOPE_ERR_ARGUMENT);
    assert_int_equal(task_count(), base);
    free(p.b);
    free(m.b);
    free(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_serial),
        cmocka_unit_test(test_tamper_releases_prefix),
        cmocka_unit_test(test_truncation_and_trailing),
        cmocka_unit_test(test_threads_only_when_asked_and_joined),
    };
    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
