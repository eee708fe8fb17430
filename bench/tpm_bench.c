/*
 * tpm_bench.c - the TPM benchmark (bench/README.md), in one run on one swtpm (tpm_bench.sh):
 *
 *   raw ESYS, salted+encrypting session   ZGen / RSA_Decrypt, the floor for us
 *   raw ESYS, password session            the same without session crypto:
 *                                         difference = cost of the session
 *   envelope provider                     EVP_PKEY_decapsulate (EC: ZGen +
 *                                         HKDF + GCM) / EVP_PKEY_decrypt (RSA
 *                                         OAEP-SHA256) through OSSL_STORE keys
 *   tpm2-openssl 1.1.1                    EVP_PKEY_decrypt PKCS#1 v1.5 (its only
 *                                         RSA decrypt; no session) for reference
 *
 * Rounds alternate raw and provider so drift hits both; the median of the
 * rounds is reported. usage: tpm_bench N ROUNDS EC_HANDLE RSA_HANDLE TOOLS_RSA_PEM
 * env: ENVELOPE_TPM2_TCTI (raw ESYS and tpm2-openssl), OPENSSL_CONF (provider).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);                         \
            ERR_print_errors_fp(stderr);                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    ESYS_CONTEXT *esys;
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_TR srk, session, ec, rsa;
} raw_ctx;

static void raw_open(raw_ctx *r, unsigned ech, unsigned rsah)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
    CHECK(Tss2_TctiLdr_Initialize(getenv("ENVELOPE_TPM2_TCTI"), &r->tcti) == 0);
    CHECK(Esys_Initialize(&r->esys, r->tcti, NULL) == 0);
    CHECK(Esys_TR_FromTPMPublic(r->esys, 0x81000001, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                &r->srk) == 0);
    /* the same session the backend uses: salted and bound to the SRK,
     * AES-128-CFB response encryption, continued */
    CHECK(Esys_StartAuthSession(r->esys, r->srk, r->srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &r->session) == 0);
    CHECK(Esys_TRSess_SetAttributes(r->esys, r->session,
                                    TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION,
                                    0xff) == 0);
    CHECK(Esys_TR_FromTPMPublic(r->esys, ech, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &r->ec) ==
          0);
    CHECK(Esys_TR_FromTPMPublic(r->esys, rsah, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &r->rsa) ==
          0);
}

static void raw_close(raw_ctx *r)
{
    Esys_FlushContext(r->esys, r->session);
    Esys_Finalize(&r->esys);
    Tss2_TctiLdr_Finalize(&r->tcti);
}

static double raw_zgen(raw_ctx *r, ESYS_TR s, const unsigned char peer[65], int n)
{
    TPM2B_ECC_POINT in = {0};
    double t0 = now();
    int i;

    in.point.x.size = in.point.y.size = 32;
    memcpy(in.point.x.buffer, peer + 1, 32);
    memcpy(in.point.y.buffer, peer + 33, 32);
    for (i = 0; i < n; i++) {
        TPM2B_ECC_POINT *out = NULL;
        CHECK(Esys_ECDH_ZGen(r->esys, r->ec, s, ESYS_TR_NONE, ESYS_TR_NONE, &in, &out) == 0);
        Esys_Free(out);
    }
    return n / (now() - t0);
}

static double raw_rsa(raw_ctx *r, ESYS_TR s, const unsigned char *ct, int n)
{
    TPM2B_PUBLIC_KEY_RSA c = {.size = 256};
    TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_OAEP, .details.oaep.hashAlg = TPM2_ALG_SHA256};
    TPM2B_DATA label = {0};
    double t0 = now();
    int i;

    memcpy(c.buffer, ct, 256);
    for (i = 0; i < n; i++) {
        TPM2B_PUBLIC_KEY_RSA *m = NULL;
        CHECK(Esys_RSA_Decrypt(r->esys, r->rsa, s, ESYS_TR_NONE, ESYS_TR_NONE, &c, &scheme, &label,
                               &m) == 0);
        Esys_Free(m);
    }
    return n / (now() - t0);
}

static EVP_PKEY *load(OSSL_LIB_CTX *lc, const char *uri, const char *propq)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open_ex(uri, lc, propq, NULL, NULL, NULL, NULL, NULL);
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

