/*
 * tpm_prov_evp.c - TPM KEKs through the envelope provider with public
 * OpenSSL APIs only (what any application would do): OSSL_STORE, EVP KEM,
 * EVP_PKEY_encrypt/decrypt with the "aad" param, EVP_PKEY_generate.
 *
 *   tpm_prov_evp kem URI          encapsulate (with AAD) / decapsulate; wrong
 *                                 AAD and a flipped blob byte are refused
 *   tpm_prov_evp wrap URI         the same with EVP_PKEY_encrypt/decrypt
 *   tpm_prov_evp gen URI          EVP_PKEY_generate of an EC KEK at URI, use
 *   tpm_prov_evp refused URI N    decapsulation of a fresh blob fails with
 *                                 provider reason N (e.g. 19, PCR policy)
 *   tpm_prov_evp pub URI          prints the public key PEM (export works,
 *                                 private export is refused)
 * Exit 0 on success; messages on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/store.h>

#include "envelope/provider.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            ERR_print_errors_fp(stderr);                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static EVP_PKEY *load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *k = NULL;

    CHECK(s != NULL);
    while (k == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (i != NULL && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY)
            k = OSSL_STORE_INFO_get1_PKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    CHECK(k != NULL);
    return k;
}

static void set_aad(EVP_PKEY_CTX *c, const char *aad)
{
    OSSL_PARAM p[2];
    p[0] = OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad));
    p[1] = OSSL_PARAM_construct_end();
    CHECK(EVP_PKEY_CTX_set_params(c, p) == 1);
}

static int decap(EVP_PKEY *k, const char *aad, const unsigned char *blob, size_t n,
                 unsigned char *out, size_t *outlen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok;

    CHECK(c != NULL && EVP_PKEY_decapsulate_init(c, NULL) == 1);
    set_aad(c, aad);
    *outlen = 32;
    ok = EVP_PKEY_decapsulate(c, out, outlen, blob, n) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static size_t encap(EVP_PKEY *k, const char *aad, unsigned char *blob, unsigned char sec[32])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    size_t n = 0, sl = 0;

    CHECK(c != NULL && EVP_PKEY_encapsulate_init(c, NULL) == 1);
    set_aad(c, aad);
    CHECK(EVP_PKEY_encapsulate(c, NULL, &n, NULL, &sl) == 1 && n <= 2048 && sl == 32);
    CHECK(EVP_PKEY_encapsulate(c, blob, &n, sec, &sl) == 1 && sl == 32);
    EVP_PKEY_CTX_free(c);
    return n;
}

static void kem(const char *uri)
{
    EVP_PKEY *k = load(uri);
    unsigned char blob[2048], sec[32], out[64];
    size_t n, outlen = 0;

    n = encap(k, "tenant=a", blob, sec);
    CHECK(decap(k, "tenant=a", blob, n, out, &outlen) && outlen == 32);
    CHECK(memcmp(out, sec, 32) == 0);
    ERR_clear_error();
    CHECK(!decap(k, "tenant=b", blob, n, out, &outlen));
    CHECK(ERR_GET_REASON(ERR_peek_last_error()) == 11); /* authentication failed */
    ERR_clear_error();
    blob[n - 3] ^= 1;
    CHECK(!decap(k, "tenant=a", blob, n, out, &outlen));
    ERR_clear_error();
    blob[n - 3] ^= 1;
    CHECK(!decap(k, "tenant=a", blob, n - 1, out, &outlen)); /* truncated */
    ERR_clear_error();
    CHECK(decap(k, "tenant=a", blob, n, out, &outlen) && memcmp(out, sec, 32) == 0);
    EVP_PKEY_free(k);
}

