/*
 * provider_unwrap.c - unwraps per second: through the envelope provider
 * (EVP_PKEY_decapsulate) vs raw C_Decrypt on the same SoftHSM2 token, and vs
 * libp11's engine for RSA. One process per mode so each is measured alone;
 * bench/provider_bench.sh runs them in one go and computes the ratios.
 *
 *   provider_unwrap MODE N     MODE: provider-aes raw-aes raw-aes-locking raw-aes-inproc
 *                                    provider-rsa raw-rsa engine-rsa
 *
 * raw-aes is the floor bench/README.md names: C_Initialize(NULL), which tells
 * the module the application is single-threaded, so SoftHSM2 takes no locks.
 * The provider must pass CKF_OS_LOCKING_OK (any thread may call it), so two
 * more floors sit next to it: raw-aes-locking initialises the module the way
 * the provider does, and raw-aes-inproc runs the raw loop inside a process
 * where the provider has loaded the key and unwrapped once (same module
 * instance, initialised by the provider, same heap history), so what is left
 * between it and provider-aes is the provider's own path.
 *   env: BENCH_AES_URI BENCH_RSA_URI BENCH_MODULE BENCH_TOKEN BENCH_PIN
 *
 * Prints "MODE N seconds ops/s". Setup (load, login, one wrap) is outside
 * the timed loop; bench/provider_bench.sh also counts instructions per op
 * with callgrind from two runs of different N, which cancels setup.
 */
#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED /* the libp11 engine is an ENGINE */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <p11-kit/pkcs11.h>

#include "envelope/provider.h"

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        ERR_print_errors_fp(stderr);                                                               \
        exit(1);                                                                                   \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static EVP_PKEY *load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;
    OSSL_STORE_INFO *i = s ? OSSL_STORE_load(s) : NULL;
    if (i != NULL)
        pk = OSSL_STORE_INFO_get1_PKEY(i);
    OSSL_STORE_INFO_free(i);
    OSSL_STORE_close(s);
    if (pk == NULL)
        DIE("cannot load %s", uri);
    return pk;
}

static double run_provider(const char *uri, long n)
{
    EVP_PKEY *pk = load(uri);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(ENVELOPE_PKEY_PARAM_AAD, "bench", 5),
                      OSSL_PARAM_construct_end()};
    unsigned char blob[1200], s1[32], s2[32];
    size_t bl = sizeof(blob), sl = 32;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (EVP_PKEY_encapsulate_init(c, p) <= 0 || EVP_PKEY_encapsulate(c, blob, &bl, s1, &sl) <= 0)
        DIE("encapsulate");
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (EVP_PKEY_decapsulate_init(d, p) <= 0)
        DIE("decapsulate_init");
    double t0 = now();
    for (long i = 0; i < n; i++) {
        sl = 32;
        if (EVP_PKEY_decapsulate(d, s2, &sl, blob, bl) <= 0 || memcmp(s1, s2, 32) != 0)
            DIE("decapsulate %ld", i);
    }
    double t = now() - t0;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(pk);
    return t;
}

static CK_FUNCTION_LIST *fl;
static CK_SESSION_HANDLE sess;

static CK_OBJECT_HANDLE raw_find(CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    if (fl->C_FindObjectsInit(sess, t, 2) != CKR_OK ||
        fl->C_FindObjects(sess, &h, 1, &n) != CKR_OK || n != 1)
        DIE("raw: key %s not found", label);
    fl->C_FindObjectsFinal(sess);
    return h;
}

enum raw_init { RAW_PLAIN, RAW_LOCKING, RAW_SHARED };

static void raw_open(enum raw_init how)
{
    /* Same process environment as the provider runs: openssl.cnf loaded
     * (SoftHSM2 itself uses libcrypto, whose fetches cost more with more
     * providers loaded), so the difference measured is the provider's. */
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    void *so = dlopen(getenv("BENCH_MODULE"), RTLD_NOW);
    CK_C_GetFunctionList gfl = so ? (CK_C_GetFunctionList)dlsym(so, "C_GetFunctionList") : NULL;
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK; /* what the provider passes (hsm/hsm_module.c) */
    CK_RV rv = gfl == NULL || gfl(&fl) != CKR_OK
                   ? CKR_GENERAL_ERROR
                   : fl->C_Initialize(how == RAW_PLAIN ? NULL : &args);
    /* RAW_SHARED: the provider initialised this same instance already */
    if (!(rv == CKR_OK || (how == RAW_SHARED && rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)))
        DIE("raw: cannot load the module (0x%lx)", (unsigned long)rv);
    CK_SLOT_ID slots[16];
    CK_ULONG ns = 16;
    fl->C_GetSlotList(CK_TRUE, slots, &ns);
    const char *want = getenv("BENCH_TOKEN");
    const char *pin = getenv("BENCH_PIN");
    if (want == NULL || pin == NULL)
        DIE("BENCH_TOKEN and BENCH_PIN must be set (bench/provider_bench.sh sets them)");
    for (CK_ULONG i = 0; i < ns; i++) {
        CK_TOKEN_INFO ti;
        fl->C_GetTokenInfo(slots[i], &ti);
        if (strncmp((char *)ti.label, want, strlen(want)) == 0) {
            if (fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &sess) != CKR_OK)
                DIE("raw: open session");
            rv = fl->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
            if (!(rv == CKR_OK || (how == RAW_SHARED && rv == CKR_USER_ALREADY_LOGGED_IN)))
                DIE("raw: login");
            return;
        }
    }
    DIE("raw: token not found");
}

