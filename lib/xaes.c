/*
 * xaes.c - XAES-256-GCM's key derivation (c2sp.org/XAES-256-GCM; docs/FORMAT.md
 * §10.3): the NIST SP 800-108r1 counter KDF with CMAC-AES-256, where each
 * CMAC message is one complete block, so CMAC is AES_K(M XOR K1).
 *
 * K1 is made once per key block. Per record the two blocks go through one
 * EVP_EncryptUpdate of an AES-256-ECB context the caller keyed with K
 * (measured against EVP_MAC "CMAC", which re-keys and copies a CBC context
 * per message: see bench/README.md, "Records").
 *
 * CT: K, L, K1 and Kx never reach a branch or an index; dbl() uses a mask.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "suite2.h"

envelope_status env_xaes_subkey(envelope_lib *lib, const uint8_t k[32], uint8_t k1[16],
                                envelope_err *err)
{
    static const uint8_t zero[16] = {0};
    uint8_t l[16];
    int outl = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c != NULL && EVP_EncryptInit_ex2(c, lib->ecb, k, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
             EVP_EncryptUpdate(c, l, &outl, zero, sizeof(zero)) == 1 && outl == 16;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        OPENSSL_cleanse(l, sizeof(l));
        return env_fail_ossl(err, ENVELOPE_ERR_CRYPTO, "AES-256 key setup failed");
    }
    /* K1 = L << 1, XOR 0x87 into the last byte if L's top bit was set */
    uint8_t carry = (uint8_t)(0u - (l[0] >> 7)); /* 0x00 or 0xff */
    for (int i = 0; i < 15; i++)
        k1[i] = (uint8_t)((l[i] << 1) | (l[i + 1] >> 7));
    k1[15] = (uint8_t)((l[15] << 1) ^ (carry & 0x87));
    OPENSSL_cleanse(l, sizeof(l));
    return ENVELOPE_OK;
}

int env_xaes_derive(EVP_CIPHER_CTX *ecb, const uint8_t k1[16], const uint8_t n12[12],
                    uint8_t kx[32])
{
    uint8_t m[32];
    int outl = 0;
    m[0] = 0x00;
    m[1] = 0x01; /* counter 1 */
    m[2] = 0x58; /* label "X" */
    m[3] = 0x00; /* separator */
    memcpy(m + 4, n12, 12);
    memcpy(m + 16, m, 16);
    m[17] = 0x02; /* counter 2 */
    for (int i = 0; i < 16; i++) {
        m[i] ^= k1[i];
        m[16 + i] ^= k1[i];
    }
    int ok = EVP_EncryptUpdate(ecb, kx, &outl, m, sizeof(m)) == 1 && outl == 32;
    OPENSSL_cleanse(m, sizeof(m));
    return ok;
}
