/*
 * lib_bench.c - benchmarks (a) and (b) of bench/README.md, in one run on one machine:
 *  (a) 64 MiB encrypt/decrypt through libenvelope vs a framed raw EVP
 *      AES-256-GCM loop with the same frame size (target >= 0.95x): the
 *      one-shot sealer/opener, the streaming encryptor/decryptor serial and
 *      on 2 worker threads;
 *  (b) 1 KiB records sealed/opened per second with the DEK at hand
 *      (sealer/opener: header, key derivation, commitment, one frame) vs a
 *      fixed-key EVP AES-256-GCM loop (target >= 0.5x).
 * Each figure is the best of 5 runs. Serial paths are timed by the calling
 * thread's CPU time (steady on a shared machine), the threaded ones by the
 * wall clock. usage: lib_bench [kek.pem]
 * (without an argument an RSA-3072 KEK is generated in memory's temp dir).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "envelope/envelope.h"

#define MIB (1u << 20)
#define BIG (64u * MIB)
#define FRAME 65536u
#define REC 1024u

/* The clock: the calling thread's CPU time for the serial paths (a
 * machine shared with other work preempts this process; CPU time does not
 * count that), wall-clock time for the paths on worker threads. */
static clockid_t clk = CLOCK_THREAD_CPUTIME_ID;

static double now(void)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *m)
{
    fprintf(stderr, "lib_bench: %s\n", m);
    exit(1);
}

static EVP_CIPHER *gcm;
static uint8_t key[32], iv[12];

/* Raw framed loop: per frame a nonce, 13 bytes of AAD, the data, the tag. */
static double raw_framed(const uint8_t *in, uint8_t *out, size_t len, int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t aad[45] = {0}, tag[16] = {0};
    int l;
    if (EVP_CipherInit_ex2(c, gcm, key, iv, enc, NULL) != 1)
        die("init");
    double t = now();
    for (size_t off = 0; off < len; off += FRAME) {
        iv[11] = (uint8_t)(off / FRAME);
        EVP_CipherInit_ex2(c, NULL, NULL, iv, enc, NULL);
        EVP_CipherUpdate(c, NULL, &l, aad, sizeof(aad));
        EVP_CipherUpdate(c, out + off, &l, in + off, FRAME);
        if (!enc)
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag);
        EVP_CipherFinal_ex(c, out + off, &l); /* decrypt: tag fails, work is the same */
        if (enc)
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    }
    t = now() - t;
    EVP_CIPHER_CTX_free(c);
    return (double)len / t / 1e6;
}

