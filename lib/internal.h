/*
 * internal.h - libenvelope's internal types, shared by the lib/ sources only.
 * Names: env_<noun>_<verb>. Public types are completed here.
 */
#ifndef ENVELOPE_LIB_INTERNAL_H
#define ENVELOPE_LIB_INTERNAL_H

/* The one message for every authentication failure (EDK unwrap, commitment,
 * header tag, frame tag): it must not say which check failed. */
#define ENV_AUTH_FAILED                                                                            \
    "message failed authentication (tampered, truncated, or not made for these KEKs)"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "envelope/envelope.h"

/* ---- format constants (docs/FORMAT.md) ---- */
#define ENV_MAGIC "ENVL"
#define ENV_PREFIX_LEN 8 /* magic(4) version(1) suite(2) flags(1) */
#define ENV_TAG_LEN 16
#define ENV_COMMIT_LEN 32
#define ENV_FRAME_REGULAR 0x00
#define ENV_FRAME_FINAL 0x01
#define ENV_FRAME_AAD_LEN 45             /* message id(32) frame no(8) type(1) length(4) */
#define ENV_HKDF_INFO "ENVELOPE-V1-KEYS" /* followed by the suite id (2 bytes) */
#define ENV_WRAP_AAD_LABEL "ENVELOPE-V1-WRAP"
/* Largest header: body with a full context, tag, 16 full EDKs. */
#define ENV_MAX_BODY (ENV_PREFIX_LEN + 32 + 4 + 2 + ENVELOPE_MAX_CONTEXT_BYTES + 2 + ENV_COMMIT_LEN)
#define ENV_MAX_EDK                                                                                \
    (1 + 1 + 2 + ENVELOPE_MAX_KEK_URI + 1 + ENVELOPE_MAX_KEY_ID + 2 + ENVELOPE_MAX_WRAPPED)
#define ENV_MAX_HEADER (ENV_MAX_BODY + ENV_TAG_LEN + 1 + ENVELOPE_MAX_EDKS * ENV_MAX_EDK)
_Static_assert(ENV_MAX_HEADER == ENVELOPE_MAX_HEADER_BYTES,
               "the public header bound is the format's");

