/*
 * tpm_salt.c - the session salt, computed here and not by tss2-esys.
 *
 * Why: tss2-esys 3.2.1 (Debian 12) computes the salt with OpenSSL calls that
 * take the process-wide ENGINE defaults: its ephemeral ECDH key comes from
 * EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL), and for an RSA tpmKey it builds
 * the key with EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL). Once an
 * engine that implements EC/RSA pkey methods is registered (libp11's
 * pkcs11 engine after ENGINE_register_all_complete(), which the `openssl`
 * application and every OPENSSL_init_ssl() caller do when openssl.cnf has an
 * engines section), OpenSSL 3.0 hands those contexts to the engine, the
 * ephemeral key comes back as a legacy EC_KEY, and ESYS's
 * EVP_PKEY_get_bn_param(OSSL_PKEY_PARAM_EC_PUB_X) on it fails: every salted
 * session, so every TPM key, fails with TSS2_ESYS_RC_GENERAL_FAILURE.
 * tss2-esys 3.2.1 has no crypto callbacks (Esys_SetCryptoCallbacks is 4.0),
 * and the ENGINE tables are process-wide, so nothing can be switched off for
 * ESYS alone without changing what the rest of the process gets.
 *
 * So the salt is made here (TPM 2.0 Part 1 §24.4, Annex C.6: ECDH + KDFe for
 * an ECC tpmKey, OAEP-SHA-256 with label "SECRET" for an RSA one) with
 * OpenSSL calls that never consult an ENGINE: EC_POINT arithmetic on an
 * EC_GROUP of our library context and BIGNUM modular exponentiation; no
 * EVP_PKEY_CTX, so no pkey method. tpm_session.c hands it to the TPM.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "tpm_int.h"

#define SALT_LEN 32 /* SHA-256, the SRK's nameAlg (envtpm_public_name) */

/* "SECRET" with its terminating zero: Part 1 §11.4.10.3 and §B.10.3 count
 * the NUL as part of the label. */
static const unsigned char secret_label[] = {'S', 'E', 'C', 'R', 'E', 'T', 0};

static int sha256_parts(OSSL_LIB_CTX *libctx, const unsigned char *const *parts, const size_t *lens,
                        size_t n, unsigned char out[32])
{
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA256", NULL);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int olen = 0;
    int ok = md != NULL && c != NULL && EVP_DigestInit_ex2(c, md, NULL) == 1;
    size_t i;

    for (i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &olen) == 1 && olen == 32;
    EVP_MD_CTX_free(c);
    EVP_MD_free(md);
    return ok;
}

int envtpm_kdfe_sha256(OSSL_LIB_CTX *libctx, const unsigned char *z, size_t zlen,
                       const unsigned char *u, size_t ulen, const unsigned char *v, size_t vlen,
                       unsigned char out[32])
{
    /* Part 1 §11.4.10.3: K(1) = H(counter=1 || Z || Use || PartyUInfo ||
     * PartyVInfo); one block is the 32-byte salt. */
    static const unsigned char one[4] = {0, 0, 0, 1};
    const unsigned char *parts[] = {one, z, secret_label, u, v};
    size_t lens[] = {4, zlen, sizeof(secret_label), ulen, vlen};

    return sha256_parts(libctx, parts, lens, 5, out);
}

static int curve_of(TPMI_ECC_CURVE c, int *nid, size_t *flen)
{
    switch (c) {
    case TPM2_ECC_NIST_P256:
        *nid = NID_X9_62_prime256v1;
        *flen = 32;
        return 1;
    case TPM2_ECC_NIST_P384:
        *nid = NID_secp384r1;
        *flen = 48;
        return 1;
    case TPM2_ECC_NIST_P521:
        *nid = NID_secp521r1;
        *flen = 66;
        return 1;
    default: return 0;
    }
}