static double prov_decap(EVP_PKEY *k, const unsigned char *blob, size_t bl, int n)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    unsigned char sec[32];
    double t0;
    int i;

    CHECK(c != NULL && EVP_PKEY_decapsulate_init(c, NULL) == 1);
    t0 = now();
    for (i = 0; i < n; i++) {
        size_t sl = sizeof(sec);
        CHECK(EVP_PKEY_decapsulate(c, sec, &sl, blob, bl) == 1);
    }
    t0 = n / (now() - t0);
    EVP_PKEY_CTX_free(c);
    return t0;
}

static OSSL_LIB_CTX *t2ctx;

static EVP_PKEY_CTX *decrypt_ctx(EVP_PKEY *k, int oaep)
{
    /* tpm2-openssl keys live in their own library context */
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(oaep ? NULL : t2ctx, k, NULL);
    CHECK(c != NULL && EVP_PKEY_decrypt_init(c) == 1);
    if (oaep) {
        CHECK(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0);
        CHECK(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0);
        CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0);
    } else {
        CHECK(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0);
    }
    return c;
}

/* fresh = a new ctx per call: tpm2-openssl 1.1.1 returns the first
 * plaintext again on a reused ctx (docs/TPM.md, "Benchmark"); ours is reused, as an
 * application decrypting many DEKs with one key would. */
static double pkey_decrypt(EVP_PKEY *k, int oaep, int fresh, const unsigned char *ct, size_t cl,
                           int n)
{
    EVP_PKEY_CTX *c = fresh ? NULL : decrypt_ctx(k, oaep);
    double t0 = now();
    int i;

    for (i = 0; i < n; i++) {
        unsigned char out[512];
        size_t ol = sizeof(out);
        if (fresh)
            c = decrypt_ctx(k, oaep);
        CHECK(EVP_PKEY_decrypt(c, out, &ol, ct, cl) == 1 && ol == 32);
        if (fresh) {
            EVP_PKEY_CTX_free(c);
            c = NULL;
        }
    }
    t0 = n / (now() - t0);
    EVP_PKEY_CTX_free(c);
    return t0;
}

