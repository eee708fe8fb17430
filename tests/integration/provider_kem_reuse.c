/*
 * provider_kem_reuse.c CASE URI - DEK reuse through the provider's KEM
 * (docs/PROVIDER.md, "DEK reuse"), on a real SoftHSM2 AES KEK, with
 * OPENSSL_CONF naming the settings each case needs:
 *
 *   window  (dek-reuse-messages = 3): 7 encapsulations that ask for reuse
 *           with one AAD share secret and blob 3 + 3 + 1; another AAD gets
 *           its own; a call that does not ask gets a fresh secret; every
 *           blob decapsulates to its secret; 3 windows, 4 reuses counted.
 *   off     (no dek-reuse settings): asking changes nothing.
 *   expiry  (dek-reuse-messages = 100, dek-reuse-seconds = 1): the window
 *           ends with its time.
 *   bad     the ctx param accepts only 0 and 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "envelope/provider.h"
#include "it_check.h"

typedef struct {
    unsigned char blob[1024];
    size_t blob_len;
    unsigned char secret[32];
} kem_out;

static EVP_PKEY *load(const char *uri)
{
    EVP_PKEY *pk = it_store_load(uri);
    CHECK(pk != NULL);
    return pk;
}

/* reuse < 0 leaves the ctx param unset; returns the init result. */
static int encap(EVP_PKEY *pk, const char *aad, int reuse, kem_out *o)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad)),
                      OSSL_PARAM_int(ENVELOPE_PKEY_PARAM_DEK_REUSE, &reuse), OSSL_PARAM_END};
    if (reuse < 0)
        p[1] = p[2];
    CHECK(c != NULL);
    if (EVP_PKEY_encapsulate_init(c, p) != 1) {
        EVP_PKEY_CTX_free(c);
        return 0;
    }
    size_t slen = sizeof(o->secret);
    o->blob_len = sizeof(o->blob);
    CHECK(EVP_PKEY_encapsulate(c, o->blob, &o->blob_len, o->secret, &slen) == 1 &&
          slen == sizeof(o->secret));
    EVP_PKEY_CTX_free(c);
    return 1;
}

static void decap_matches(EVP_PKEY *pk, const char *aad, const kem_out *o)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    uint64_t ttl = 0; /* straight to the token: the blob itself must carry the secret */
    OSSL_PARAM p[] = {OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, (void *)aad, strlen(aad)),
                      OSSL_PARAM_uint64(ENVELOPE_PKEY_PARAM_CACHE_TTL, &ttl), OSSL_PARAM_END};
    unsigned char s[64];
    size_t n = sizeof(s);
    CHECK(c != NULL && EVP_PKEY_decapsulate_init(c, p) == 1 &&
          EVP_PKEY_decapsulate(c, s, &n, o->blob, o->blob_len) == 1);
    CHECK(n == sizeof(o->secret) && memcmp(s, o->secret, n) == 0);
    EVP_PKEY_CTX_free(c);
}

static int same(const kem_out *a, const kem_out *b)
{
    return memcmp(a->secret, b->secret, sizeof(a->secret)) == 0 && a->blob_len == b->blob_len &&
           memcmp(a->blob, b->blob, a->blob_len) == 0;
}

static int differ(const kem_out *a, const kem_out *b)
{
    return memcmp(a->secret, b->secret, sizeof(a->secret)) != 0 &&
           (a->blob_len != b->blob_len || memcmp(a->blob, b->blob, a->blob_len) != 0);
}

typedef struct {
    uint64_t reused, windows;
} counters;

static int get_counters(OSSL_PROVIDER *prov, void *arg)
{
    counters *k = arg;
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    OSSL_PARAM p[] = {OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_KEM_REUSED, &k->reused),
                      OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_KEM_REUSE_WINDOWS, &k->windows),
                      OSSL_PARAM_END};
    CHECK(OSSL_PROVIDER_get_params(prov, p) == 1);
    return 1;
}

static counters now(void)
{
    counters k = {0, 0};
    OSSL_PROVIDER_do_all(NULL, get_counters, &k);
    printf("reused=%llu windows=%llu\n", (unsigned long long)k.reused,
           (unsigned long long)k.windows);
    return k;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        FAIL("usage: provider_kem_reuse window|off|expiry|bad URI");
    const char *cs = argv[1];
    EVP_PKEY *pk = load(argv[2]);
    kem_out o[8], x, y;
    if (strcmp(cs, "window") == 0) {
        for (int i = 0; i < 7; i++)
            CHECK(encap(pk, "tenant=acme", 1, &o[i]));
        CHECK(same(&o[0], &o[1]) && same(&o[0], &o[2]));
        CHECK(differ(&o[2], &o[3]) && same(&o[3], &o[4]) && same(&o[3], &o[5]));
        CHECK(differ(&o[5], &o[6]) && differ(&o[0], &o[6]));
        CHECK(encap(pk, "tenant=other", 1, &x) && differ(&x, &o[6]) && differ(&x, &o[0]));
        CHECK(encap(pk, "tenant=acme", -1, &y) && differ(&y, &o[6]));
        CHECK(encap(pk, "tenant=acme", 0, &y) && differ(&y, &o[6]));
        decap_matches(pk, "tenant=acme", &o[1]);
        decap_matches(pk, "tenant=acme", &o[4]);
        decap_matches(pk, "tenant=other", &x);
        counters k = now();
        CHECK(k.windows == 4 && k.reused == 4); /* 3 for acme, 1 for other */
    } else if (strcmp(cs, "off") == 0) {
        for (int i = 0; i < 3; i++)
            CHECK(encap(pk, "tenant=acme", 1, &o[i]));
        CHECK(differ(&o[0], &o[1]) && differ(&o[1], &o[2]) && differ(&o[0], &o[2]));
        counters k = now();
        CHECK(k.windows == 0 && k.reused == 0);
    } else if (strcmp(cs, "expiry") == 0) {
        CHECK(encap(pk, "tenant=acme", 1, &o[0]) && encap(pk, "tenant=acme", 1, &o[1]));
        CHECK(same(&o[0], &o[1]));
        struct timespec ts = {1, 500000000}; /* past the 1 s window: only a lower bound matters */
        nanosleep(&ts, NULL);
        CHECK(encap(pk, "tenant=acme", 1, &o[2]) && differ(&o[1], &o[2]));
        counters k = now();
        CHECK(k.windows == 2 && k.reused == 1);
    } else if (strcmp(cs, "bad") == 0) {
        CHECK(!encap(pk, "tenant=acme", 2, &o[0]));
        ERR_print_errors_fp(stderr); /* the script checks the message */
    } else {
        FAIL("unknown case %s", cs);
    }
    EVP_PKEY_free(pk);
    puts("ok");
    return 0;
}