/* ---- errors ---- */
envelope_status env_fail(envelope_err *err, envelope_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like env_fail, and appends the first OpenSSL error reason (never data). */
envelope_status env_fail_ossl(envelope_err *err, envelope_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Pops OpenSSL's error queue; maps a reason from envelope.so
 * to our category (backend unavailable, policy, authentication),
 * else returns `dflt`. */
envelope_status env_ossl_status(envelope_status dflt);
/* ENVELOPE_PROV_R_* of the envelope provider's last error that the latest
 * env_ossl_status (or env_fail_ossl) of this thread consumed; 0 if none. */
int env_last_provider_reason(void);
#define ENV_GUARD(x)                                                                               \
    do {                                                                                           \
        envelope_status g_s_ = (x);                                                                \
        if (g_s_ != ENVELOPE_OK)                                                                   \
            return g_s_;                                                                           \
    } while (0)

/* Clears *err (if not NULL): every public call starts with it, so that
 * after a success err holds ENVELOPE_OK and an empty message. */
static inline void env_err_clear(envelope_err *err)
{
    if (err != NULL) {
        err->code = ENVELOPE_OK;
        err->message[0] = '\0';
    }
}

/* ---- option structs (opts.c) ---- */
/* The caller's options copied into out after their struct_size is checked
 * (ENVELOPE_ERR_ARGUMENT for NULL or an unknown size). */
envelope_status env_encrypt_opts_get(const envelope_encrypt_opts *o, envelope_encrypt_opts *out,
                                     envelope_err *err);
envelope_status env_rewrap_opts_get(const envelope_rewrap_opts *o, envelope_rewrap_opts *out,
                                    envelope_err *err);
/* What a decrypting object keeps of its options: the KEK pointers and a
 * copy of the expected context (NULL: ENVELOPE_DECRYPT_ANY_CONTEXT). */
typedef struct env_decrypt {
    envelope_kek *keks[ENVELOPE_MAX_EDKS];
    size_t nkeks;
    envelope_context *expected;
    size_t threads; /* envelope_decrypt_opts.threads (0 if struct_size ends before it) */
} env_decrypt;
envelope_status env_decrypt_take(env_decrypt *d, const envelope_decrypt_opts *o, envelope_err *err);
void env_decrypt_cleanup(env_decrypt *d);

/* ---- library context ---- */
struct envelope_lib {
    OSSL_LIB_CTX *libctx;
    char *propq;
    EVP_CIPHER *gcm;
    EVP_MD *sha256;
    EVP_MD *sha512;
    EVP_CIPHER *ecb;         /* AES-256-ECB: suite 2's key derivation (xaes.c) */
    struct env_reuse *reuse; /* DEK reuse (dek_reuse.c), NULL when off */
    /* the envelope provider's kek-preference: URIs, in order (unwrap.c) */
    char *pref[ENVELOPE_MAX_EDKS];
    size_t npref;
};

/* dek_reuse.c: one DEK for several messages of one (KEK set, context),
 * when the envelope provider's dek-reuse-* settings say so. */
typedef struct env_reuse env_reuse;
#define ENV_REUSE_BYTES_DEFAULT (1ull << 36) /* 64 GiB under one DEK */
#define ENV_REUSE_SECONDS_DEFAULT 300ull
void env_reuse_read(envelope_lib *lib);
void env_reuse_free(env_reuse *r);
/* The entry name for these options, or 0 when reuse does not apply. */
int env_reuse_name(envelope_lib *lib, const envelope_encrypt_opts *o, const uint8_t *ctx_enc,
                   size_t ctx_len, uint8_t name[32]);
int env_reuse_name_suite(envelope_lib *lib, const envelope_encrypt_opts *o, const uint8_t *ctx_enc,
                         size_t ctx_len, uint16_t suite, uint8_t name[32]);
/* 1 with dek and a copy of the EDK list (OPENSSL_free) if a live entry
 * has room for one more message of `bytes` (0 if unknown). */
int env_reuse_take(envelope_lib *lib, const uint8_t name[32], uint64_t bytes, uint8_t *dek,
                   uint8_t **edks, size_t *edks_len);
void env_reuse_put(envelope_lib *lib, const uint8_t name[32], uint64_t bytes, const uint8_t *dek,
                   const uint8_t *edks, size_t edks_len);
/* A streamed message's size, once known. */
void env_reuse_account(envelope_lib *lib, const uint8_t name[32], uint64_t bytes);
/* lib.c: bumped in every forked child (pthread_atfork). */
unsigned long env_fork_generation(void);

/* unwrap_order.c: lib->pref from the envelope provider's kek-preference
 * (nothing if the provider is not loaded or the setting is unset). */
void env_lib_read_preference(envelope_lib *lib);

/* ---- encryption context ---- */
typedef struct env_pair {
    char *key;
    char *value;
    size_t klen, vlen;
} env_pair;

struct envelope_context {
    env_pair *pairs; /* sorted by key bytes */
    size_t n, cap;
};

/* Validates one key or value (UTF-8, no NUL, key without '='). */
int env_utf8_valid(const uint8_t *s, size_t n);
/* Encoded form: u16 count, then per pair u16 klen, key, u16 vlen, value. */
size_t env_context_encoded_len(const envelope_context *c);
void env_context_encode(const envelope_context *c, uint8_t *out);
envelope_status env_context_decode(const uint8_t *enc, size_t len, envelope_context **out,
                                   envelope_err *err);
envelope_status env_context_dup(const envelope_context *c, envelope_context **out,
                                envelope_err *err);
/* Every pair of `expected` present in the encoded context with its value. */
envelope_status env_context_check(const envelope_context *expected, const uint8_t *enc, size_t len,
                                  envelope_err *err);

/* ---- header ---- */
typedef struct env_edk {
    uint8_t kind;
    const uint8_t *uri;
    size_t uri_len;
    const uint8_t *key_id;
    size_t key_id_len;
    const uint8_t *wrapped;
    size_t wrapped_len;
} env_edk;

typedef struct env_header {
    uint8_t version;
    uint16_t suite;
    uint8_t flags; /* ENVELOPE_FLAG_* */
    const uint8_t *message_id;
    uint32_t frame_size;
    const uint8_t *ctx_enc; /* u16 count + pairs */
    size_t ctx_enc_len;
    const uint8_t *commitment;
    const uint8_t *body; /* bytes the header tag covers */
    size_t body_len;
    const uint8_t *tag;
    const uint8_t *edk_list; /* count byte + entries */
    size_t edk_list_len;
    size_t edk_count;
    env_edk edks[ENVELOPE_MAX_EDKS];
    size_t total_len; /* body + tag + EDK list */
} env_header;
/* unwrap_order.c: the indices of h's EDKs in the order to try them. */
void env_unwrap_order(const envelope_lib *lib, const env_header *h, size_t *order);

/* Parses a header at the start of buf. ENVELOPE_ERR_TRUNCATED with *need =
 * the total bytes needed if buf ends inside it. Pointers in h point into buf. */
envelope_status env_header_parse(const uint8_t *buf, size_t len, env_header *h, size_t *need,
                                 envelope_err *err);

/* The context field and the EDK list (§3.1, §4.2), shared with the key
 * block parser (keyblock.c): fill h->ctx_enc* and h->edk*. */
struct env_rd;
envelope_status env_parse_context(struct env_rd *r, env_header *h, size_t *need, envelope_err *err);
envelope_status env_parse_edk_list(struct env_rd *r, env_header *h, size_t *need,
                                   envelope_err *err);

/* Accumulates a header from a stream into a bounded buffer. */
typedef struct env_hdracc {
    uint8_t *buf; /* ENV_MAX_HEADER bytes */
    size_t len;
    size_t need;
    env_header h;
} env_hdracc;
envelope_status env_hdracc_init(env_hdracc *a, envelope_err *err);
/* Consumes bytes from *in; returns ENVELOPE_OK once h is complete (the rest
 * of the input is left in *in), ENVELOPE_ERR_TRUNCATED if it needs more. */
envelope_status env_hdracc_feed(env_hdracc *a, const uint8_t **in, size_t *inlen,
                                envelope_err *err);
void env_hdracc_cleanup(env_hdracc *a);

/* ---- URIs ---- */
/* The reference to record: query and secret attributes removed. */
envelope_status env_uri_strip(const char *uri, char *out, size_t outsize, envelope_err *err);

/* kek_check.c: the check STORE's description (include/envelope/provider.h,
 * ENVELOPE_CHECK_STORE_SUFFIX), edited in place: ci->kind and the findings
 * (f: ENVELOPE_MAX_KEK_FINDINGS entries) point into desc. 1 if it is in that
 * form (a kind; lines of a [a-z0-9-] code, a tab, a detail; at most
 * ENVELOPE_MAX_KEK_FINDINGS), else 0. */
int env_kek_check_parse(char *desc, envelope_kek_check_info *ci, envelope_kek_finding *f);
/* A message records printable ASCII only (docs/FORMAT.md §4.2): every byte
 * of ref (NUL-terminated, in a buffer of size) outside 0x21..0x7E becomes
 * %XX, in place (a file: path in UTF-8, a space). ENVELOPE_ERR_ARGUMENT if
 * the result would be longer than ENVELOPE_MAX_KEK_URI: refused before
 * anything is written, never a message no one can read. */
envelope_status env_uri_printable(char *ref, size_t size, envelope_err *err);
/* 1 if a message may name keys of this URI's scheme (pkcs11:, tpm2:). */
int env_uri_message_scheme(const char *uri);
/* The URI's scheme ("pkcs11"), 0 if it has none (a bare path) or it does
 * not fit. */
int env_uri_scheme(const char *uri, char *out, size_t outsize);
/* Whether a reference read from a message may be opened: copies it NUL-
 * terminated into out, or ENVELOPE_ERR_KEK_REF_REFUSED. */
envelope_status env_uri_check_untrusted(const uint8_t *uri, size_t len, char *out, size_t outsize,
                                        envelope_err *err);

/* ---- KEKs ---- */
struct envelope_kek {
    envelope_lib *lib;
    EVP_PKEY *pkey;
    envelope_wrap_kind kind;
    char ref[ENVELOPE_MAX_KEK_URI + 1];
    uint8_t key_id[ENVELOPE_MAX_KEY_ID];
    size_t key_id_len;
    int allow_retired; /* envelope_kek_allow_retired */
    int public_only;   /* a software RSA public key: wraps, never unwraps */
};
envelope_status env_kek_wrap(const envelope_kek *k, const uint8_t aad[32], const uint8_t *dek,
                             uint8_t *out, size_t *outlen, size_t outsize, envelope_err *err);
/* On success dek holds 32 bytes. Authentication failures are
 * ENVELOPE_ERR_AUTH; unreachable homes ENVELOPE_ERR_BACKEND. */
/* envelope_kek_open for a reference read from a message: the provider is
 * told (ENVELOPE_STORE_PARAM_FROM_MESSAGE) and opens only what its
 * configuration lets a message name; otherwise ENVELOPE_ERR_KEK_REF_REFUSED. */
envelope_status env_kek_open_from_message(envelope_lib *lib, const char *uri, envelope_kek **out,
                                          envelope_err *err);
envelope_status env_kek_unwrap(const envelope_kek *k, int kind, const uint8_t aad[32],
                               const uint8_t *wrapped, size_t wlen, uint8_t *dek,
                               envelope_err *err);

/* ---- per-object crypto state (no allocation after init) ---- */
typedef struct env_secrets {
    uint8_t dek[ENVELOPE_DEK_BYTES];
    uint8_t prk[64];
    uint8_t okm[64];    /* data key = okm[0..32), commitment = okm[32..64) */
    uint8_t block[128]; /* HMAC padded key */
    uint8_t inner[64];  /* HMAC inner hash */
} env_secrets;

#define ENV_KEY_ENC 1 /* key the encrypt context (sealing) */
#define ENV_KEY_DEC 2 /* key the decrypt context (opening) */

typedef struct env_crypto {
    envelope_lib *lib;
    EVP_MD_CTX *md;
    int which;
    EVP_CIPHER_CTX *enc;
    EVP_CIPHER_CTX *dec;
    env_secrets *s; /* envelope_secmem memory */
} env_crypto;

envelope_status env_crypto_init(env_crypto *c, envelope_lib *lib, int which, envelope_err *err);
void env_crypto_cleanup(env_crypto *c);
/* HKDF-SHA-512(ikm = s->dek, salt = message id) -> s->okm; keys enc and dec. */
envelope_status env_crypto_derive(env_crypto *c, const uint8_t *message_id, envelope_err *err);
/* Keys dst (made with the same `which`) with src's derived keys: a worker
 * thread's own context for the parallel frame paths (lib/workers.h). */
envelope_status env_crypto_key_copy(env_crypto *dst, const env_crypto *src, envelope_err *err);
/* GCM tag under the data key, nonce 0, AAD = body, empty plaintext. */
envelope_status env_crypto_header_tag(env_crypto *c, const uint8_t *body, size_t len,
                                      uint8_t tag[ENV_TAG_LEN], envelope_err *err);
envelope_status env_frame_seal(env_crypto *c, const uint8_t *message_id, uint64_t frame_no,
                               int final, const uint8_t *in, size_t len, uint8_t *out,
                               uint8_t tag[ENV_TAG_LEN], envelope_err *err);
/* Wipes out[0..len) on failure (ENVELOPE_ERR_AUTH). */
envelope_status env_frame_open(env_crypto *c, const uint8_t *message_id, uint64_t frame_no,
                               int final, const uint8_t *in, size_t len, const uint8_t *tag,
                               uint8_t *out, envelope_err *err);
/* SHA-256 wrap AAD (docs/FORMAT.md §5). */
envelope_status env_wrap_aad(envelope_lib *lib, uint16_t suite, const uint8_t *ctx_enc,
                             size_t ctx_enc_len, int kind, const uint8_t *uri, size_t uri_len,
                             const uint8_t *key_id, size_t key_id_len, uint8_t out[32],
                             envelope_err *err);

/* Checks the commitment and the header tag of h with the DEK in c->s->dek
 * (after env_crypto_derive). Uniform ENVELOPE_ERR_AUTH. */
envelope_status env_header_verify(env_crypto *c, const env_header *h, envelope_err *err);

/* Finds and unwraps the DEK of h into c->s->dek with the caller's KEKs or,
 * if none are named, the references in the message; env_unwrap_header
 * then checks it against h (commitment, header tag), env_unwrap_dek does
 * only the unwrap (a key block checks its own commitment). */
envelope_status env_unwrap_dek(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                               const env_header *h, envelope_err *err);
envelope_status env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                  const env_header *h, envelope_err *err);

/* ---- writing a header (shared by the sealer and the stream encryptor) ---- */
typedef struct env_hdrtmpl {
    uint8_t *mid; /* frame size .. extensions, after the message id */
    size_t mid_len;
    uint8_t *edks; /* EDK list */
    size_t edks_len;
    uint32_t frame_size;
    uint8_t flags; /* the header's flags byte */
    int reusable;  /* reuse_name names this template's DEK in lib->reuse */
    uint8_t reuse_name[32];
} env_hdrtmpl;
/* Generates a DEK into c->s->dek and wraps it for every KEK, or takes both
 * from DEK reuse for a template that serves one message of reuse_bytes
 * (0: not known yet; ENV_NO_REUSE: a sealer's own DEK, never shared). */
#define ENV_NO_REUSE UINT64_MAX
envelope_status env_hdrtmpl_build(env_hdrtmpl *t, env_crypto *c, const envelope_encrypt_opts *o,
                                  uint64_t reuse_bytes, envelope_err *err);
size_t env_hdrtmpl_len(const env_hdrtmpl *t);
/* Writes the header for message_id into out (env_hdrtmpl_len bytes);
 * derives the keys. */
envelope_status env_hdrtmpl_write(const env_hdrtmpl *t, env_crypto *c, const uint8_t *message_id,
                                  uint8_t *out, envelope_err *err);
void env_hdrtmpl_cleanup(env_hdrtmpl *t);

/* seal.c: bytes of the frames for len bytes of plaintext (0: too many),
 * and the frames themselves after a header written for id. */
size_t env_frames_len(size_t len, size_t fs);
envelope_status env_seal_frames(env_crypto *c, const uint8_t *id, size_t fs, const uint8_t *in,
                                size_t inlen, uint8_t *out, envelope_err *err);
/* open.c: the plaintext length of the frames after h from their structure
 * alone (0 if malformed), and the frames opened into out (*ptlen grows;
 * the caller wipes on failure). */
int env_plaintext_len(const env_header *h, const uint8_t *in, size_t inlen, size_t *n);
envelope_status env_open_frames(env_crypto *c, const env_header *h, const uint8_t *in, size_t inlen,
                                uint8_t *out, size_t outsize, size_t *ptlen, envelope_err *err);

/* Message ids: 256-bit random, drawn in batches (RAND_bytes per message
 * dominates small records), refilled after every fork (lib.c). */
typedef struct env_idpool {
    uint8_t buf[32 * 64];
    size_t off;
    unsigned long gen; /* fork generation the batch was drawn in */
} env_idpool;
envelope_status env_idpool_next(env_idpool *p, envelope_lib *lib, uint8_t id[32],
                                envelope_err *err);

#endif