static void sw_encrypt(EVP_PKEY *key, int oaep, unsigned char *ct, size_t *cl)
{
    /* a plain software copy of the public half (SubjectPublicKeyInfo) */
    unsigned char *der = NULL;
    const unsigned char *p;
    int dl = i2d_PUBKEY(key, &der);
    EVP_PKEY *pub;
    EVP_PKEY_CTX *c;
    unsigned char dek[32] = {1};

    CHECK(dl > 0);
    p = der;
    pub = d2i_PUBKEY_ex(NULL, &p, dl, NULL, "provider=default");
    OPENSSL_free(der);
    CHECK(pub != NULL);
    c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, "provider=default");
    CHECK(c != NULL && EVP_PKEY_encrypt_init(c) == 1);
    if (oaep) {
        CHECK(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0);
        CHECK(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0);
        CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0);
    } else {
        CHECK(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0);
    }
    *cl = 512;
    CHECK(EVP_PKEY_encrypt(c, ct, cl, dek, 32) == 1);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pub);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define MAXR 9
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmpd);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    int n, rounds, i;
    unsigned ech, rsah;
    raw_ctx r;
    EVP_PKEY *ec, *rsa, *t2rsa = NULL, *t2pub;
    unsigned char peer[65], blob[512], ct[512], ct15[512];
    size_t plen = 0, bl = 0, cl = 0, cl15 = 0, sl = 32;
    double zs[MAXR], zp[MAXR], zprov[MAXR], rs[MAXR], rp[MAXR], rprov[MAXR], t2[MAXR];
    OSSL_PROVIDER *t2prov, *t2def;

    if (argc != 6) {
        fprintf(stderr, "usage: tpm_bench N ROUNDS EC_HANDLE RSA_HANDLE TOOLS_RSA_PEM\n");
        return 2;
    }
    n = atoi(argv[1]);
    rounds = atoi(argv[2]);
    CHECK(n > 0 && rounds > 0 && rounds <= MAXR);
    t2ctx = OSSL_LIB_CTX_new();
    ech = (unsigned)strtoul(argv[3], NULL, 0);
    rsah = (unsigned)strtoul(argv[4], NULL, 0);

    {
        char uri[64];
        snprintf(uri, sizeof(uri), "tpm2:handle=0x%08x", ech);
        ec = load(NULL, uri, NULL);
        snprintf(uri, sizeof(uri), "tpm2:handle=0x%08x", rsah);
        rsa = load(NULL, uri, NULL);
    }
    /* the KEM blob and a peer point for the raw ZGen */
    {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, ec, NULL);
        unsigned char sec[32];
        EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, "provider=default", "EC", "P-256");
        bl = sizeof(blob);
        CHECK(c != NULL && EVP_PKEY_encapsulate_init(c, NULL) == 1 &&
              EVP_PKEY_encapsulate(c, blob, &bl, sec, &sl) == 1);
        EVP_PKEY_CTX_free(c);
        CHECK(EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, peer, 65, &plen));
        EVP_PKEY_free(eph);
    }
    sw_encrypt(rsa, 1, ct, &cl);

    const char *tcti = getenv("ENVELOPE_TPM2_TCTI");
    CHECK(tcti != NULL); /* bench/tpm_bench.sh sets it */
    setenv("TPM2OPENSSL_TCTI", tcti, 1);
    /* by path: OPENSSL_MODULES points at our build, not at the system's */
    t2prov = OSSL_PROVIDER_load(t2ctx, getenv("TPM_BENCH_TPM2_PROVIDER") != NULL
                                           ? getenv("TPM_BENCH_TPM2_PROVIDER")
                                           : "tpm2");
    t2def = OSSL_PROVIDER_load(t2ctx, "default");
    if (t2prov != NULL && t2def != NULL) {
        t2rsa = load(t2ctx, argv[5], NULL);
        t2pub = t2rsa;
        sw_encrypt(t2pub, 0, ct15, &cl15);
    } else {
        fprintf(stderr, "tpm2-openssl provider not available: skipping its row\n");
        ERR_clear_error();
    }

    raw_open(&r, ech, rsah);
    for (i = 0; i < rounds; i++) {
        zs[i] = raw_zgen(&r, r.session, peer, n);
        zprov[i] = prov_decap(ec, blob, bl, n);
        zp[i] = raw_zgen(&r, ESYS_TR_PASSWORD, peer, n);
        rs[i] = raw_rsa(&r, r.session, ct, n);
        rprov[i] = pkey_decrypt(rsa, 1, 0, ct, cl, n);
        rp[i] = raw_rsa(&r, ESYS_TR_PASSWORD, ct, n);
        t2[i] = t2rsa != NULL ? pkey_decrypt(t2rsa, 0, 1, ct15, cl15, n) : 0;
    }
    raw_close(&r);

    {
        double a = median(zs, rounds), b = median(zprov, rounds), c = median(zp, rounds);
        double d = median(rs, rounds), e = median(rprov, rounds), f = median(rp, rounds);
        double g = median(t2, rounds);
        printf("TPM unwrap, swtpm, %d ops x %d rounds (median ops/s)\n", n, rounds);
        printf("%-52s %9.1f\n", "EC  raw ESYS ZGen, salted+encrypting session", a);
        printf("%-52s %9.1f  (%.3fx raw, %.3fx no session)\n",
               "EC  provider EVP_PKEY_decapsulate (ZGen+HKDF+GCM)", b, b / a, b / c);
        printf("%-52s %9.1f  (session costs %.2f ms/call)\n",
               "EC  raw ESYS ZGen, password (no session)", c, 1e3 / a - 1e3 / c);
        printf("%-52s %9.1f\n", "RSA raw ESYS RSA_Decrypt OAEP, salted session", d);
        printf("%-52s %9.1f  (%.3fx raw, %.3fx no session)\n",
               "RSA provider EVP_PKEY_decrypt OAEP-SHA256", e, e / d, e / f);
        printf("%-52s %9.1f  (session costs %.2f ms/call)\n", "RSA raw ESYS RSA_Decrypt, password",
               f, 1e3 / d - 1e3 / f);
        if (t2rsa != NULL)
            printf("%-52s %9.1f\n", "RSA tpm2-openssl 1.1.1 PKCS#1 v1.5, no session", g);
    }
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(t2rsa);
    OSSL_PROVIDER_unload(t2prov);
    OSSL_PROVIDER_unload(t2def);
    OSSL_LIB_CTX_free(t2ctx);
    return 0;
}
