/*
 * provider_pkey.c - comparisons of the provider's keys with each other and
 * with software keys (EVP_PKEY_eq, X509_check_private_key), through public
 * APIs only, against a real SoftHSM2 token prepared by provider_test.sh
 * (case pkey-eq), which exports:
 *
 *   ENV_RSA_URI        the token RSA key pair (private half, our KEYMGMT)
 *   ENV_RSA_PUB_URI    its public key object (loaded as a software key)
 *   ENV_OTHER_URI      another RSA key pair on the token
 *   ENV_PUB_PEM        the token key's public key, exported to a PEM file
 *   ENV_SOFT_PEM       an unrelated software RSA key pair
 *   ENV_KEK_CERT       a certificate for the token key's public key
 *   ENV_OTHER_CERT     a certificate for another key
 *
 * Every comparison must give the right answer in both orders and leave
 * nothing on the error queue: a "malloc failure" there (our KEYMGMT
 * refusing to make the key OpenSSL imports into first) is shown later by
 * unrelated callers such as `openssl cms -sign`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        ERR_print_errors_fp(stderr);                                                               \
        exit(1);                                                                                   \
    } while (0)
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            FAIL("%s", #c);                                                                        \
    } while (0)

static const char *env(const char *n)
{
    const char *v = getenv(n);
    if (v == NULL)
        FAIL("environment variable %s not set", n);
    return v;
}

/* The first private key (or, with pub, public key) of a URI. */
static EVP_PKEY *load(const char *uri, int pub)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;
    if (s == NULL)
        FAIL("cannot open %s", uri);
    while (pk == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (i == NULL)
            break;
        int t = OSSL_STORE_INFO_get_type(i);
        if (!pub && t == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(i);
        else if (pub && t == OSSL_STORE_INFO_PUBKEY)
            pk = OSSL_STORE_INFO_get1_PUBKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    if (pk == NULL)
        FAIL("no %s key at %s", pub ? "public" : "private", uri);
    ERR_clear_error(); /* the store's own fallbacks are not under test */
    return pk;
}

static EVP_PKEY *load_pem(const char *path, int pub)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        FAIL("cannot read %s", path);
    EVP_PKEY *pk = pub ? PEM_read_PUBKEY(f, NULL, NULL, NULL)
                       : PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pk == NULL)
        FAIL("cannot parse %s", path);
    return pk;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        FAIL("cannot read %s", path);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL)
        FAIL("cannot parse %s", path);
    return x;
}

/* Nothing at all on the error queue. */
static void expect_clean(const char *what)
{
    unsigned long e = ERR_peek_error();
    if (e != 0)
        FAIL("%s left an error on the queue: %s", what, ERR_reason_error_string(e));
}

static void expect_eq(EVP_PKEY *a, EVP_PKEY *b, int want, const char *what)
{
    ERR_clear_error();
    int r = EVP_PKEY_eq(a, b);
    if (r != want)
        FAIL("EVP_PKEY_eq(%s) = %d, wanted %d", what, r, want);
    expect_clean(what);
    ERR_clear_error();
    r = EVP_PKEY_eq(b, a);
    if (r != want)
        FAIL("EVP_PKEY_eq(%s, reversed) = %d, wanted %d", what, r, want);
    expect_clean(what);
}

int main(void)
{
    EVP_PKEY *tok = load(env("ENV_RSA_URI"), 0);
    EVP_PKEY *tok_pub = load(env("ENV_RSA_PUB_URI"), 1);
    EVP_PKEY *other = load(env("ENV_OTHER_URI"), 0);
    EVP_PKEY *pub_pem = load_pem(env("ENV_PUB_PEM"), 1);
    EVP_PKEY *soft = load_pem(env("ENV_SOFT_PEM"), 0);
    X509 *kek_cert = load_cert(env("ENV_KEK_CERT"));
    X509 *other_cert = load_cert(env("ENV_OTHER_CERT"));

    /* The token key is ours; its public object and the PEM are software keys. */
    CHECK(strcmp(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(tok)), "envelope") == 0);
    CHECK(strcmp(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(pub_pem)), "envelope") != 0);

    expect_eq(tok, tok, 1, "token key, itself");
    expect_eq(tok, tok_pub, 1, "token key, its public object");
    expect_eq(tok, pub_pem, 1, "token key, its public key from PEM");
    expect_eq(tok, other, 0, "token key, another token key");
    expect_eq(tok, soft, 0, "token key, a software key pair");
    expect_eq(other, pub_pem, 0, "another token key, the first one's public key");

    ERR_clear_error();
    CHECK(X509_check_private_key(kek_cert, tok) == 1);
    expect_clean("X509_check_private_key, matching");
    /* A mismatch says so, and nothing else. */
    ERR_clear_error();
    CHECK(X509_check_private_key(other_cert, tok) == 0);
    unsigned long e = ERR_get_error();
    CHECK(ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH);
    expect_clean("X509_check_private_key, mismatch (after its own reason)");

    X509_free(kek_cert);
    X509_free(other_cert);
    EVP_PKEY_free(tok);
    EVP_PKEY_free(tok_pub);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub_pem);
    EVP_PKEY_free(soft);
    puts("pkey comparisons: ok");
    return 0;
}
