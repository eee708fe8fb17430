/*
 * test_tpm_salt.c - the session salt we compute instead of tss2-esys
 * (tpm/tpm_salt.c) against OpenSSL's own implementations as the reference
 * (OAEP decryption with the private key, ECDH + SSKDF, which is the
 * SP 800-56A KDF that KDFe is), and the rewrite of our StartAuthSession
 * command (tpm/tpm_session.c), which must touch nothing but our own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "tpm_int.h"
#include "test_err.h"

static const unsigned char label[] = "SECRET"; /* sizeof includes the NUL */

static EVP_PKEY *keygen(int rsa)
{
    EVP_PKEY *k = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    return k;
}

static void rsa_public(EVP_PKEY *k, TPMT_PUBLIC *p)
{
    BIGNUM *n = NULL;

    memset(p, 0, sizeof(*p));
    p->type = TPM2_ALG_RSA;
    p->nameAlg = TPM2_ALG_SHA256;
    p->parameters.rsaDetail.keyBits = 2048;
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(BN_bn2binpad(n, p->unique.rsa.buffer, 256), 256);
    p->unique.rsa.size = 256;
    BN_free(n);
}

static void ec_public(EVP_PKEY *k, TPMT_PUBLIC *p)
{
    unsigned char pt[65];
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &n), 1);
    assert_int_equal(n, 65);
    p->unique.ecc.x.size = p->unique.ecc.y.size = 32;
    memcpy(p->unique.ecc.x.buffer, pt + 1, 32);
    memcpy(p->unique.ecc.y.buffer, pt + 33, 32);
}

static size_t oaep_decrypt(EVP_PKEY *k, const unsigned char *in, size_t inlen, unsigned char *out)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    size_t n = 512;

    assert_non_null(c);
    assert_int_equal(EVP_PKEY_decrypt_init(c), 1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) > 0);
    assert_true(EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_memdup(label, sizeof(label)),
                                                 sizeof(label)) > 0);
    if (EVP_PKEY_decrypt(c, out, &n, in, inlen) != 1)
        n = 0;
    EVP_PKEY_CTX_free(c);
    return n;
}

static void rsa_salt_decrypts(void **state)
{
    EVP_PKEY *k = keygen(1);
    TPMT_PUBLIC p;
    TPM2B_ENCRYPTED_SECRET enc, enc2;
    TPM2B_AUTH salt, salt2;
    unsigned char out[512];

    rsa_public(k, &p);
    assert_int_equal(envtpm_salt_make(NULL, &p, &enc, &salt), ENVCORE_R_OK);
    assert_int_equal(salt.size, 32);
    assert_int_not_equal(salt.buffer[31], 0);
    assert_int_equal(enc.size, 256);
    assert_int_equal(oaep_decrypt(k, enc.secret, enc.size, out), 32);
    assert_memory_equal(out, salt.buffer, 32);
    /* fresh salt and fresh OAEP seed each time */
    assert_int_equal(envtpm_salt_make(NULL, &p, &enc2, &salt2), ENVCORE_R_OK);
    assert_memory_not_equal(salt.buffer, salt2.buffer, 32);
    /* a flipped byte does not decrypt (the label and the hash are checked) */
    enc.secret[100] ^= 1;
    assert_int_equal(oaep_decrypt(k, enc.secret, enc.size, out), 0);
    /* a key of another size than its keyBits: refused, nothing made */
    p.parameters.rsaDetail.keyBits = 3072;
    assert_int_equal(envtpm_salt_make(NULL, &p, &enc, &salt), ENVCORE_R_INTERNAL);
    assert_int_equal(salt.size, 0);
    assert_int_equal(enc.size, 0);
    EVP_PKEY_free(k);
}

static void sskdf(const unsigned char *z, size_t zlen, const unsigned char *info, size_t ilen,
                  unsigned char out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[4];

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, ilen);
    p[3] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(c, out, 32, p), 1);
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
}

static void ecc_salt_matches_ecdh(void **state)
{
    EVP_PKEY *k = keygen(0), *peer = NULL;
    TPMT_PUBLIC p;
    TPM2B_ENCRYPTED_SECRET enc;
    TPM2B_AUTH salt;
    TPMS_ECC_POINT q;
    unsigned char pt[65], z[32], info[7 + 64], ref[32];
    size_t off = 0, zlen = sizeof(z);
    EVP_PKEY_CTX *c;
    OSSL_PARAM prm[3];

    ec_public(k, &p);
    assert_int_equal(envtpm_salt_make(NULL, &p, &enc, &salt), ENVCORE_R_OK);
    assert_int_equal(salt.size, 32);
    assert_int_not_equal(salt.buffer[31], 0);
    /* the encrypted salt is the ephemeral point Q, a TPMS_ECC_POINT */
    assert_int_equal(Tss2_MU_TPMS_ECC_POINT_Unmarshal(enc.secret, enc.size, &off, &q),
                     TSS2_RC_SUCCESS);
    assert_int_equal(off, enc.size);
    assert_int_equal(q.x.size, 32);
    pt[0] = 4;
    memcpy(pt + 1, q.x.buffer, 32);
    memcpy(pt + 33, q.y.buffer, 32);
    c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
    prm[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 65);
    prm[2] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
    assert_int_equal(EVP_PKEY_fromdata(c, &peer, EVP_PKEY_PUBLIC_KEY, prm), 1);
    EVP_PKEY_CTX_free(c);
    /* the TPM's side: Z = x(d * Q), salt = KDFe(Z, "SECRET", Q.x, P.x) */
    c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    assert_int_equal(EVP_PKEY_derive_init(c), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(c, peer), 1);
    assert_int_equal(EVP_PKEY_derive(c, z, &zlen), 1);
    EVP_PKEY_CTX_free(c);
    memcpy(info, label, 7);
    memcpy(info + 7, q.x.buffer, 32);
    memcpy(info + 39, p.unique.ecc.x.buffer, 32);
    sskdf(z, 32, info, sizeof(info), ref);
    assert_memory_equal(ref, salt.buffer, 32);
    /* our KDFe alone, against the reference */
    assert_int_equal(envtpm_kdfe_sha256(NULL, z, 32, q.x.buffer, 32, p.unique.ecc.x.buffer, 32,
                                        ref),
                     1);
    assert_memory_equal(ref, salt.buffer, 32);
    /* a point not on the curve: refused */
    p.unique.ecc.y.buffer[5] ^= 1;
    assert_int_equal(envtpm_salt_make(NULL, &p, &enc, &salt), ENVCORE_R_INTERNAL);
    assert_int_equal(salt.size, 0);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k);
}