static double run_raw_aes(long n, enum raw_init how)
{
    if (how == RAW_SHARED) /* let the provider load the module and unwrap once */
        (void)run_provider(getenv("BENCH_AES_URI"), 1);
    raw_open(how);
    CK_OBJECT_HANDLE k = raw_find(CKO_SECRET_KEY, "bench-aes");
    unsigned char iv[12] = {1}, pt[32] = {2}, ct[64], out[64];
    CK_GCM_PARAMS g = {iv, 12, 96, (CK_BYTE_PTR) "bench", 5, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    CK_ULONG cl = sizeof(ct);
    if (fl->C_EncryptInit(sess, &m, k) != CKR_OK || fl->C_Encrypt(sess, pt, 32, ct, &cl) != CKR_OK)
        DIE("raw encrypt");
    double t0 = now();
    for (long i = 0; i < n; i++) {
        CK_ULONG ol = sizeof(out);
        if (fl->C_DecryptInit(sess, &m, k) != CKR_OK ||
            fl->C_Decrypt(sess, ct, cl, out, &ol) != CKR_OK)
            DIE("raw decrypt");
    }
    return now() - t0;
}

static double run_raw_rsa(long n)
{
    raw_open(RAW_PLAIN);
    CK_OBJECT_HANDLE priv = raw_find(CKO_PRIVATE_KEY, "bench-rsa");
    CK_OBJECT_HANDLE pub = raw_find(CKO_PUBLIC_KEY, "bench-rsa");
    CK_RSA_PKCS_OAEP_PARAMS o = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &o, sizeof(o)};
    unsigned char pt[64] = {3}, ct[512], out[512];
    CK_ULONG cl = sizeof(ct);
    if (fl->C_EncryptInit(sess, &m, pub) != CKR_OK ||
        fl->C_Encrypt(sess, pt, 64, ct, &cl) != CKR_OK)
        DIE("raw rsa encrypt");
    double t0 = now();
    for (long i = 0; i < n; i++) {
        CK_ULONG ol = sizeof(out);
        if (fl->C_DecryptInit(sess, &m, priv) != CKR_OK ||
            fl->C_Decrypt(sess, ct, cl, out, &ol) != CKR_OK)
            DIE("raw rsa decrypt");
    }
    return now() - t0;
}

static double run_engine_rsa(long n)
{
    ENGINE_load_builtin_engines();
    ENGINE *e = ENGINE_by_id("pkcs11");
    if (e == NULL || !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", getenv("BENCH_MODULE"), 0) ||
        !ENGINE_ctrl_cmd_string(e, "PIN", getenv("BENCH_PIN"), 0) || !ENGINE_init(e))
        DIE("libp11 engine");
    EVP_PKEY *pk = ENGINE_load_private_key(e, getenv("BENCH_RSA_URI"), NULL, NULL);
    if (pk == NULL)
        DIE("engine: load key");
    unsigned char pt[32] = {4}, ct[512], out[512];
    size_t cl = sizeof(ct);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
    if (EVP_PKEY_encrypt_init(c) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_encrypt(c, ct, &cl, pt, sizeof(pt)) <= 0)
        DIE("engine: encrypt");
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(pk, e);
    if (EVP_PKEY_decrypt_init(d) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(d, RSA_PKCS1_OAEP_PADDING) <= 0)
        DIE("engine: decrypt init");
    double t0 = now();
    for (long i = 0; i < n; i++) {
        size_t ol = sizeof(out);
        if (EVP_PKEY_decrypt(d, out, &ol, ct, cl) <= 0)
            DIE("engine: decrypt %ld", i);
    }
    double t = now() - t0;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(pk);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        DIE("usage: provider_unwrap MODE N");
    const char *mode = argv[1];
    long n = atol(argv[2]);
    double t;
    if (!strcmp(mode, "provider-aes"))
        t = run_provider(getenv("BENCH_AES_URI"), n);
    else if (!strcmp(mode, "provider-rsa"))
        t = run_provider(getenv("BENCH_RSA_URI"), n);
    else if (!strcmp(mode, "raw-aes"))
        t = run_raw_aes(n, RAW_PLAIN);
    else if (!strcmp(mode, "raw-aes-locking"))
        t = run_raw_aes(n, RAW_LOCKING);
    else if (!strcmp(mode, "raw-aes-inproc"))
        t = run_raw_aes(n, RAW_SHARED);
    else if (!strcmp(mode, "raw-rsa"))
        t = run_raw_rsa(n);
    else if (!strcmp(mode, "engine-rsa"))
        t = run_engine_rsa(n);
    else
        DIE("unknown mode %s", mode);
    printf("%s %ld %.6f %.1f\n", mode, n, t, n / t);
    return 0;
}
