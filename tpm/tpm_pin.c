/*
 * tpm_pin.c - TPM auth values from a pin source (core/pin_source.h), and
 * the memory of auth values the TPM rejected.
 *
 * The TPM takes an auth value up to the size of the object's nameAlg digest
 * (Part 1 §19.6.12; 32 bytes for SHA-256): longer is refused, not cut. An
 * auth value may be binary.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "pin_source.h"
#include "secmem.h"
#include "tpm_int.h"

int envtpm_pin_read(const char *source, unsigned char **auth, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    int r = envcore_pin_read(source, "TPM auth value", 0, &buf, &n);

    *auth = NULL;
    *len = 0;
    if (r != ENVCORE_R_OK)
        return r;
    if (n > ENVTPM_MAX_AUTH) {
        envelope_secmem_free(buf);
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "TPM auth value longer than %d bytes; the TPM would refuse it",
                      ENVTPM_MAX_AUTH);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    *auth = (unsigned char *)buf;
    *len = n;
    return ENVCORE_R_OK;
}

static int fingerprint_of(const struct envtpm_key *k, unsigned char fp[32])
{
    return envcore_secret_fingerprint(k->auth, k->auth != NULL ? k->auth_len : 0, fp);
}

void envtpm_auth_rejected(struct envtpm_ctx *t, const struct envtpm_key *k)
{
    unsigned char fp[32];
    if (!fingerprint_of(k, fp) || k->name_len > ENVTPM_MAX_NAME)
        return;
    unsigned i = t->nrejected++ % (sizeof(t->rejected) / sizeof(t->rejected[0]));
    memcpy(t->rejected[i].name, k->name, k->name_len);
    t->rejected[i].name_len = k->name_len;
    memcpy(t->rejected[i].fp, fp, 32);
    OPENSSL_cleanse(fp, sizeof(fp));
}

int envtpm_auth_was_rejected(struct envtpm_ctx *t, const struct envtpm_key *k)
{
    unsigned char fp[32];
    int hit = 0;
    size_t n = sizeof(t->rejected) / sizeof(t->rejected[0]);
    if (!fingerprint_of(k, fp))
        return 0;
    for (size_t i = 0; i < n && i < t->nrejected; i++)
        hit |= t->rejected[i].name_len == k->name_len &&
               memcmp(t->rejected[i].name, k->name, k->name_len) == 0 &&
               CRYPTO_memcmp(t->rejected[i].fp, fp, 32) == 0;
    OPENSSL_cleanse(fp, sizeof(fp));
    return hit;
}
