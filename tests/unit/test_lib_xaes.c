/*
 * test_lib_xaes.c - suite 2's XAES-256-GCM (lib/xaes.c, lib/record.c)
 * against the C2SP known answers: both single vectors (L's top bit 0 and
 * 1: K1, Kx, the ciphertext and tag, and the open) and the accumulated
 * randomized test of 10 000 iterations (SHAKE-128 as the RNG, SHAKE-128
 * over the ciphertexts). The vectors are read in place from the file named
 * by ENVELOPE_XAES_VECTORS; without it the test is skipped, saying so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib_test_util.h"
#include "suite2.h"

static char *vectors; /* the whole file, NUL-terminated */

static int load_vectors(void)
{
    const char *path = getenv("ENVELOPE_XAES_VECTORS");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "SKIP: XAES-256-GCM vectors not found (ENVELOPE_XAES_VECTORS=%s)\n",
                path ? path : "(unset)");
        return 0;
    }
    vectors = calloc(1, 1 << 16);
    size_t n = fread(vectors, 1, (1 << 16) - 1, f);
    fclose(f);
    vectors[n] = '\0';
    return 1;
}

/* The value after "label:" following position *from (hex, or "quoted"). */
static size_t field(const char **from, const char *label, uint8_t *out, size_t cap)
{
    const char *p = strstr(*from, label);
    assert_non_null(p);
    p += strlen(label);
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            assert_true(n < cap);
            out[n++] = (uint8_t)*p;
        }
    } else {
        while ((p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'f')) {
            unsigned v;
            assert_true(n < cap);
            assert_int_equal(sscanf(p, "%2x", &v), 1);
            out[n++] = (uint8_t)v;
            p += 2;
        }
    }
    *from = p;
    return n;
}

static void one_vector(const char *name)
{
    assert_non_null(vectors);
    const char *p = strstr(vectors, name);
    assert_non_null(p);
    uint8_t k[32], n[24], l[16], k1[16], kx[32], nx[12], pt[64], aad[64], want[128];
    assert_int_equal(field(&p, "K:", k, sizeof(k)), 32);
    assert_int_equal(field(&p, "N:", n, sizeof(n)), 24);
    assert_int_equal(field(&p, "L:", l, sizeof(l)), 16);
    assert_int_equal(field(&p, "K1:", k1, sizeof(k1)), 16);
    assert_int_equal(field(&p, "Kx:", kx, sizeof(kx)), 32);
    assert_int_equal(field(&p, "Nx:", nx, sizeof(nx)), 12);
    size_t ptlen = field(&p, "Plaintext:", pt, sizeof(pt));
    size_t aadlen = field(&p, "AAD:", aad, sizeof(aad));
    size_t wlen = field(&p, "Ciphertext:", want, sizeof(want));
    assert_int_equal(wlen, ptlen + 16);
    assert_memory_equal(nx, n + 12, 12);

    envelope_err e;
    envelope_keyblock *kb = NULL;
    assert_int_equal(env_kb_from_key(tu.lib, k, n, &kb, &e), ENVELOPE_OK);
    assert_memory_equal(kb->s->k1, k1, 16); /* K1 = dbl(L): L's top bit 0, then 1 */
    (void)l;
    /* Kx through the derivation the record path uses */
    EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
    uint8_t got[32];
    assert_int_equal(EVP_EncryptInit_ex2(ecb, tu.lib->ecb, k, NULL, NULL), 1);
    assert_int_equal(env_xaes_derive(ecb, kb->s->k1, n, got), 1);
    assert_memory_equal(got, kx, 32);
    EVP_CIPHER_CTX_free(ecb);

    envelope_record_ctx *rc = NULL;
    assert_int_equal(envelope_record_ctx_new(tu.lib, &rc, &e), ENVELOPE_OK);
    uint8_t ct[128], back[64];
    assert_int_equal(env_xaes_seal(rc, kb, n, aad, aadlen, NULL, 0, pt, ptlen, ct, ct + ptlen, &e),
                     ENVELOPE_OK);
    assert_memory_equal(ct, want, wlen);
    assert_int_equal(env_xaes_open(rc, kb, n, aad, aadlen, NULL, 0, ct, ptlen, ct + ptlen, back,
                                   &e),
                     ENVELOPE_OK);
    assert_memory_equal(back, pt, ptlen);
    ct[0] ^= 1;
    assert_int_equal(env_xaes_open(rc, kb, n, aad, aadlen, NULL, 0, ct, ptlen, ct + ptlen, back,
                                   &e),
                     ENVELOPE_ERR_AUTH);
    envelope_record_ctx_free(rc);
    envelope_keyblock_free(kb);
}

