/*
 * provider_evp.c - the provider through public EVP APIs only, against a
 * real SoftHSM2 token prepared by provider_evp.sh (which exports
 * OPENSSL_CONF and the URIs below).
 *
 *   ENV_AES_URI   an AES-256 KEK (sensitive, non-extractable)
 *   ENV_RSA_URI   an RSA-3072 key pair (private half)
 *   ENV_WEAK_URI  an AES key that is extractable (must be refused)
 *
 * Run with a test name as argv[1] so each case is its own ctest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#include "envelope/provider.h"
#include "it_check.h"

static const char *env(const char *n)
{
    const char *v = getenv(n);
    if (v == NULL)
        FAIL("environment variable %s not set", n);
    return v;
}

/* Loads the first key of a URI; returns NULL (errors queued) on failure. */
static EVP_PKEY *load(const char *uri)
{
    return it_store_load(uri);
}

/* The reason of the first envelope error on the queue (0 if none). */
static int envelope_reason(void)
{
    unsigned long e;
    const char *file, *func, *data;
    int line, flags, found = 0;
    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        const char *lib = ERR_lib_error_string(e);
        if (!found && lib != NULL && strcmp(lib, "envelope") == 0)
            found = ERR_GET_REASON(e);
    }
    return found;
}

static void expect_reason(int want, const char *what)
{
    int got = envelope_reason();
    if (got != want)
        FAIL("%s: expected envelope reason %d, got %d", what, want, got);
}

static int kem_wrap(EVP_PKEY *pk, const char *aad, unsigned char *blob, size_t *bloblen,
                    unsigned char secret[32])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    if (aad != NULL)
        p[0] = OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad));
    size_t slen = 32, max = 0;
    int ok = c != NULL && EVP_PKEY_encapsulate_init(c, p) > 0 &&
             EVP_PKEY_encapsulate(c, NULL, &max, NULL, &slen) > 0 && max <= *bloblen &&
             EVP_PKEY_encapsulate(c, blob, bloblen, secret, &slen) > 0 && slen == 32;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static int kem_unwrap(EVP_PKEY *pk, const char *aad, const unsigned char *blob, size_t bloblen,
                      unsigned char secret[32])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    if (aad != NULL)
        p[0] = OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad));
    size_t slen = 32;
    int ok = c != NULL && EVP_PKEY_decapsulate_init(c, p) > 0 &&
             EVP_PKEY_decapsulate(c, secret, &slen, blob, bloblen) > 0 && slen == 32;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static void kem_roundtrip(const char *uri_var)
{
    EVP_PKEY *pk = load(env(uri_var));
    CHECK(pk != NULL);
    const char *aads[] = {NULL, "tenant=a;table=payments"};
    for (int i = 0; i < 2; i++) {
        unsigned char blob[1200], s1[32], s2[32];
        size_t bl = sizeof(blob);
        CHECK(kem_wrap(pk, aads[i], blob, &bl, s1));
        CHECK(bl > 4 && blob[0] == 'E' && blob[1] == 'W');
        CHECK(kem_unwrap(pk, aads[i], blob, bl, s2));
        CHECK(memcmp(s1, s2, 32) == 0);
        /* A different AAD, or an AAD where there was none, must fail. */
        CHECK(!kem_unwrap(pk, i ? "tenant=b;table=payments" : "x", blob, bl, s2));
        expect_reason(ENVELOPE_PROV_R_AUTHENTICATION_FAILED, "wrong AAD");
        /* Every single-byte change of the blob fails. */
        for (size_t j = 0; j < bl; j++) {
            blob[j] ^= 0x01;
            if (kem_unwrap(pk, aads[i], blob, bl, s2))
                FAIL("%s: blob with byte %zu flipped was accepted", uri_var, j);
            int r = envelope_reason();
            if (r != ENVELOPE_PROV_R_AUTHENTICATION_FAILED && r != ENVELOPE_PROV_R_BAD_BLOB)
                FAIL("byte %zu flipped: reason %d", j, r);
            blob[j] ^= 0x01;
            if (!strcmp(uri_var, "ENV_RSA_URI") && j > 12)
                j += 37; /* RSA unwraps are slow on SoftHSM; sample the ciphertext */
        }
        CHECK(!kem_unwrap(pk, aads[i], blob, bl - 1, s2));
        expect_reason(ENVELOPE_PROV_R_BAD_BLOB, "truncated blob");
    }
    EVP_PKEY_free(pk);
}

