/*
 * suite2.h - suite 0x0002's internal types (docs/FORMAT.md §10): the
 * XAES-256-GCM key derivation, key blocks and record contexts. Shared by
 * xaes.c, keyblock.c, keyblock_load.c, record.c and keyring.c only.
 */
#ifndef ENVELOPE_LIB_SUITE2_H
#define ENVELOPE_LIB_SUITE2_H

#include "internal.h"

#define ENV_KB_MAGIC "ENVK"
#define ENV_REC_MAGIC "ENVR"
#define ENV_SUITE2 ENVELOPE_SUITE_XAES256GCM_COMMIT
#define ENV_KB_INFO "ENVELOPE-V2-KEYS" /* followed by the suite id (2 bytes) */
#define ENV_KB_OKM_LEN 96              /* K, M, C */
#define ENV_KB_FIXED 24                /* magic, version, suite, flags, DEK id */
#define ENV_REC_PREFIX_LEN 23          /* magic, version, suite, DEK id */
#define ENV_REC_NONCE_LEN 24
#define ENV_KB_MAX_RECORDS (1ull << 48) /* per key-block object (FORMAT.md §10.6) */
#define ENV_KB_MAX_BODY (ENV_KB_FIXED + 2 + ENVELOPE_MAX_CONTEXT_BYTES + 2 + ENV_COMMIT_LEN)
_Static_assert(ENV_KB_MAX_BODY + ENV_TAG_LEN + 1 + ENVELOPE_MAX_EDKS * ENV_MAX_EDK ==
                   ENVELOPE_MAX_KEYBLOCK_BYTES,
               "the public key-block bound is the format's");
_Static_assert(ENV_REC_PREFIX_LEN + ENV_REC_NONCE_LEN + ENV_TAG_LEN == ENVELOPE_RECORD_OVERHEAD,
               "the public record overhead is the format's");

/* What a key block keeps of its DEK (envelope_secmem memory). */
typedef struct env_kb_secrets {
    uint8_t k[32];  /* the XAES-256-GCM key K */
    uint8_t k1[16]; /* CMAC subkey K1 of K */
} env_kb_secrets;

struct envelope_keyblock {
    env_kb_secrets *s;
    uint64_t serial; /* distinct for every key block made in this process */
    uint8_t id[ENVELOPE_DEK_ID_BYTES];
    uint8_t *bytes; /* the serialised key block */
    size_t len;
    size_t body_len; /* kb_body: what kb_tag covers */
    envelope_context *ctx;
    uint64_t max, used; /* used: atomic */
};

/* ---- xaes.c ---- */
/* K1 of c2sp.org/XAES-256-GCM (L = AES-256_K(0^128), K1 = dbl(L)). */
envelope_status env_xaes_subkey(envelope_lib *lib, const uint8_t k[32], uint8_t k1[16],
                                envelope_err *err);
/* Kx from N[0..12) with an AES-256-ECB context keyed with K (two AES
 * blocks in one call). */
int env_xaes_derive(EVP_CIPHER_CTX *ecb, const uint8_t k1[16], const uint8_t n12[12],
                    uint8_t kx[32]);

/* ---- record.c ---- */
/* XAES-256-GCM with K of kb, nonce n, AAD a1 || a2 (either may be empty),
 * as the record path runs it (test_lib_xaes.c drives it with the c2sp
 * vectors). open wipes out on failure: ENVELOPE_ERR_AUTH. */
envelope_status env_xaes_seal(envelope_record_ctx *rc, const envelope_keyblock *kb,
                              const uint8_t n[24], const uint8_t *a1, size_t l1, const uint8_t *a2,
                              size_t l2, const uint8_t *in, size_t len, uint8_t *ct,
                              uint8_t tag[ENV_TAG_LEN], envelope_err *err);
envelope_status env_xaes_open(envelope_record_ctx *rc, const envelope_keyblock *kb,
                              const uint8_t n[24], const uint8_t *a1, size_t l1, const uint8_t *a2,
                              size_t l2, const uint8_t *ct, size_t len,
                              const uint8_t tag[ENV_TAG_LEN], uint8_t *out, envelope_err *err);

/* ---- keyblock.c ---- */
/* HKDF-SHA-512 of the DEK and the context's SHA-256 (§10.1) into okm[96]. */
envelope_status env_kb_okm(envelope_lib *lib, const uint8_t *dek, const uint8_t *ctx_enc,
                           size_t ctx_len, uint8_t *okm, envelope_err *err);
/* kb_tag = HMAC-SHA-256(M, body)[0..16). */
envelope_status env_kb_tag(envelope_lib *lib, const uint8_t m[32], const uint8_t *body, size_t len,
                           uint8_t tag[ENV_TAG_LEN], envelope_err *err);
/* A key block object from its bytes (copied) and K (K1 derived here). */
envelope_status env_kb_make(envelope_lib *lib, const uint8_t *bytes, size_t len, size_t body_len,
                            const uint8_t *ctx_enc, size_t ctx_len, const uint8_t k[32],
                            uint64_t max_records, envelope_keyblock **out, envelope_err *err);

/* A key block object for a bare K and DEK id (empty context, no EDKs):
 * the known-answer tests' way in. */
envelope_status env_kb_from_key(envelope_lib *lib, const uint8_t k[32], const uint8_t *id,
                                envelope_keyblock **out, envelope_err *err);

/* envelope_keyblock_new and _load with flags: ENV_KB_NO_REUSE makes a
 * fresh DEK even when the library reuses DEKs (the caller keeps its own
 * window); ENV_KB_LOCKED refuses, with ENVELOPE_ERR_LOCKED_MEMORY, secret
 * memory the kernel did not lock (the recorder's rule). */
#define ENV_KB_NO_REUSE 1
#define ENV_KB_LOCKED 2
envelope_status env_kb_new(envelope_lib *lib, const envelope_encrypt_opts *o, uint64_t max_records,
                           int flags, envelope_keyblock **out, envelope_err *err);
envelope_status env_kb_load(envelope_lib *lib, const envelope_decrypt_opts *o, const uint8_t *in,
                            size_t inlen, int flags, envelope_keyblock **out, envelope_err *err);
envelope_status env_kb_locked_refused(envelope_err *err);
/* 1 if the record context's derived-key buffer is locked memory. */
int env_record_ctx_locked(const envelope_record_ctx *rc);

/* ---- keyblock_load.c ---- */
typedef struct env_kb_parsed {
    env_header h; /* suite, ctx_enc, commitment, body, tag, EDKs */
    const uint8_t *id;
} env_kb_parsed;
envelope_status env_kb_parse(const uint8_t *buf, size_t len, env_kb_parsed *p, envelope_err *err);

#endif