static void wrap(const char *uri)
{
    EVP_PKEY *k = load(uri);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    unsigned char dek[32], blob[2048], out[512];
    size_t n = sizeof(blob), m = sizeof(out);

    memset(dek, 0x42, sizeof(dek));
    CHECK(c != NULL && EVP_PKEY_encrypt_init(c) == 1);
    set_aad(c, "hdr-hash");
    CHECK(EVP_PKEY_encrypt(c, blob, &n, dek, sizeof(dek)) == 1);
    EVP_PKEY_CTX_free(c);
    c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    CHECK(c != NULL && EVP_PKEY_decrypt_init(c) == 1);
    set_aad(c, "hdr-hash");
    CHECK(EVP_PKEY_decrypt(c, out, &m, blob, n) == 1 && m == 32 && memcmp(out, dek, 32) == 0);
    set_aad(c, "hdr-hasH");
    m = sizeof(out);
    CHECK(EVP_PKEY_decrypt(c, out, &m, blob, n) != 1);
    ERR_clear_error();
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
}

static void gen(const char *uri)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=envelope");
    EVP_PKEY *k = NULL;
    OSSL_PARAM p[2];
    char got[256];
    size_t n = 0;

    CHECK(c != NULL && EVP_PKEY_keygen_init(c) == 1);
    p[0] = OSSL_PARAM_construct_utf8_string(ENVELOPE_GEN_PARAM_URI, (char *)uri, 0);
    p[1] = OSSL_PARAM_construct_end();
    CHECK(EVP_PKEY_CTX_set_params(c, p) == 1);
    CHECK(EVP_PKEY_generate(c, &k) == 1);
    CHECK(EVP_PKEY_is_a(k, "EC"));
    CHECK(EVP_PKEY_get_utf8_string_param(k, ENVELOPE_PKEY_PARAM_URI, got, sizeof(got), &n) == 1);
    fprintf(stderr, "generated %s\n", got);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(c);
    /* a second time at the same handle: refused */
    c = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=envelope");
    k = NULL;
    CHECK(c != NULL && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_CTX_set_params(c, p) == 1);
    CHECK(EVP_PKEY_generate(c, &k) != 1 && k == NULL);
    ERR_clear_error();
    EVP_PKEY_CTX_free(c);
    kem(uri);
}

static void refused(const char *uri, int reason)
{
    EVP_PKEY *k = load(uri);
    unsigned char blob[2048], sec[32], out[64];
    size_t n = encap(k, "x", blob, sec), outlen = 0;
    unsigned long e;

    ERR_clear_error();
    CHECK(!decap(k, "x", blob, n, out, &outlen));
    e = ERR_peek_last_error();
    fprintf(stderr, "refused with reason %d: %s\n", ERR_GET_REASON(e), ERR_reason_error_string(e));
    CHECK(ERR_GET_REASON(e) == reason);
    EVP_PKEY_free(k);
}

static void pub(const char *uri)
{
    EVP_PKEY *k = load(uri);
    unsigned char *der = NULL;
    CHECK(PEM_write_PUBKEY(stdout, k) == 1);
    CHECK(i2d_PrivateKey(k, &der) <= 0); /* the private half is not exportable */
    ERR_clear_error();
    EVP_PKEY_free(k);
}

int test_register_all_engines(void); /* register_engines.c */

int main(int argc, char **argv)
{
    if (getenv("ENV_REGISTER_ENGINES") != NULL && !test_register_all_engines()) {
        fprintf(stderr, "cannot load the configuration and register its engines\n");
        return 1;
    }
    if (argc >= 3 && strcmp(argv[1], "kem") == 0)
        kem(argv[2]);
    else if (argc >= 3 && strcmp(argv[1], "wrap") == 0)
        wrap(argv[2]);
    else if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        gen(argv[2]);
    else if (argc >= 4 && strcmp(argv[1], "refused") == 0)
        refused(argv[2], atoi(argv[3]));
    else if (argc >= 3 && strcmp(argv[1], "pub") == 0)
        pub(argv[2]);
    else {
        fprintf(stderr, "usage: tpm_prov_evp kem|wrap|gen|pub URI | refused URI REASON\n");
        return 2;
    }
    return 0;
}