/* The AEAD wrap through EVP_PKEY_encrypt/decrypt with the aad param. */
static int aead(EVP_PKEY *pk, int enc, const char *aad, const unsigned char *in, size_t inlen,
                unsigned char *out, size_t *outlen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad,
                                                        strlen(aad)),
                      OSSL_PARAM_construct_end()};
    int ok = c != NULL && (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
             EVP_PKEY_CTX_set_params(c, p) > 0 &&
             (enc ? EVP_PKEY_encrypt(c, out, outlen, in, inlen)
                  : EVP_PKEY_decrypt(c, out, outlen, in, inlen)) > 0;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* Every single-byte change of an AEAD-wrapped key fails under the right AAD
 * and nothing decrypts under another AAD. In particular, editing the RSA
 * blob's binding byte must not turn the AAD check off (a token that
 * ignores OAEP labels would otherwise decrypt it under any AAD). */
static void aead_binding(const char *uri_var)
{
    EVP_PKEY *pk = load(env(uri_var));
    CHECK(pk != NULL);
    unsigned char dek[32], blob[1200], out[64];
    memset(dek, 0x3c, sizeof(dek));
    size_t bl = sizeof(blob), ol = sizeof(out);
    CHECK(aead(pk, 1, "context=A", dek, sizeof(dek), blob, &bl));
    CHECK(aead(pk, 0, "context=A", blob, bl, out, &ol) && ol == 32 && memcmp(out, dek, 32) == 0);
    ol = sizeof(out);
    CHECK(!aead(pk, 0, "context=B", blob, bl, out, &ol));
    expect_reason(ENVELOPE_PROV_R_AUTHENTICATION_FAILED, "other AAD");
    for (size_t j = 0; j < bl; j++) {
        for (int v = 0; v < 3; v++) {
            unsigned char save = blob[j];
            blob[j] = v == 0 ? (unsigned char)(save ^ 0x01) : v == 1 ? 1 : 2;
            if (blob[j] != save) {
                ol = sizeof(out);
                if (aead(pk, 0, "context=B", blob, bl, out, &ol))
                    FAIL("%s: byte %zu set to %u decrypts under another AAD", uri_var, j, blob[j]);
                ERR_clear_error();
                ol = sizeof(out);
                if (aead(pk, 0, "context=A", blob, bl, out, &ol))
                    FAIL("%s: byte %zu set to %u still decrypts", uri_var, j, blob[j]);
                ERR_clear_error();
            }
            blob[j] = save;
        }
        if (!strcmp(uri_var, "ENV_RSA_URI") && j > 12)
            j += 47; /* RSA unwraps are slow on SoftHSM; sample the ciphertext */
    }
    EVP_PKEY_free(pk);
}

static void test_kem_aes(void)
{
    kem_roundtrip("ENV_AES_URI");
}
static void test_kem_rsa(void)
{
    kem_roundtrip("ENV_RSA_URI");
}

