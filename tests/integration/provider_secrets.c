/*
 * provider_secrets.c OUT - the process provider_secrets.sh dumps: it makes
 * DEKs through the provider's KEM on a SoftHSM2 AES KEK (ENV_AES_URI, PIN
 * from a pin-source file), unwraps each twice (a cache miss that fills the
 * unwrap cache, then a hit), so that the provider holds the DEKs in its
 * cache and the token's PIN in its login state, then writes the DEKs to OUT
 * (hex, one per line), prints "ready" and waits to be dumped and killed.
 *
 * The program's own copies of the DEKs live in a MADV_DONTDUMP page, so
 * that any copy a core shows is one the provider, the library or OpenSSL
 * left. A control value in ordinary heap memory, written as OUT's first
 * line, must be found in every core: it shows the scan can find a secret.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "envelope/provider.h"
#include "it_check.h"

#define NDEKS 8

struct hidden {
    unsigned char dek[NDEKS][32], back[32];
    char hex[NDEKS * 65 + 65];
};

static int kem(EVP_PKEY *pk, int enc, const char *aad, unsigned char *blob, size_t *bl,
               unsigned char secret[32])
{
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad,
                                                        strlen(aad)),
                      OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    size_t sl = 32, max = 0;
    int ok = c != NULL &&
             (enc ? EVP_PKEY_encapsulate_init(c, p) > 0 &&
                        EVP_PKEY_encapsulate(c, NULL, &max, NULL, &sl) > 0 && max <= *bl &&
                        EVP_PKEY_encapsulate(c, blob, bl, secret, &sl) > 0
                  : EVP_PKEY_decapsulate_init(c, p) > 0 &&
                        EVP_PKEY_decapsulate(c, secret, &sl, blob, *bl) > 0) &&
             sl == 32;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* The vector registers of this thread hold what it last compared or
 * copied: the program's own check of the last DEK (CRYPTO_memcmp, memcpy).
 * A core's register notes (NT_FPREGSET, NT_X86_XSTATE) carry them: a
 * SIGABRT core showed DEK 7 there before this. They are the test's own
 * copies, so they are cleared; docs/TESTING.md says what that means for a
 * thread that dies mid-unwrap. */
static void clear_vector_registers(void)
{
#if defined(__x86_64__)
    __asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
                     "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
                     "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
                     "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" ::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (__builtin_cpu_supports("avx"))
        __asm__ volatile("vzeroall" ::: "memory"); /* the upper halves too */
    /* glibc's EVEX memcpy works in ymm16-31, which only AVX-512 has (the
     * SIGABRT core showed the DEK in the XSAVE area's Hi16_ZMM part) */
    if (__builtin_cpu_supports("avx512f"))
        __asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
                         "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
                         "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
                         "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
                         "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
                         "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
                         "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
                         "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::
                             : "memory");
#endif
}

static void to_hex(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\n';
}

int main(int argc, char **argv)
{
    if (argc != 2)
        FAIL("usage: provider_secrets OUT");
    struct hidden *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    CHECK(h != MAP_FAILED && madvise(h, sizeof(*h), MADV_DONTDUMP) == 0);
    unsigned char *control = malloc(32);
    CHECK(control != NULL && RAND_bytes(control, 32) == 1);
    EVP_PKEY *pk = it_store_load(getenv("ENV_AES_URI"));
    CHECK(pk != NULL);
    to_hex(h->hex, control, 32);
    for (int i = 0; i < NDEKS; i++) {
        unsigned char blob[256];
        size_t bl = sizeof(blob);
        char aad[32];
        snprintf(aad, sizeof(aad), "secrets=%d", i);
        CHECK(kem(pk, 1, aad, blob, &bl, h->dek[i]));
        for (int round = 0; round < 2; round++) { /* a miss, then a hit */
            CHECK(kem(pk, 0, aad, blob, &bl, h->back));
            CHECK(CRYPTO_memcmp(h->back, h->dek[i], 32) == 0);
        }
        to_hex(h->hex + 65 * (i + 1), h->dek[i], 32);
    }
    OPENSSL_cleanse(h->back, sizeof(h->back));
    FILE *f = fopen(argv[1], "w");
    CHECK(f != NULL);
    /* write(2) from the hidden page: no stdio buffer holds the hex */
    CHECK(write(fileno(f), h->hex, 65 * (NDEKS + 1)) == 65 * (NDEKS + 1));
    fclose(f);
    clear_vector_registers();
    printf("ready %ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause(); /* dumped with gcore, then killed with SIGABRT */
}