/* Ephemeral ECDH with the tpmKey's point (Part 1 §C.6.1). */
static int ecc_salt(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *pub, TPM2B_ENCRYPTED_SECRET *enc,
                    unsigned char salt[SALT_LEN])
{
    const TPMS_ECC_POINT *p = &pub->unique.ecc;
    TPMS_ECC_POINT q;
    unsigned char z[66];
    EC_GROUP *g = NULL;
    EC_POINT *P = NULL, *Q = NULL, *S = NULL;
    BIGNUM *px = NULL, *py = NULL, *k = NULL, *qx = NULL, *qy = NULL, *zx = NULL;
    BN_CTX *bn = BN_CTX_new_ex(libctx);
    size_t flen = 0, off = 0;
    int nid = 0, ok = 0;

    memset(&q, 0, sizeof(q));
    if (bn == NULL || !curve_of(pub->parameters.eccDetail.curveID, &nid, &flen) || p->x.size == 0 ||
        p->x.size > flen || p->y.size == 0 || p->y.size > flen)
        goto done;
    g = EC_GROUP_new_by_curve_name_ex(libctx, NULL, nid);
    P = g != NULL ? EC_POINT_new(g) : NULL;
    Q = g != NULL ? EC_POINT_new(g) : NULL;
    S = g != NULL ? EC_POINT_new(g) : NULL;
    px = BN_bin2bn(p->x.buffer, p->x.size, NULL);
    py = BN_bin2bn(p->y.buffer, p->y.size, NULL);
    k = BN_secure_new();
    qx = BN_new();
    qy = BN_new();
    zx = BN_secure_new();
    /* set_affine_coordinates refuses a point that is not on the curve */
    if (S == NULL || px == NULL || py == NULL || k == NULL || qx == NULL || qy == NULL ||
        zx == NULL || EC_POINT_set_affine_coordinates(g, P, px, py, bn) != 1)
        goto done;
    BN_set_flags(k, BN_FLG_CONSTTIME);
    do {
        if (BN_priv_rand_range_ex(k, EC_GROUP_get0_order(g), 0, bn) != 1)
            goto done;
    } while (BN_is_zero(k));
    if (EC_POINT_mul(g, Q, k, NULL, NULL, bn) != 1 || EC_POINT_mul(g, S, NULL, P, k, bn) != 1 ||
        EC_POINT_is_at_infinity(g, S) || EC_POINT_get_affine_coordinates(g, Q, qx, qy, bn) != 1 ||
        EC_POINT_get_affine_coordinates(g, S, zx, NULL, bn) != 1 ||
        BN_bn2binpad(qx, q.x.buffer, (int)flen) != (int)flen ||
        BN_bn2binpad(qy, q.y.buffer, (int)flen) != (int)flen ||
        BN_bn2binpad(zx, z, (int)flen) != (int)flen)
        goto done;
    q.x.size = q.y.size = (UINT16)flen;
    /* PartyUInfo = QeU.x, PartyVInfo = QsV.x as the TPM holds it */
    if (!envtpm_kdfe_sha256(libctx, z, flen, q.x.buffer, flen, p->x.buffer, p->x.size, salt) ||
        Tss2_MU_TPMS_ECC_POINT_Marshal(&q, enc->secret, sizeof(enc->secret), &off) !=
            TSS2_RC_SUCCESS)
        goto done;
    enc->size = (UINT16)off;
    ok = 1;
done:
    OPENSSL_cleanse(z, sizeof(z));
    EC_POINT_clear_free(S);
    EC_POINT_free(Q);
    EC_POINT_free(P);
    EC_GROUP_free(g);
    BN_free(px);
    BN_free(py);
    BN_clear_free(k);
    BN_free(qx);
    BN_free(qy);
    BN_clear_free(zx);
    BN_CTX_free(bn);
    return ok;
}

/* MGF1 with SHA-256 (RFC 8017 §B.2.1): mask ^= MGF1(seed, len). */
static int mgf1_xor(OSSL_LIB_CTX *libctx, unsigned char *mask, size_t len,
                    const unsigned char *seed, size_t seedlen)
{
    unsigned char h[32], ctr[4];
    uint32_t i;
    size_t done = 0, j;

    for (i = 0; done < len; i++) {
        const unsigned char *parts[] = {seed, ctr};
        size_t lens[] = {seedlen, 4};
        ctr[0] = (unsigned char)(i >> 24);
        ctr[1] = (unsigned char)(i >> 16);
        ctr[2] = (unsigned char)(i >> 8);
        ctr[3] = (unsigned char)i;
        if (!sha256_parts(libctx, parts, lens, 2, h))
            return 0;
        for (j = 0; j < 32 && done < len; j++)
            mask[done++] ^= h[j];
    }
    OPENSSL_cleanse(h, sizeof(h));
    return 1;
}