/* EVP_SealInit/EVP_OpenInit set no padding: PKCS#1 v1.5, OpenSSL's default. */
static void test_seal_open(int expect_refused)
{
    EVP_PKEY *pk = load(env("ENV_RSA_URI"));
    CHECK(pk != NULL);
    const EVP_CIPHER *cipher = EVP_aes_256_cbc();
    unsigned char *ek = malloc(EVP_PKEY_get_size(pk));
    int eklen = 0;
    unsigned char iv[16], ct[256], pt[256];
    int n = 0, total = 0;
    const char msg[] = "sealed with the token's public key, opened by the token";
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CHECK(EVP_SealInit(c, cipher, &ek, &eklen, iv, &pk, 1) == 1);
    CHECK(EVP_SealUpdate(c, ct, &n, (const unsigned char *)msg, sizeof(msg)) == 1);
    total = n;
    CHECK(EVP_SealFinal(c, ct + total, &n) == 1);
    total += n;
    int rc = EVP_OpenInit(c, cipher, ek, eklen, iv, pk);
    if (expect_refused) {
        CHECK(rc != 1);
        expect_reason(ENVELOPE_PROV_R_POLICY_REFUSED, "v1.5 refused by policy");
    } else {
        CHECK(rc == 1);
        int m = 0, ptotal = 0;
        CHECK(EVP_OpenUpdate(c, pt, &m, ct, total) == 1);
        ptotal = m;
        CHECK(EVP_OpenFinal(c, pt + ptotal, &m) == 1);
        ptotal += m;
        CHECK(ptotal == (int)sizeof(msg) && memcmp(pt, msg, sizeof(msg)) == 0);
        /* A tampered encrypted key fails with one uniform reason. */
        ek[eklen / 2] ^= 0x40;
        rc = EVP_OpenInit(c, cipher, ek, eklen, iv, pk);
        /* v1.5 may "succeed" with a wrong key only if padding happens to
         * decode; with a token it fails, and then says nothing more. */
        if (rc == 1)
            FAIL("tampered v1.5 key accepted");
        expect_reason(ENVELOPE_PROV_R_AUTHENTICATION_FAILED, "tampered v1.5");
    }
    EVP_CIPHER_CTX_free(c);
    free(ek);
    EVP_PKEY_free(pk);
}

static void expect_load_fails(const char *uri, int reason)
{
    EVP_PKEY *pk = load(uri);
    if (pk != NULL)
        FAIL("%s loaded but should not have", uri);
    expect_reason(reason, uri);
}

static void test_not_found(void)
{
    expect_load_fails("pkcs11:token=envtest;object=no-such-key;type=secret-key",
                      ENVELOPE_PROV_R_OBJECT_NOT_FOUND);
}

static void test_token_absent(void)
{
    /* never seen in this process: a configuration mistake, not an outage */
    expect_load_fails("pkcs11:token=no-such-token;object=kek-aes", ENVELOPE_PROV_R_TOKEN_UNKNOWN);
}

static void test_extractable(int allowed)
{
    if (allowed) {
        EVP_PKEY *pk = load(env("ENV_WEAK_URI"));
        CHECK(pk != NULL);
        EVP_PKEY_free(pk);
    } else {
        expect_load_fails(env("ENV_WEAK_URI"), ENVELOPE_PROV_R_KEY_NOT_SAFE);
    }
}

static void test_wrong_pin(void)
{
    expect_load_fails(env("ENV_AES_URI"), ENVELOPE_PROV_R_PIN_INCORRECT);
    /* The same bad PIN is not offered to the token a second time. */
    expect_load_fails(env("ENV_AES_URI"), ENVELOPE_PROV_R_PIN_INCORRECT);
}

static void test_bad_uri(void)
{
    expect_load_fails("pkcs11:token=envtest;objekt=kek-aes", ENVELOPE_PROV_R_BAD_URI);
    expect_load_fails("pkcs11:token=envtest;object=kek-aes;type=cert", ENVELOPE_PROV_R_BAD_URI);
    /* attributes p11-kit parses must narrow the match, never be ignored */
    expect_load_fails("pkcs11:slot-id=999;object=kek-aes;type=secret-key",
                      ENVELOPE_PROV_R_TOKEN_UNKNOWN);
    expect_load_fails("pkcs11:slot-description=nowhere;object=kek-aes",
                      ENVELOPE_PROV_R_TOKEN_UNKNOWN);
    expect_load_fails("pkcs11:library-manufacturer=nobody;object=kek-aes", ENVELOPE_PROV_R_BAD_URI);
}

