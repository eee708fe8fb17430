/*
 * records_formats.c URI RECORDS - 1 KiB records with the DEK at hand, in
 * one run: the fixed-key EVP AES-256-GCM loop (the floor), suite 1
 * (envelope_sealer / envelope_opener: a whole message per record) and
 * suite 2 (envelope_record_seal / _open under one key block), rounds
 * alternated, best of 5; then suite 2's per-record key derivation alone,
 * two ways: two AES blocks through one kept AES-256-ECB context (what
 * lib/xaes.c does) and two CMAC-AES-256 computations through a kept
 * EVP_MAC "CMAC" context. Run by bench/records_bench.sh.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "envelope/envelope.h"

#define REC 1024
#define ROUNDS 5

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double best(double a, double b)
{
    return a > b ? a : b;
}

static uint8_t key[32], iv[12];

static double raw_gcm(EVP_CIPHER *gcm, const uint8_t *in, uint8_t *out, int enc, long n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t tag[16] = {0};
    int l;
    if (c == NULL || EVP_CipherInit_ex2(c, gcm, key, iv, enc, NULL) != 1)
        DIE("gcm init");
    double t = now();
    for (long i = 0; i < n; i++) {
        iv[0] = (uint8_t)i;
        EVP_CipherInit_ex2(c, NULL, NULL, iv, enc, NULL);
        EVP_CipherUpdate(c, out, &l, in, REC);
        if (!enc)
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag);
        EVP_CipherFinal_ex(c, out, &l);
        if (enc)
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    }
    t = now() - t;
    EVP_CIPHER_CTX_free(c);
    return (double)n / t;
}

/* Derivations per second: ECB (two blocks, one call) vs EVP_MAC CMAC x2. */
static void derivation(long n, double *ecb_s, double *cmac_s)
{
    EVP_CIPHER *ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
    uint8_t blk[32] = {0}, out[32];
    int l;
    size_t ml;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-256-CBC", 0),
                      OSSL_PARAM_construct_end()};
    if (ecb == NULL || c == NULL || m == NULL ||
        EVP_EncryptInit_ex2(c, ecb, key, NULL, NULL) != 1 ||
        EVP_MAC_init(m, key, sizeof(key), p) != 1)
        DIE("derivation setup");
    double t = now();
    for (long i = 0; i < n; i++) {
        blk[4] = (uint8_t)i;
        EVP_EncryptUpdate(c, out, &l, blk, 32);
    }
    *ecb_s = (double)n / (now() - t);
    t = now();
    for (long i = 0; i < n; i++) {
        blk[4] = (uint8_t)i;
        for (int j = 0; j < 2; j++) {
            EVP_MAC_init(m, NULL, 0, NULL);
            EVP_MAC_update(m, blk + 16 * j, 16);
            EVP_MAC_final(m, out + 16 * j, &ml, 16);
        }
    }
    *cmac_s = (double)n / (now() - t);
    EVP_MAC_CTX_free(m);
    EVP_MAC_free(mac);
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(ecb);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        DIE("usage: records_formats URI RECORDS");
    long n = strtol(argv[2], NULL, 10);
    if (n < 1000 || n > 10000000)
        DIE("RECORDS 1000..10000000");
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_err e = {0};
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &e) != ENVELOPE_OK)
        DIE("%s", e.message);
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    envelope_kek *keks[] = {kek};
    envelope_encrypt_opts eo = {
        .struct_size = sizeof(eo), .keks = keks, .nkeks = 1, .context = NULL, .frame_size = 0};
    envelope_decrypt_opts dop = {.struct_size = sizeof(dop),
                                 .keks = keks,
                                 .nkeks = 1,
                                 .expected = NULL,
                                 .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_sealer *s1 = NULL;
    envelope_opener *o1 = NULL;
    envelope_keyblock *kb = NULL, *loaded = NULL;
    envelope_record_ctx *rc = NULL;
    if (gcm == NULL || envelope_sealer_new(lib, &eo, 0, &s1, &e) != ENVELOPE_OK ||
        envelope_opener_new(lib, &dop, &o1, &e) != ENVELOPE_OK ||
        envelope_keyblock_new(lib, &eo, 0, &kb, &e) != ENVELOPE_OK ||
        envelope_record_ctx_new(lib, &rc, &e) != ENVELOPE_OK)
        DIE("%s", e.message);
    size_t kblen = 0;
    const uint8_t *kbytes = envelope_keyblock_bytes(kb, &kblen);
    if (envelope_keyblock_load(lib, &dop, kbytes, kblen, &loaded, &e) != ENVELOPE_OK)
        DIE("%s", e.message);
    static uint8_t in[REC], m1[8192], m2[REC + 64], pt[8192];
    memset(in, 'r', sizeof(in));
    size_t l1 = 0, l2 = 0, pl = 0;
    double raw_s = 0, raw_o = 0, s1_s = 0, s1_o = 0, s2_s = 0, s2_o = 0, t;
    /* warm up once (first unwrap of the suite 1 opener's cache) */
    if (envelope_sealer_seal(s1, in, REC, m1, sizeof(m1), &l1, &e) != ENVELOPE_OK ||
        envelope_opener_open(o1, m1, l1, pt, sizeof(pt), &pl, &e) != ENVELOPE_OK)
        DIE("%s", e.message);
    for (int r = 0; r < ROUNDS; r++) {
        raw_s = best(raw_s, raw_gcm(gcm, in, m2, 1, n));
        raw_o = best(raw_o, raw_gcm(gcm, m2, pt, 0, n));
        t = now();
        for (long i = 0; i < n; i++)
            if (envelope_sealer_seal(s1, in, REC, m1, sizeof(m1), &l1, &e) != ENVELOPE_OK)
                DIE("%s", e.message);
        s1_s = best(s1_s, (double)n / (now() - t));
        t = now();
        for (long i = 0; i < n; i++)
            if (envelope_opener_open(o1, m1, l1, pt, sizeof(pt), &pl, &e) != ENVELOPE_OK)
                DIE("%s", e.message);
        s1_o = best(s1_o, (double)n / (now() - t));
        t = now();
        for (long i = 0; i < n; i++)
            if (envelope_record_seal(rc, kb, NULL, 0, in, REC, m2, sizeof(m2), &l2, &e) !=
                ENVELOPE_OK)
                DIE("%s", e.message);
        s2_s = best(s2_s, (double)n / (now() - t));
        t = now();
        for (long i = 0; i < n; i++)
            if (envelope_record_open(rc, loaded, NULL, 0, m2, l2, pt, sizeof(pt), &pl, &e) !=
                ENVELOPE_OK)
                DIE("%s", e.message);
        s2_o = best(s2_o, (double)n / (now() - t));
    }
    double d_ecb = 0, d_cmac = 0;
    derivation(n, &d_ecb, &d_cmac);
    printf("| path | bytes per record | seal/s | open/s | seal ratio | open ratio |\n");
    printf("|---|---|---|---|---|---|\n");
    printf("| fixed-key EVP AES-256-GCM loop | %d | %.0f | %.0f | 1 | 1 |\n", REC + 16, raw_s,
           raw_o);
    printf("| suite 1 sealer / opener (whole message) | %zu | %.0f | %.0f | %.2f | %.2f |\n", l1,
           s1_s, s1_o, s1_s / raw_s, s1_o / raw_o);
    printf("| suite 2 compact record (key block %zu bytes, once) | %zu | %.0f | %.0f | **%.2f** | "
           "**%.2f** |\n",
           kblen, l2, s2_s, s2_o, s2_s / raw_s, s2_o / raw_o);
    printf("\nsuite 2 key derivation alone, per second: AES-256-ECB two blocks %.0f, "
           "EVP_MAC CMAC x2 %.0f (%.1fx)\n",
           d_ecb, d_cmac, d_ecb / d_cmac);
    envelope_record_ctx_free(rc);
    envelope_keyblock_free(kb);
    envelope_keyblock_free(loaded);
    envelope_sealer_free(s1);
    envelope_opener_free(o1);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    EVP_CIPHER_free(gcm);
    return 0;
}
