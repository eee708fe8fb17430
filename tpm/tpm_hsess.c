/*
 * tpm_hsess.c - the context's long-lived salted HMAC session, run by us.
 *
 * ESYS starts the session (tpm_session.c, our salt) and would run it for
 * every command, but tss2-esys 3.2.1 builds a new OpenSSL library context
 * and fetches its digests, HMAC and AES again on every command it
 * authorises in a session: ≈ 2.5-4 ms of client CPU per command on swtpm,
 * several times the TPM's own work (docs/TPM.md, "Benchmark"). So the unwrap
 * commands go through tss2-sys on ESYS's own SYS context, with the session
 * protocol computed here with OpenSSL objects fetched once per session
 * (KDFa is OpenSSL's KBKDF, SP 800-108 counter mode):
 *
 *   sessionKey = KDFa(SHA-256, salt, "ATH", nonceTPM, nonceCaller, 256)
 *                (Part 1 §19.6.8; bind = SRK, whose auth value is empty)
 *   cpHash     = SHA-256(commandCode || name(handle 1) || cpBuffer)  (§18.7)
 *   HMAC key   = sessionKey || authValue, trailing zeros removed  (§19.6.5,
 *                §19.6.4.3; the entity is never the SRK the session binds)
 *   cmd HMAC   = HMAC(key, cpHash || nonceCaller || nonceTPM || attrs)
 *   rsp HMAC   = HMAC(key, SHA-256(0 || commandCode || rpBuffer) ||
 *                nonceTPM' || nonceCaller || attrs')              (§19.6.13)
 *   response parameter 1 decrypted with AES-128-CFB, key || IV =
 *                KDFa(SHA-256, key, "CFB", nonceTPM', nonceCaller, 256) (§21.4)
 *
 * Nonces roll with every command: a fresh 32-byte nonceCaller per command,
 * the TPM's new nonce taken from each successful response after its HMAC
 * was checked. ESYS never uses the session once we have (its copy of
 * nonceTPM would be stale); it only flushes it at teardown. A failed command
 * leaves the TPM's session state unchanged (no response session area), so
 * the nonces stay in step; anything that could put them out of step after a
 * successful answer (a response we cannot check or decode) poisons the
 * connection: the next operation starts a new one.
 *
 * CT: the session key, the HMAC keys and the decrypted parameter are
 * secrets: the session state lives in secmem, stack copies are wiped, HMACs
 * are compared with CRYPTO_memcmp.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <tss2/tss2_sys.h>

#include "secmem.h"
#include "tpm_int.h"

#define HS_DIGEST 32
#define HS_ATTRS (TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_ENCRYPT)

struct envtpm_hs {
    TPM2_HANDLE handle;                /* the session's TPM handle */
    unsigned char key[HS_DIGEST];      /* sessionKey */
    TPM2B_NONCE nonce_tpm;             /* the TPM's latest nonce */
    EVP_MAC *mac;                      /* HMAC, fetched once */
    EVP_KDF *kdf;                      /* KBKDF (KDFa) */
    EVP_MD *md;                        /* SHA-256 */
    EVP_CIPHER *aes;                   /* AES-128-CFB */
    unsigned long commands;            /* run in this session (for tests) */
    unsigned char hkey[2 * HS_DIGEST]; /* scratch: sessionKey || authValue */
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* HMAC-SHA-256 over up to 5 parts; 1 on success. */
static int hmac(const struct envtpm_hs *s, const unsigned char *key, size_t keylen,
                const unsigned char *const *parts, const size_t *lens, size_t n,
                unsigned char out[HS_DIGEST])
{
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                       OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(s->mac);
    size_t olen = 0, i;
    int ok = c != NULL && EVP_MAC_init(c, key, keylen, p) == 1;

    for (i = 0; ok && i < n; i++)
        ok = lens[i] == 0 || EVP_MAC_update(c, parts[i], lens[i]) == 1;
    ok = ok && EVP_MAC_final(c, out, &olen, HS_DIGEST) == 1 && olen == HS_DIGEST;
    EVP_MAC_CTX_free(c);
    return ok;
}

/* KDFa (Part 1 §11.4.10.2) is NIST SP 800-108 counter mode with HMAC:
 * [i]32 || label || 0x00 || contextU || contextV || [bits]32 - OpenSSL's
 * KBKDF with its defaults (32-bit counter, separator, L). 256 bits here. */
static int kdfa256(const struct envtpm_hs *s, const unsigned char *key, size_t keylen,
                   const char *label, const TPM2B_NONCE *u, const TPM2B_NONCE *v,
                   unsigned char out[HS_DIGEST])
{
    unsigned char ctx[2 * sizeof(u->buffer)];
    OSSL_PARAM p[6];
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(s->kdf);
    int ok;

    if (c == NULL || u->size > sizeof(u->buffer) || v->size > sizeof(v->buffer)) {
        EVP_KDF_CTX_free(c);
        return 0;
    }
    memcpy(ctx, u->buffer, u->size);
    memcpy(ctx + u->size, v->buffer, v->size);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
    p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, strlen(label));
    p[4] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ctx, (size_t)u->size + v->size);
    p[5] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(c, out, HS_DIGEST, p) == 1;
    EVP_KDF_CTX_free(c);
    OPENSSL_cleanse(ctx, sizeof(ctx));
    return ok;
}