static void test_fork(void)
{
    EVP_PKEY *pk = load(env("ENV_AES_URI"));
    CHECK(pk != NULL);
    unsigned char blob[200], s1[32], s2[32];
    size_t bl = sizeof(blob);
    CHECK(kem_wrap(pk, "ctx", blob, &bl, s1));
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            /* The child re-initialises the module before its first use. */
            unsigned char s3[32];
            if (!kem_unwrap(pk, "ctx", blob, bl, s3) || memcmp(s1, s3, 32) != 0) {
                ERR_print_errors_fp(stderr);
                _exit(3);
            }
            size_t bl2 = sizeof(blob);
            unsigned char b2[200], s4[32];
            _exit(kem_wrap(pk, "ctx", b2, &bl2, s4) && kem_unwrap(pk, "ctx", b2, bl2, s3) &&
                          memcmp(s3, s4, 32) == 0
                      ? 0
                      : 4);
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAIL("child unwrap failed (status %d)", st);
    }
    /* And the parent still works after its children are gone. */
    CHECK(kem_unwrap(pk, "ctx", blob, bl, s2) && memcmp(s1, s2, 32) == 0);
    EVP_PKEY_free(pk);
}

struct thread_arg {
    EVP_PKEY *pk;
    unsigned char blob[1200];
    size_t bl;
    unsigned char secret[32];
    int iterations;
    int failures;
};

static void *unwrap_loop(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < a->iterations; i++) {
        unsigned char s[32];
        if (!kem_unwrap(a->pk, "threads", a->blob, a->bl, s) || memcmp(s, a->secret, 32) != 0)
            a->failures++;
    }
    return NULL;
}

static void threads(const char *uri_var, int iterations)
{
    EVP_PKEY *pk = load(env(uri_var));
    CHECK(pk != NULL);
    struct thread_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i].pk = pk;
        args[i].bl = sizeof(args[i].blob);
        args[i].iterations = iterations;
        args[i].failures = 0;
        CHECK(kem_wrap(pk, "threads", args[i].blob, &args[i].bl, args[i].secret));
    }
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, unwrap_loop, &args[i]) == 0);
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    if (failures)
        FAIL("%d of %d concurrent unwraps failed", failures, 4 * iterations);
    EVP_PKEY_free(pk);
}

static void test_threads(void)
{
    const char *n = getenv("ENV_THREAD_ITERATIONS");
    threads("ENV_AES_URI", n ? atoi(n) : 1000);
    threads("ENV_RSA_URI", 25);
}

/* KEYMGMT gen: a KEK made through EVP_PKEY_generate is usable at once. */
static void test_keygen(const char *type, const char *uri)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=envelope");
    CHECK(c != NULL);
    CHECK(EVP_PKEY_keygen_init(c) > 0);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(ENVELOPE_GEN_PARAM_URI, (char *)uri, 0),
                      OSSL_PARAM_construct_end()};
    CHECK(EVP_PKEY_CTX_set_params(c, p) > 0);
    EVP_PKEY *pk = NULL;
    CHECK(EVP_PKEY_generate(c, &pk) > 0);
    char got[512];
    size_t gl = 0;
    CHECK(EVP_PKEY_get_utf8_string_param(pk, ENVELOPE_PKEY_PARAM_URI, got, sizeof(got), &gl));
    printf("created %s\n", got);
    unsigned char blob[1200], s1[32], s2[32];
    size_t bl = sizeof(blob);
    CHECK(kem_wrap(pk, "k", blob, &bl, s1) && kem_unwrap(pk, "k", blob, bl, s2));
    CHECK(memcmp(s1, s2, 32) == 0);
    EVP_PKEY_free(pk);
    /* Creating it a second time is refused: labels must stay unique. */
    pk = NULL;
    CHECK(EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0);
    CHECK(EVP_PKEY_generate(c, &pk) <= 0);
    expect_reason(ENVELOPE_PROV_R_BAD_ARGUMENT, "duplicate label");
    EVP_PKEY_CTX_free(c);
}