int envtpm_oaep_sha256_encrypt(OSSL_LIB_CTX *libctx, const unsigned char *n, size_t nlen,
                               uint32_t e, const unsigned char *msg, size_t mlen,
                               unsigned char *out)
{
    /* RFC 8017 §7.1.1 (RSAES-OAEP-ENCRYPT), SHA-256, label "SECRET\0".
     * EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M. */
    unsigned char em[512];
    const unsigned char *parts[] = {secret_label};
    size_t lens[] = {sizeof(secret_label)};
    BIGNUM *bm = NULL, *bn_n = NULL, *be = NULL, *bc = NULL;
    BN_CTX *bn = NULL;
    size_t db_len;
    int ok = 0;

    if (nlen < 2 * 32 + 2 + mlen || nlen > sizeof(em) || (n[0] & 0x80) == 0)
        return 0;
    db_len = nlen - 32 - 1;
    memset(em, 0, nlen);
    if (!sha256_parts(libctx, parts, lens, 1, em + 1 + 32))
        goto done;
    em[nlen - mlen - 1] = 0x01;
    memcpy(em + nlen - mlen, msg, mlen);
    if (RAND_bytes_ex(libctx, em + 1, 32, 0) != 1 ||
        !mgf1_xor(libctx, em + 1 + 32, db_len, em + 1, 32) ||
        !mgf1_xor(libctx, em + 1, 32, em + 1 + 32, db_len))
        goto done;
    /* RSAEP (§5.1.1): c = m^e mod n, a public operation */
    bn = BN_CTX_new_ex(libctx);
    bm = BN_secure_new();
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_new();
    bc = BN_new();
    if (bn == NULL || bm == NULL || bn_n == NULL || be == NULL || bc == NULL ||
        BN_bin2bn(em, (int)nlen, bm) == NULL || !BN_set_word(be, e) || BN_cmp(bm, bn_n) >= 0 ||
        BN_mod_exp(bc, bm, be, bn_n, bn) != 1 || BN_bn2binpad(bc, out, (int)nlen) != (int)nlen)
        goto done;
    ok = 1;
done:
    OPENSSL_cleanse(em, sizeof(em));
    BN_clear_free(bm);
    BN_free(bn_n);
    BN_free(be);
    BN_free(bc);
    BN_CTX_free(bn);
    return ok;
}

static int rsa_salt(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *pub, TPM2B_ENCRYPTED_SECRET *enc,
                    unsigned char salt[SALT_LEN])
{
    const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
    uint32_t e = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;

    if (n->size == 0 || n->size > sizeof(enc->secret) ||
        (size_t)n->size * 8 != pub->parameters.rsaDetail.keyBits ||
        RAND_priv_bytes_ex(libctx, salt, SALT_LEN, 0) != 1)
        return 0;
    if (!envtpm_oaep_sha256_encrypt(libctx, n->buffer, n->size, e, salt, SALT_LEN, enc->secret))
        return 0;
    enc->size = n->size;
    return 1;
}

int envtpm_salt_make(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *pub, TPM2B_ENCRYPTED_SECRET *enc,
                     TPM2B_AUTH *salt)
{
    int tries, ok = 0;

    memset(enc, 0, sizeof(*enc));
    memset(salt, 0, sizeof(*salt));
    if (pub->nameAlg != TPM2_ALG_SHA256 || (pub->type != TPM2_ALG_ECC && pub->type != TPM2_ALG_RSA))
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    /* ESYS takes the salt as the bind key's auth value (tpm_session.c),
     * and auth values lose trailing zero bytes (Part 1 §19.6.4): a salt
     * ending in 0x00 would give ESYS a different session key than the TPM.
     * Such a salt (1 in 256) is drawn again. */
    for (tries = 0; tries < 64 && !ok; tries++) {
        ok = pub->type == TPM2_ALG_ECC ? ecc_salt(libctx, pub, enc, salt->buffer)
                                       : rsa_salt(libctx, pub, enc, salt->buffer);
        if (!ok)
            break;
        if (salt->buffer[SALT_LEN - 1] == 0) {
            ok = 0;
            OPENSSL_cleanse(salt->buffer, SALT_LEN);
        }
    }
    if (!ok) {
        OPENSSL_cleanse(salt, sizeof(*salt));
        memset(enc, 0, sizeof(*enc));
        return ENVCORE_R_INTERNAL;
    }
    salt->size = SALT_LEN;
    return ENVCORE_R_OK;
}