static double raw_records(const uint8_t *in, uint8_t *out, int enc, long n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t tag[16] = {0};
    int l;
    if (EVP_CipherInit_ex2(c, gcm, key, iv, enc, NULL) != 1)
        die("init");
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

typedef struct {
    uint8_t *p;
    size_t n;
} sinkbuf;

static int to_buf(void *arg, const uint8_t *b, size_t n)
{
    sinkbuf *s = arg;
    memcpy(s->p + s->n, b, n);
    s->n += n;
    return 0;
}

static int count_only(void *arg, const uint8_t *b, size_t n)
{
    (void)b;
    *(size_t *)arg += n;
    return 0;
}

/* MB/s of one streamed encryption of BIG bytes, fed 1 MiB at a time. */
static double stream_enc(envelope_lib *lib, const envelope_encrypt_opts *eo, const uint8_t *in,
                         envelope_sink_fn sink, void *arg)
{
    envelope_encryptor *enc = NULL;
    envelope_err e;
    if (envelope_encryptor_new(lib, eo, sink, arg, &enc, &e) != ENVELOPE_OK)
        die(e.message);
    double t = now();
    for (size_t off = 0; off < BIG; off += MIB)
        if (envelope_encryptor_update(enc, in + off, MIB, &e) != ENVELOPE_OK)
            die(e.message);
    if (envelope_encryptor_final(enc, &e) != ENVELOPE_OK)
        die(e.message);
    t = now() - t;
    envelope_encryptor_free(enc);
    return BIG / t / 1e6;
}

/* MB/s of one streamed decryption of the message m (n bytes) of BIG
 * bytes; the header (one RSA-OAEP unwrap, per message, not per byte) is
 * fed before the clock starts. */
static double stream_dec(envelope_lib *lib, const envelope_decrypt_opts *dopt, const uint8_t *m,
                         size_t n)
{
    envelope_decryptor *dec = NULL;
    envelope_err e;
    size_t got = 0;
    if (envelope_decryptor_new(lib, dopt, count_only, &got, &dec, &e) != ENVELOPE_OK)
        die(e.message);
    size_t hdr = n - (BIG / FRAME) * (1 + FRAME + 16) - 4;
    if (envelope_decryptor_update(dec, m, hdr, &e) != ENVELOPE_OK)
        die(e.message);
    double t = now();
    for (size_t off = hdr; off < n; off += MIB) {
        size_t k = n - off < MIB ? n - off : MIB;
        if (envelope_decryptor_update(dec, m + off, k, &e) != ENVELOPE_OK)
            die(e.message);
    }
    if (envelope_decryptor_final(dec, &e) != ENVELOPE_OK || got != BIG)
        die(e.message);
    t = now() - t;
    envelope_decryptor_free(dec);
    return BIG / t / 1e6;
}

static double best(double a, double b)
{
    return a > b ? a : b;
}

int main(int argc, char **argv)
{
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_err e;
    char path[256];
    if (argc > 1) {
        snprintf(path, sizeof(path), "%s", argv[1]);
    } else {
        snprintf(path, sizeof(path), "/tmp/lib_bench_kek_%d.pem", (int)getpid());
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        FILE *f = fopen(path, "w");
        if (!k || !f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
            die("keygen");
        fclose(f);
        EVP_PKEY_free(k);
    }
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK ||
        envelope_kek_open(lib, path, &kek, &e) != ENVELOPE_OK)
        die(e.message);
    if (argc <= 1)
        unlink(path);
    gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    uint8_t *in = malloc(BIG), *out = malloc(BIG + MIB), *back = malloc(BIG + MIB);
    for (size_t i = 0; i < BIG; i++)
        in[i] = (uint8_t)(i * 31);
    envelope_kek *keks[] = {kek};
    envelope_encrypt_opts eo = {
        .struct_size = sizeof(eo), .keks = keks, .nkeks = 1, .context = NULL, .frame_size = FRAME};
    envelope_decrypt_opts dopt = {.struct_size = sizeof(dopt),
                                  .keks = keks,
                                  .nkeks = 1,
                                  .expected = NULL,
                                  .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};

    /* (a) 64 MiB */
    double raw_e = 0, raw_d = 0, lib_e = 0, lib_d = 0, str_e = 0, str_d = 0, str_ec = 0;
    double par_e = 0, par_d = 0;
    size_t mlen = 0;
    envelope_sealer *s = NULL;
    envelope_opener *op = NULL;
    if (envelope_sealer_new(lib, &eo, 0, &s, &e) != ENVELOPE_OK ||
        envelope_opener_new(lib, &dopt, &op, &e) != ENVELOPE_OK)
        die(e.message);
    for (int r = 0; r < 5; r++) {
        raw_e = best(raw_e, raw_framed(in, out, BIG, 1));
        raw_d = best(raw_d, raw_framed(out, back, BIG, 0));
        double t = now();
        if (envelope_sealer_seal(s, in, BIG, out, BIG + MIB, &mlen, &e) != ENVELOPE_OK)
            die(e.message);
        lib_e = best(lib_e, BIG / (now() - t) / 1e6);
        size_t plen = 0;
        t = now();
        if (envelope_opener_open(op, out, mlen, back, BIG + MIB, &plen, &e) != ENVELOPE_OK ||
            plen != BIG)
            die(e.message);
        lib_d = best(lib_d, BIG / (now() - t) / 1e6);
        /* streaming, fed 1 MiB at a time like the CLI: into a buffer
         * (the sink copies every byte, as a caller keeping the message
         * would), and to a counting sink (the library's own cost, as the
         * decrypt figure always was); serial and on 2 threads */
        sinkbuf sb = {out, 0};
        str_ec = best(str_ec, stream_enc(lib, &eo, in, to_buf, &sb));
        size_t cnt = 0;
        str_e = best(str_e, stream_enc(lib, &eo, in, count_only, &cnt));
        str_d = best(str_d, stream_dec(lib, &dopt, out, sb.n));
        eo.threads = 2;
        dopt.threads = 2;
        cnt = 0;
        clk = CLOCK_MONOTONIC;
        par_e = best(par_e, stream_enc(lib, &eo, in, count_only, &cnt));
        par_d = best(par_d, stream_dec(lib, &dopt, out, sb.n));
        clk = CLOCK_THREAD_CPUTIME_ID;
        eo.threads = 0;
        dopt.threads = 0;
    }
    printf("(a) 64 MiB, 64 KiB frames, MB/s (best of 5; serial paths by thread CPU time)\n");
    printf("    raw framed EVP AES-256-GCM   encrypt %7.0f  decrypt %7.0f\n", raw_e, raw_d);
    printf("    envelope one-shot            encrypt %7.0f  decrypt %7.0f   ratio %.2f / %.2f\n",
           lib_e, lib_d, lib_e / raw_e, lib_d / raw_d);
    printf("    envelope streaming (1 MiB)   encrypt %7.0f  decrypt %7.0f   ratio %.2f / %.2f\n",
           str_e, str_d, str_e / raw_e, str_d / raw_d);
    printf("      the same, encrypt sink copying into a buffer %7.0f           ratio %.2f\n",
           str_ec, str_ec / raw_e);
    printf("    streaming, threads = 2 (wall) encrypt %7.0f  decrypt %7.0f   ratio %.2f / %.2f\n",
           par_e, par_d, par_e / raw_e, par_d / raw_d);

    /* (b) 1 KiB records, DEK at hand */
    const long N = 200000;
    double rr_e = 0, rr_d = 0, se = 0, oe = 0;
    uint8_t rec[REC], msg[4096], pt[4096];
    memset(rec, 7, sizeof(rec));
    for (int r = 0; r < 5; r++) {
        rr_e = best(rr_e, raw_records(rec, msg, 1, N));
        rr_d = best(rr_d, raw_records(msg, pt, 0, N));
        double t = now();
        for (long i = 0; i < N; i++)
            if (envelope_sealer_seal(s, rec, REC, msg, sizeof(msg), &mlen, &e) != ENVELOPE_OK)
                die(e.message);
        se = best(se, N / (now() - t));
        size_t plen;
        t = now();
        for (long i = 0; i < N; i++)
            if (envelope_opener_open(op, msg, mlen, pt, sizeof(pt), &plen, &e) != ENVELOPE_OK)
                die(e.message);
        oe = best(oe, N / (now() - t));
    }
    printf("(b) 1 KiB records per second, DEK at hand (best of 5; message %zu bytes)\n", mlen);
    printf("    fixed-key EVP AES-256-GCM    seal %9.0f  open %9.0f\n", rr_e, rr_d);
    printf("    envelope sealer/opener       seal %9.0f  open %9.0f   ratio %.2f / %.2f\n", se, oe,
           se / rr_e, oe / rr_d);
    envelope_sealer_free(s);
    envelope_opener_free(op);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    EVP_CIPHER_free(gcm);
    free(in);
    free(out);
    free(back);
    return 0;
}