/* Loading the provider must not redirect plain fetches (docs/PROVIDER.md, "Provider order"). */
static void test_default_unchanged(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    CHECK(c != NULL && EVP_PKEY_keygen_init(c) > 0);
    EVP_PKEY *pk = NULL;
    CHECK(EVP_PKEY_generate(c, &pk) > 0);
    CHECK(strcmp(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(pk)), "default") == 0);
    EVP_PKEY_CTX_free(c);
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    CHECK(gcm != NULL &&
          strcmp(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(gcm)), "default") == 0);
    EVP_CIPHER_free(gcm);
    /* and a software RSA key still encrypts with the default provider */
    c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    unsigned char out[512];
    size_t ol = sizeof(out);
    CHECK(EVP_PKEY_encrypt_init(c) > 0 &&
          EVP_PKEY_encrypt(c, out, &ol, (const unsigned char *)"x", 1) > 0);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pk);
    /* the token key's public half exports to the default provider */
    pk = load(env("ENV_RSA_URI"));
    CHECK(pk != NULL);
    unsigned char *der = NULL;
    CHECK(i2d_PUBKEY(pk, &der) > 0);
    OPENSSL_free(der);
    EVP_PKEY_free(pk);
}

/* Provider teardown before exit (OSSL_LIB_CTX_free unloads it), then a
 * key still held at exit in the default context: neither may crash. */
static void test_teardown(void)
{
    OSSL_LIB_CTX *l = OSSL_LIB_CTX_new();
    CHECK(l != NULL && OSSL_LIB_CTX_load_config(l, env("OPENSSL_CONF")) == 1);
    OSSL_STORE_CTX *s = OSSL_STORE_open_ex(env("ENV_AES_URI"), l, NULL, NULL, NULL, NULL, NULL,
                                           NULL);
    CHECK(s != NULL);
    OSSL_STORE_INFO *info = OSSL_STORE_load(s);
    CHECK(info != NULL);
    EVP_PKEY *pk = OSSL_STORE_INFO_get1_PKEY(info);
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_close(s);
    unsigned char blob[200], s1[32], s2[32];
    size_t bl = sizeof(blob);
    CHECK(pk != NULL && kem_wrap(pk, NULL, blob, &bl, s1) && kem_unwrap(pk, NULL, blob, bl, s2));
    EVP_PKEY_free(pk);
    OSSL_LIB_CTX_free(l); /* provider teardown: C_Finalize, module unload */
    /* Second instance in the default context, deliberately never freed. */
    static EVP_PKEY *leaked;
    leaked = load(env("ENV_AES_URI"));
    CHECK(leaked != NULL);
    bl = sizeof(blob);
    CHECK(kem_wrap(leaked, NULL, blob, &bl, s1));
}

/* n wrap/unwrap cycles with the AES KEK, all of which must work. */
static void test_roundtrips(int n)
{
    EVP_PKEY *pk = load(env("ENV_AES_URI"));
    CHECK(pk != NULL);
    for (int i = 0; i < n; i++) {
        unsigned char blob[200], s1[32], s2[32];
        size_t bl = sizeof(blob);
        CHECK(kem_wrap(pk, "rt", blob, &bl, s1));
        CHECK(kem_unwrap(pk, "rt", blob, bl, s2) && memcmp(s1, s2, 32) == 0);
        blob[bl - 1] ^= 1;
        CHECK(!kem_unwrap(pk, "rt", blob, bl, s2));
        expect_reason(ENVELOPE_PROV_R_AUTHENTICATION_FAILED, "tampered tag");
    }
    EVP_PKEY_free(pk);
}

