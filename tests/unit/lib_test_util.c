/*
 * lib_test_util.c - see lib_test_util.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib_test_util.h"

tu_env tu;

static int write_key(const char *path, EVP_PKEY *k, int pub)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 0;
    int ok = pub ? PEM_write_PUBKEY(f, k) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return ok == 1;
}

int tu_setup(void **state)
{
    (void)state;
    memset(&tu, 0, sizeof(tu));
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tu.dir, sizeof(tu.dir), "%s/envlib-unit-XXXXXX", tmp);
    if (mkdtemp(tu.dir) == NULL)
        return -1;
    snprintf(tu.pem1, sizeof(tu.pem1), "%s/kek1.pem", tu.dir);
    snprintf(tu.pem2, sizeof(tu.pem2), "%s/kek2.pem", tu.dir);
    snprintf(tu.pub1, sizeof(tu.pub1), "%s/kek1.pub.pem", tu.dir);
    snprintf(tu.ec, sizeof(tu.ec), "%s/ec.pem", tu.dir);
    EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *c = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    int ok = a && b && c && write_key(tu.pem1, a, 0) && write_key(tu.pem2, b, 0) &&
             write_key(tu.pub1, a, 1) && write_key(tu.ec, c, 0);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(c);
    if (!ok)
        return -1;
    envelope_err e;
    char uri[400];
    if (envelope_lib_new(NULL, NULL, &tu.lib, &e) != ENVELOPE_OK)
        return -1;
    snprintf(uri, sizeof(uri), "file:%s", tu.pem1);
    if (envelope_kek_open(tu.lib, uri, &tu.k1, &e) != ENVELOPE_OK)
        return fprintf(stderr, "%s\n", e.message), -1;
    if (envelope_kek_open(tu.lib, tu.pem2, &tu.k2, &e) != ENVELOPE_OK)
        return -1;
    snprintf(uri, sizeof(uri), "file:%s", tu.pub1);
    if (envelope_kek_open(tu.lib, uri, &tu.pub1k, &e) != ENVELOPE_OK)
        return -1;
    return 0;
}

int tu_teardown(void **state)
{
    (void)state;
    envelope_kek_free(tu.k1);
    envelope_kek_free(tu.k2);
    envelope_kek_free(tu.pub1k);
    envelope_lib_free(tu.lib);
    unlink(tu.pem1);
    unlink(tu.pem2);
    unlink(tu.pub1);
    unlink(tu.ec);
    rmdir(tu.dir);
    return 0;
}

uint8_t *tu_pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

envelope_context *tu_context(const char *const *kv)
{
    envelope_context *c = NULL;
    envelope_err e;
    assert_int_equal(envelope_context_new(&c, &e), ENVELOPE_OK);
    for (size_t i = 0; kv && kv[i]; i++)
        assert_int_equal(envelope_context_add_kv(c, kv[i], &e), ENVELOPE_OK);
    return c;
}

void tu_seal(envelope_kek **keks, size_t n, const char *const *kv, size_t fs, const uint8_t *pt,
             size_t len, uint8_t **msg, size_t *mlen)
{
    envelope_context *c = tu_context(kv);
    envelope_err e;
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = keks, .nkeks = n, .context = c, .frame_size = fs};
    envelope_status s = envelope_seal(tu.lib, &o, pt, len, msg, mlen, &e);
    if (s != ENVELOPE_OK)
        fprintf(stderr, "seal: %s\n", e.message);
    assert_int_equal(s, ENVELOPE_OK);
    envelope_context_free(c);
}