/* What ESYS sends for Esys_StartAuthSession(tpmKey = NONE, bind = SRK). */
static size_t esys_cmd(unsigned char *b, const unsigned char *nonce, uint32_t tpm_key,
                       uint32_t bind, size_t salt_len)
{
    size_t n = 0, i;
    const unsigned char tail[] = {0x01, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x0b};

#define P32(v)                                                                                     \
    (b[n++] = (unsigned char)((v) >> 24), b[n++] = (unsigned char)((v) >> 16),                     \
     b[n++] = (unsigned char)((v) >> 8), b[n++] = (unsigned char)(v))
    b[n++] = 0x80;
    b[n++] = 0x01;
    P32(0u);
    P32(TPM2_CC_StartAuthSession);
    P32(tpm_key);
    P32(bind);
    b[n++] = 0;
    b[n++] = 32;
    memcpy(b + n, nonce, 32);
    n += 32;
    b[n++] = (unsigned char)(salt_len >> 8);
    b[n++] = (unsigned char)salt_len;
    for (i = 0; i < salt_len; i++)
        b[n++] = 0xee;
    memcpy(b + n, tail, sizeof(tail));
    n += sizeof(tail);
    b[2] = (unsigned char)(n >> 24);
    b[3] = (unsigned char)(n >> 16);
    b[4] = (unsigned char)(n >> 8);
    b[5] = (unsigned char)n;
    return n;
#undef P32
}

static void rewrite_only_ours(void **state)
{
    envtpm_sas_rewrite rw;
    unsigned char cmd[256], out[512], other[32];
    size_t n, m = 0;

    memset(&rw, 0, sizeof(rw));
    rw.nonce.size = 32;
    memset(rw.nonce.buffer, 0x11, 32);
    memset(other, 0x22, 32);
    rw.bind_esys = ENVTPM_SRK_HANDLE;
    rw.tpm_key = ENVTPM_SRK_HANDLE;
    rw.bind_wire = TPM2_RH_NULL;
    rw.salt.size = 68;
    memset(rw.salt.secret, 0x5a, 68);

    n = esys_cmd(cmd, rw.nonce.buffer, TPM2_RH_NULL, ENVTPM_SRK_HANDLE, 0);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), 1);
    assert_int_equal(m, n + 68);
    assert_int_equal(out[5], (unsigned char)m); /* commandSize follows */
    assert_memory_equal(out + 6, cmd + 6, 4);
    assert_int_equal(out[10], 0x81); /* tpmKey = SRK */
    assert_int_equal(out[13], 0x01);
    assert_int_equal(out[14], 0x40); /* bind = TPM_RH_NULL on the wire */
    assert_int_equal(out[17], 0x07);
    assert_memory_equal(out + 18, cmd + 18, 34); /* nonceCaller */
    assert_int_equal(out[52], 0);
    assert_int_equal(out[53], 68);
    assert_memory_equal(out + 54, rw.salt.secret, 68);
    assert_memory_equal(out + 54 + 68, cmd + 54, n - 54); /* type, symmetric, hash */

    /* someone else's session (another nonce), another command: untouched */
    n = esys_cmd(cmd, other, TPM2_RH_NULL, ENVTPM_SRK_HANDLE, 0);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), 0);
    cmd[9] = 0x77;
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), 0);
    /* ours but not what we asked for: refused, never sent */
    n = esys_cmd(cmd, rw.nonce.buffer, ENVTPM_SRK_HANDLE, ENVTPM_SRK_HANDLE, 0);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), -1);
    n = esys_cmd(cmd, rw.nonce.buffer, TPM2_RH_NULL, 0x81000002, 0);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), -1);
    n = esys_cmd(cmd, rw.nonce.buffer, TPM2_RH_NULL, ENVTPM_SRK_HANDLE, 4);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), -1);
    n = esys_cmd(cmd, rw.nonce.buffer, TPM2_RH_NULL, ENVTPM_SRK_HANDLE, 0);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n - 1, out, sizeof(out), &m), -1);
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, n + 67, &m), -1);
    cmd[1] = 0x02; /* with sessions */
    assert_int_equal(envtpm_sas_rewrite_cmd(&rw, cmd, n, out, sizeof(out), &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_salt_decrypts),
        cmocka_unit_test(ecc_salt_matches_ecdh),
        cmocka_unit_test(rewrite_only_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