static void test_known_answers(void **state)
{
    (void)state;
    if (vectors == NULL) {
        skip();
        return;
    }
    one_vector("Vector 1");
    one_vector("Vector 2");
}

static void test_accumulated_10000(void **state)
{
    (void)state;
    if (vectors == NULL) {
        skip();
        return;
    }
    const char *p = strstr(vectors, "10 000 iterations:");
    assert_non_null(p);
    uint8_t want[32];
    assert_int_equal(field(&p, "10 000 iterations:", want, sizeof(want)), 32);

    /* OpenSSL 3.0 squeezes a XOF once: draw the most the test can read */
    const size_t iters = 10000, per = 32 + 24 + 1 + 255 + 1 + 255;
    uint8_t *stream = malloc(iters * per);
    assert_non_null(stream);
    EVP_MD_CTX *rng = EVP_MD_CTX_new(), *acc = EVP_MD_CTX_new();
    EVP_MD *shake = EVP_MD_fetch(NULL, "SHAKE-128", NULL);
    assert_int_equal(EVP_DigestInit_ex2(rng, shake, NULL), 1);
    assert_int_equal(EVP_DigestFinalXOF(rng, stream, iters * per), 1);
    static const uint8_t start[8] = {0x7f, 0x9c, 0x2b, 0xa4, 0xe8, 0x8f, 0x82, 0x7d};
    assert_memory_equal(stream, start, sizeof(start));
    assert_int_equal(EVP_DigestInit_ex2(acc, shake, NULL), 1);

    envelope_err e;
    envelope_record_ctx *rc = NULL;
    assert_int_equal(envelope_record_ctx_new(tu.lib, &rc, &e), ENVELOPE_OK);
    uint8_t ct[255 + 16];
    size_t off = 0;
    for (size_t i = 0; i < iters; i++) {
        const uint8_t *k = stream + off, *n = k + 32;
        off += 56;
        size_t ptlen = stream[off++];
        const uint8_t *pt = stream + off;
        off += ptlen;
        size_t aadlen = stream[off++];
        const uint8_t *aad = stream + off;
        off += aadlen;
        envelope_keyblock *kb = NULL; /* a new key each time: re-keys the ECB context */
        assert_int_equal(env_kb_from_key(tu.lib, k, n, &kb, &e), ENVELOPE_OK);
        assert_int_equal(env_xaes_seal(rc, kb, n, aad, aadlen, NULL, 0, pt, ptlen, ct, ct + ptlen,
                                       &e),
                         ENVELOPE_OK);
        envelope_keyblock_free(kb);
        assert_int_equal(EVP_DigestUpdate(acc, ct, ptlen + 16), 1);
    }
    uint8_t got[32];
    assert_int_equal(EVP_DigestFinalXOF(acc, got, sizeof(got)), 1);
    assert_memory_equal(got, want, 32);
    envelope_record_ctx_free(rc);
    EVP_MD_free(shake);
    EVP_MD_CTX_free(rng);
    EVP_MD_CTX_free(acc);
    free(stream);
}

int main(void)
{
    load_vectors();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_accumulated_10000),
    };
    int rc = cmocka_run_group_tests(tests, tu_setup, tu_teardown);
    free(vectors);
    return rc;
}