static int sha256(const struct envtpm_hs *s, const unsigned char *const *parts, const size_t *lens,
                  size_t n, unsigned char out[HS_DIGEST])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int olen = 0;
    size_t i;
    int ok = c != NULL && EVP_DigestInit_ex2(c, s->md, NULL) == 1;

    for (i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &olen) == 1 && olen == HS_DIGEST;
    EVP_MD_CTX_free(c);
    return ok;
}

void envtpm_hs_free(struct envtpm_hs *s)
{
    if (s == NULL)
        return;
    EVP_MAC_free(s->mac);
    EVP_KDF_free(s->kdf);
    EVP_MD_free(s->md);
    EVP_CIPHER_free(s->aes);
    envelope_secmem_free(s); /* wipes the key */
}

int envtpm_hs_new(OSSL_LIB_CTX *libctx, TPM2_HANDLE handle, const TPM2B_AUTH *salt,
                  const TPM2B_NONCE *nonce_caller, const TPM2B_NONCE *nonce_tpm,
                  struct envtpm_hs **out)
{
    struct envtpm_hs *s = envelope_secmem_alloc(sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of secure memory for the session");
        return ENVCORE_R_INTERNAL;
    }
    s->handle = handle;
    s->mac = EVP_MAC_fetch(libctx, "HMAC", NULL);
    s->kdf = EVP_KDF_fetch(libctx, "KBKDF", NULL);
    s->md = EVP_MD_fetch(libctx, "SHA256", NULL);
    s->aes = EVP_CIPHER_fetch(libctx, "AES-128-CFB", NULL);
    if (s->mac == NULL || s->kdf == NULL || s->md == NULL || s->aes == NULL ||
        nonce_tpm->size == 0 || nonce_tpm->size > sizeof(nonce_tpm->buffer) ||
        !kdfa256(s, salt->buffer, salt->size, "ATH", nonce_tpm, nonce_caller, s->key)) {
        envtpm_hs_free(s);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: deriving the session key failed");
        return ENVCORE_R_INTERNAL;
    }
    s->nonce_tpm = *nonce_tpm;
    *out = s;
    return ENVCORE_R_OK;
}

unsigned long envtpm_hs_commands(const struct envtpm_hs *s)
{
    return s != NULL ? s->commands : 0;
}

/* sessionKey || authValue without trailing zeros, into s->hkey. */
static size_t hmac_key(struct envtpm_hs *s, const unsigned char *auth, size_t auth_len)
{
    while (auth_len > 0 && auth[auth_len - 1] == 0)
        auth_len--;
    memcpy(s->hkey, s->key, HS_DIGEST);
    if (auth_len != 0)
        memcpy(s->hkey + HS_DIGEST, auth, auth_len);
    return HS_DIGEST + auth_len;
}

/* Checks the response session and decrypts parameter 1 in place. Any
 * failure here is after the TPM accepted the command: the caller poisons. */
static int finish(struct envtpm_hs *s, TSS2_SYS_CONTEXT *sys, TPM2_CC cc, size_t klen,
                  const TPM2B_NONCE *nc)
{
    TSS2L_SYS_AUTH_RESPONSE ra;
    const uint8_t *rp = NULL, *enc = NULL;
    size_t rplen = 0, enclen = 0;
    unsigned char rphash[HS_DIGEST], expect[HS_DIGEST], kiv[HS_DIGEST], plain[1024];
    unsigned char head[8], attrs;
    const unsigned char *parts[4];
    size_t lens[4];
    EVP_CIPHER_CTX *c = NULL;
    int ok, outl = 0;

    memset(&ra, 0, sizeof(ra));
    if (Tss2_Sys_GetRspAuths(sys, &ra) != TSS2_RC_SUCCESS || ra.count != 1 ||
        Tss2_Sys_GetRpBuffer(sys, &rplen, &rp) != TSS2_RC_SUCCESS || rp == NULL)
        return 0;
    attrs = ra.auths[0].sessionAttributes;
    if (ra.auths[0].nonce.size == 0 || ra.auths[0].nonce.size > sizeof(ra.auths[0].nonce.buffer) ||
        ra.auths[0].hmac.size != HS_DIGEST || (attrs & HS_ATTRS) != HS_ATTRS)
        return 0;
    put32(head, TPM2_RC_SUCCESS);
    put32(head + 4, cc);
    parts[0] = head;
    lens[0] = 8;
    parts[1] = rp;
    lens[1] = rplen;
    if (!sha256(s, parts, lens, 2, rphash))
        return 0;
    parts[0] = rphash;
    lens[0] = HS_DIGEST;
    parts[1] = ra.auths[0].nonce.buffer;
    lens[1] = ra.auths[0].nonce.size;
    parts[2] = nc->buffer;
    lens[2] = nc->size;
    parts[3] = &attrs;
    lens[3] = 1;
    if (!hmac(s, s->hkey, klen, parts, lens, 4, expect) ||
        CRYPTO_memcmp(expect, ra.auths[0].hmac.buffer, HS_DIGEST) != 0)
        return 0; /* not the TPM's answer, or not to our command */
    s->nonce_tpm = ra.auths[0].nonce;
    s->commands++;
    /* Part 1 §21.4: the first response parameter, if it is a TPM2B */
    if (Tss2_Sys_GetEncryptParam(sys, &enclen, &enc) != TSS2_RC_SUCCESS || enc == NULL)
        return 0;
    if (enclen == 0)
        return 1;
    if (enclen > sizeof(plain))
        return 0;
    ok = kdfa256(s, s->hkey, klen, "CFB", &s->nonce_tpm, nc, kiv) &&
         (c = EVP_CIPHER_CTX_new()) != NULL &&
         EVP_DecryptInit_ex2(c, s->aes, kiv, kiv + 16, NULL) == 1 &&
         EVP_DecryptUpdate(c, plain, &outl, enc, (int)enclen) == 1 && (size_t)outl == enclen &&
         Tss2_Sys_SetEncryptParam(sys, enclen, plain) == TSS2_RC_SUCCESS;
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(kiv, sizeof(kiv));
    OPENSSL_cleanse(plain, sizeof(plain));
    return ok;
}