/* The first unwrap meets a device error (retryable: "backend unavailable");
 * the next one works without restarting anything. */
static void test_unwrap_recovers(int persistent)
{
    EVP_PKEY *pk = load(env("ENV_AES_URI"));
    CHECK(pk != NULL);
    unsigned char blob[200], s1[32], s2[32];
    size_t bl = sizeof(blob);
    CHECK(kem_wrap(pk, "rt", blob, &bl, s1));
    CHECK(!kem_unwrap(pk, "rt", blob, bl, s2));
    expect_reason(ENVELOPE_PROV_R_BACKEND_UNAVAILABLE, "device error");
    if (persistent) {
        CHECK(!kem_unwrap(pk, "rt", blob, bl, s2));
        expect_reason(ENVELOPE_PROV_R_BACKEND_UNAVAILABLE, "device error again");
    } else {
        CHECK(kem_unwrap(pk, "rt", blob, bl, s2) && memcmp(s1, s2, 32) == 0);
    }
    EVP_PKEY_free(pk);
}

int test_register_all_engines(void); /* register_engines.c */

int main(int argc, char **argv)
{
    if (argc < 2)
        FAIL("usage: provider_evp TEST");
    if (getenv("ENV_REGISTER_ENGINES") != NULL) {
        /* what the openssl app does: every configured engine becomes the
         * one OpenSSL 3.0 asks for the key types it implements */
        CHECK(test_register_all_engines());
    }
    const char *t = argv[1];
    if (!strcmp(t, "kem-aes"))
        test_kem_aes();
    else if (!strcmp(t, "kem-rsa"))
        test_kem_rsa();
    else if (!strcmp(t, "aead-aes"))
        aead_binding("ENV_AES_URI");
    else if (!strcmp(t, "aead-rsa"))
        aead_binding("ENV_RSA_URI");
    else if (!strcmp(t, "seal-open"))
        test_seal_open(0);
    else if (!strcmp(t, "seal-open-refused"))
        test_seal_open(1);
    else if (!strcmp(t, "not-found"))
        test_not_found();
    else if (!strcmp(t, "token-absent"))
        test_token_absent();
    else if (!strcmp(t, "extractable-refused"))
        test_extractable(0);
    else if (!strcmp(t, "extractable-allowed"))
        test_extractable(1);
    else if (!strcmp(t, "wrong-pin"))
        test_wrong_pin();
    else if (!strcmp(t, "bad-uri"))
        test_bad_uri();
    else if (!strcmp(t, "fork"))
        test_fork();
    else if (!strcmp(t, "threads"))
        test_threads();
    else if (!strcmp(t, "keygen-aes"))
        test_keygen(ENVELOPE_KEYTYPE_AES_KEK, argv[2]);
    else if (!strcmp(t, "keygen-rsa"))
        test_keygen("RSA", argv[2]);
    /* by the provider's own type name, which no registered ENGINE takes */
    else if (!strcmp(t, "keygen-rsa-named"))
        test_keygen(ENVELOPE_KEYTYPE_RSA, argv[2]);
    else if (!strcmp(t, "default-unchanged"))
        test_default_unchanged();
    else if (!strcmp(t, "teardown"))
        test_teardown();
    else if (!strcmp(t, "roundtrips"))
        test_roundtrips(argc > 2 ? atoi(argv[2]) : 10);
    else if (!strcmp(t, "unwrap-recovers"))
        test_unwrap_recovers(0);
    else if (!strcmp(t, "unwrap-fails"))
        test_unwrap_recovers(1);
    else if (!strcmp(t, "token-removed"))
        expect_load_fails(env("ENV_AES_URI"), ENVELOPE_PROV_R_TOKEN_NOT_PRESENT);
    else
        FAIL("unknown test %s", t);
    if (ERR_peek_error() != 0) {
        ERR_print_errors_fp(stderr);
        FAIL("errors left on the queue after a passing test");
    }
    printf("ok %s\n", t);
    return 0;
}