TSS2_RC envtpm_hs_call(struct envtpm_ctx *t, TPM2_CC cc, const envtpm_hs_entity *e,
                       envtpm_hs_step prepare, envtpm_hs_step complete, void *arg)
{
    struct envtpm_hs *s = t->hs;
    TSS2_SYS_CONTEXT *sys = NULL;
    TSS2L_SYS_AUTH_COMMAND ca;
    const uint8_t *cp = NULL;
    size_t cplen = 0, klen;
    unsigned char cc4[4], cphash[HS_DIGEST], attrs = HS_ATTRS;
    const unsigned char *parts[4];
    size_t lens[4];
    TSS2_RC rc;

    if (s == NULL || t->esys == NULL || e->auth_len > sizeof(s->hkey) - HS_DIGEST ||
        Esys_GetSysContext(t->esys, &sys) != TSS2_RC_SUCCESS || sys == NULL)
        return TSS2_ESYS_RC_BAD_SEQUENCE;
    memset(&ca, 0, sizeof(ca));
    ca.count = 1;
    ca.auths[0].sessionHandle = s->handle;
    ca.auths[0].sessionAttributes = attrs;
    ca.auths[0].nonce.size = HS_DIGEST;
    if (RAND_bytes_ex(t->libctx, ca.auths[0].nonce.buffer, HS_DIGEST, 0) != 1)
        return TSS2_ESYS_RC_GENERAL_FAILURE;
    rc = prepare(sys, arg);
    if (rc != TSS2_RC_SUCCESS)
        return rc;
    if (Tss2_Sys_GetCpBuffer(sys, &cplen, &cp) != TSS2_RC_SUCCESS || cp == NULL)
        return TSS2_ESYS_RC_GENERAL_FAILURE;
    put32(cc4, cc);
    parts[0] = cc4;
    lens[0] = 4;
    parts[1] = e->name;
    lens[1] = e->name_len;
    parts[2] = cp;
    lens[2] = cplen;
    if (!sha256(s, parts, lens, 3, cphash))
        return TSS2_ESYS_RC_GENERAL_FAILURE;
    klen = hmac_key(s, e->auth, e->auth_len);
    parts[0] = cphash;
    lens[0] = HS_DIGEST;
    parts[1] = ca.auths[0].nonce.buffer;
    lens[1] = HS_DIGEST;
    parts[2] = s->nonce_tpm.buffer;
    lens[2] = s->nonce_tpm.size;
    parts[3] = &attrs;
    lens[3] = 1;
    ca.auths[0].hmac.size = HS_DIGEST;
    if (!hmac(s, s->hkey, klen, parts, lens, 4, ca.auths[0].hmac.buffer) ||
        Tss2_Sys_SetCmdAuths(sys, &ca) != TSS2_RC_SUCCESS) {
        OPENSSL_cleanse(s->hkey, sizeof(s->hkey));
        return TSS2_ESYS_RC_GENERAL_FAILURE;
    }
    rc = Tss2_Sys_Execute(sys);
    if (rc == TSS2_RC_SUCCESS) {
        if (!finish(s, sys, cc, klen, &ca.auths[0].nonce)) {
            /* the TPM rolled its nonce; we could not follow it */
            envtpm_ctx_poison(t);
            rc = TSS2_ESYS_RC_RSP_AUTH_FAILED;
        } else {
            rc = complete(sys, arg);
            if (rc != TSS2_RC_SUCCESS)
                envtpm_ctx_poison(t);
        }
    }
    OPENSSL_cleanse(s->hkey, sizeof(s->hkey));
    return rc;
}
