/*
 * envelope/envelope.h - libenvelope: envelope encryption of records, files
 * and streams with a fresh AES-256-GCM data-encryption key (DEK) wrapped by
 * one or more key-encryption keys (KEKs) that OpenSSL reaches by URI.
 *
 * The message format is specified in docs/FORMAT.md; the library's use in
 * docs/LIBRARY.md. This header is the contract.
 *
 * Misuse warnings (read these first):
 *  - A KEK is whatever OSSL_STORE_open() returns for its URI. A software
 *    RSA key in a PEM file works, but then the "hardware" guarantee is
 *    gone: a real KEK belongs in a token, TPM or KMS (envelope.so).
 *  - Decryption returns a frame's plaintext only after its tag verified,
 *    but a stream is only complete when envelope_decryptor_final() returns
 *    ENVELOPE_OK: a caller that acts on plaintext before that may act on a
 *    truncated message. envelope_open() (one shot) has no such window.
 *  - An envelope_sealer reuses one DEK for many records (each record still
 *    gets its own data key and key commitment from its 256-bit random
 *    message id). Bound its lifetime with max_messages.
 *  - Objects are not thread-safe, except envelope_lib, envelope_kek and
 *    envelope_recorder, which may be shared between threads once created.
 *    Use one sealer, opener, encryptor or decryptor per thread.
 *  - Every function that can fail returns an envelope_status and is
 *    warn_unused_result. On failure the envelope_err (if not NULL) holds a
 *    stable code and a message for humans that never contains a key,
 *    PIN, plaintext or context value; on success it holds ENVELOPE_OK and
 *    an empty message.
 *
 * Ownership: every _new/_open has a _free that is NULL-safe and wipes what
 * it held. Pointers returned by accessors stay valid until the owning
 * object is freed, unless the accessor's comment says otherwise
 * (envelope_opener_context: until the next open). Lengths are in bytes.
 * A NULL pointer where the comment does not allow one is
 * ENVELOPE_ERR_ARGUMENT, options included.
 */
#ifndef ENVELOPE_ENVELOPE_H
#define ENVELOPE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ENVELOPE_API __attribute__((visibility("default")))
#define ENVELOPE_WUR __attribute__((warn_unused_result))
#else
#define ENVELOPE_API
#define ENVELOPE_WUR
#endif

/* ---- versions ---- */
/* The library this header belongs to (MAJOR.MINOR.PATCH). The library a
 * program runs with may be a later one of the same soname:
 * envelope_version() says which. */
#define ENVELOPE_LIB_VERSION_MAJOR 0
#define ENVELOPE_LIB_VERSION_MINOR 2
#define ENVELOPE_LIB_VERSION_PATCH 0
#define ENVELOPE_LIB_VERSION                                                                       \
    ((ENVELOPE_LIB_VERSION_MAJOR << 16) | (ENVELOPE_LIB_VERSION_MINOR << 8) |                      \
     ENVELOPE_LIB_VERSION_PATCH)
/* The running library's version, MAJOR << 16 | MINOR << 8 | PATCH. */
ENVELOPE_API uint32_t envelope_version(void);
/* The same as "MAJOR.MINOR.PATCH"; static, never NULL. */
ENVELOPE_API const char *envelope_version_string(void);

/* ---- limits (docs/FORMAT.md §6); functions return the same values ---- */
/* The message format version a message's header carries (not the
 * library's version: that is envelope_version()). */
#define ENVELOPE_FORMAT_VERSION 1
#define ENVELOPE_VERSION ENVELOPE_FORMAT_VERSION /* the older name of the same */
#define ENVELOPE_SUITE_AES256GCM_HKDFSHA512_COMMIT 0x0001
#define ENVELOPE_DEK_BYTES 32
#define ENVELOPE_MESSAGE_ID_BYTES 32
#define ENVELOPE_FRAME_SIZE_DEFAULT 65536u
#define ENVELOPE_FRAME_SIZE_MIN 4096u
#define ENVELOPE_FRAME_SIZE_MAX 16777216u
#define ENVELOPE_MAX_EDKS 16
#define ENVELOPE_MAX_CONTEXT_PAIRS 64
#define ENVELOPE_MAX_CONTEXT_KEY 255
#define ENVELOPE_MAX_CONTEXT_VALUE 1024
#define ENVELOPE_MAX_CONTEXT_BYTES 8192 /* encoded pairs, count excluded */
#define ENVELOPE_MAX_KEK_URI 1024
#define ENVELOPE_MAX_KEY_ID 64
#define ENVELOPE_MAX_WRAPPED 2048
#define ENVELOPE_MAX_FRAMES 0xFFFFFFFFull
#define ENVELOPE_TAG_BYTES 16
#define ENVELOPE_MAX_HEADER_BYTES 58577u /* body, tag and a full EDK list */

/* suite 2: key blocks and compact records (docs/FORMAT.md §10) */
#define ENVELOPE_SUITE_XAES256GCM_COMMIT 0x0002
#define ENVELOPE_DEK_ID_BYTES 16
#define ENVELOPE_RECORD_OVERHEAD 63u /* magic, version, suite, DEK id, nonce 24, tag 16 */
#define ENVELOPE_RECORD_MAX_PLAINTEXT 1073741824u /* 2^30 */
#define ENVELOPE_RECORD_MAX_AD 65536u
#define ENVELOPE_MAX_KEYBLOCK_BYTES 58557u

ENVELOPE_API size_t envelope_frame_size_default(void);
ENVELOPE_API size_t envelope_max_edks(void);

/* ---- errors ---- */
typedef enum envelope_category {
    ENVELOPE_CAT_OK = 0,
    ENVELOPE_CAT_USAGE = 1,    /* the caller asked for something invalid */
    ENVELOPE_CAT_FORMAT = 2,   /* the input is not a valid message */
    ENVELOPE_CAT_AUTH = 3,     /* authentication failed: tampered, wrong key or context */
    ENVELOPE_CAT_BACKEND = 4,  /* KEK home unreachable: retryable */
    ENVELOPE_CAT_POLICY = 5,   /* refused by policy */
    ENVELOPE_CAT_INTERNAL = 6, /* out of memory, OpenSSL failure, bug */
    ENVELOPE_CAT_CONFIG = 7    /* the setup is wrong (ENVELOPE_ERR_CONFIG): fix it, don't retry */
} envelope_category;

/* Stable codes: the hundreds digit is the category, except
 * ENVELOPE_ERR_CONFIG, whose category is ENVELOPE_CAT_CONFIG (it was made
 * a 1xx code before it had a category of its own). Never renumbered. */
typedef enum envelope_status {
    ENVELOPE_OK = 0,

    ENVELOPE_ERR_ARGUMENT = 100,         /* NULL or out-of-range argument */
    ENVELOPE_ERR_CONTEXT_INVALID = 101,  /* bad key/value given by the caller */
    ENVELOPE_ERR_FRAME_SIZE = 102,       /* frame size outside 4 KiB..16 MiB */
    ENVELOPE_ERR_KEK_COUNT = 103,        /* 0 or more than 16 KEKs */
    ENVELOPE_ERR_BUFFER_TOO_SMALL = 104, /* output buffer too small */
    ENVELOPE_ERR_STATE = 105,            /* call out of order (after final/failure) */
    ENVELOPE_ERR_KEK_UNSUPPORTED = 106,  /* KEK type cannot wrap a DEK */
    ENVELOPE_ERR_KEK_NOT_FOUND = 107,    /* URI names no key */
    ENVELOPE_ERR_SEALER_EXHAUSTED = 108, /* sealer reached max_messages */
    ENVELOPE_ERR_OUTPUT = 109,           /* the caller's sink or callback failed */
    ENVELOPE_ERR_CONFIG = 110, /* the OpenSSL configuration or the provider's settings are wrong:
                                  provider not loaded, PKCS#11 module missing, unknown token,
                                  no PIN source, unknown or bad setting, a public-only KEK
                                  asked to decrypt (ENVELOPE_CAT_CONFIG; not retryable) */

    ENVELOPE_ERR_BAD_MAGIC = 200,        /* not an envelope message */
    ENVELOPE_ERR_VERSION = 201,          /* unknown format version */
    ENVELOPE_ERR_SUITE = 202,            /* unknown suite id */
    ENVELOPE_ERR_RESERVED = 203,         /* a reserved field is not zero */
    ENVELOPE_ERR_HDR_FRAME_SIZE = 204,   /* frame size field out of range */
    ENVELOPE_ERR_CONTEXT_LIMIT = 205,    /* context count/length over a limit */
    ENVELOPE_ERR_CONTEXT_ENCODING = 206, /* pairs unsorted, duplicate, bad UTF-8 */
    ENVELOPE_ERR_EDK_COUNT = 207,        /* EDK count 0 or over 16 */
    ENVELOPE_ERR_EDK_FIELD = 208,        /* EDK field length out of range */
    ENVELOPE_ERR_WRAP_KIND = 209,        /* unknown wrap kind */
    ENVELOPE_ERR_TRUNCATED = 210,        /* input ended early (no final frame) */
    ENVELOPE_ERR_TRAILING_DATA = 211,    /* bytes after the final frame */
    ENVELOPE_ERR_FRAME_TYPE = 212,       /* unknown frame type byte */
    ENVELOPE_ERR_FRAME_LENGTH = 213,     /* final frame length out of range */
    ENVELOPE_ERR_TOO_MANY_FRAMES = 214,  /* frame count over 2^32-1 */

    ENVELOPE_ERR_AUTH = 300,             /* uniform: the message failed authentication */
    ENVELOPE_ERR_NO_KEK = 301,           /* no EDK could be unwrapped with the KEKs at hand */
    ENVELOPE_ERR_CONTEXT_MISMATCH = 302, /* an expected context pair is missing or differs */
    ENVELOPE_ERR_DEK_UNKNOWN = 303,      /* a record names a DEK id no loaded key block has */
    ENVELOPE_ERR_DEK_ID_CONFLICT = 304,  /* a different key block with this DEK id is loaded */

    ENVELOPE_ERR_BACKEND = 400, /* the KEK's home is unavailable */

    ENVELOPE_ERR_KEK_REF_REFUSED = 500, /* an EDK's KEK reference may not be opened */
    ENVELOPE_ERR_POLICY = 501,          /* the KEK's home refused by policy */

    ENVELOPE_ERR_INTERNAL = 600,
    ENVELOPE_ERR_NOMEM = 601,
    ENVELOPE_ERR_CRYPTO = 602,       /* an OpenSSL primitive failed */
    ENVELOPE_ERR_LOCKED_MEMORY = 603 /* locked memory (RLIMIT_MEMLOCK) cannot hold the keys */
} envelope_status;

typedef struct envelope_err {
    envelope_status code;
    char message[320]; /* NUL-terminated; says the fact and the next step */
} envelope_err;

ENVELOPE_API envelope_category envelope_status_category(envelope_status s);
/* A stable short name, e.g. "ENVELOPE_ERR_AUTH"; never NULL. */
ENVELOPE_API const char *envelope_status_name(envelope_status s);

/* ---- library context ---- */
typedef struct envelope_lib envelope_lib;

/* Fetches AES-256-GCM, SHA-256 and SHA-512 once from libctx (NULL =
 * the default library context) with propq (NULL = none: the plain fetch
 * resolves to OpenSSL's default provider even when envelope.so is loaded). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_lib_new(void *ossl_libctx, const char *propq,
                                                           envelope_lib **out, envelope_err *err);
ENVELOPE_API void envelope_lib_free(envelope_lib *lib);

/* ---- encryption context (sorted UTF-8 key=value pairs) ---- */
typedef struct envelope_context envelope_context;

ENVELOPE_API ENVELOPE_WUR envelope_status envelope_context_new(envelope_context **out,
                                                               envelope_err *err);
/* Keys: 1..255 bytes of UTF-8 without NUL or '='; values 0..1024 bytes of
 * UTF-8 without NUL; at most 64 pairs; a key given twice is an error. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_context_add(envelope_context *c, const char *key,
                                                               const char *value,
                                                               envelope_err *err);
/* "KEY=VALUE" (the first '=' splits). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_context_add_kv(envelope_context *c,
                                                                  const char *kv,
                                                                  envelope_err *err);
ENVELOPE_API size_t envelope_context_count(const envelope_context *c);
/* Pairs in canonical (byte-wise sorted) order; NULL if i is out of range. */
ENVELOPE_API const char *envelope_context_key(const envelope_context *c, size_t i);
ENVELOPE_API const char *envelope_context_value(const envelope_context *c, size_t i);
/* The value for key, or NULL. */
ENVELOPE_API const char *envelope_context_get(const envelope_context *c, const char *key);
ENVELOPE_API void envelope_context_free(envelope_context *c);

/* ---- KEKs ---- */
typedef struct envelope_kek envelope_kek;

typedef enum envelope_wrap_kind {
    ENVELOPE_WRAP_RSA_OAEP_SHA256 = 1, /* software RSA key: OAEP-SHA256, label = wrap AAD */
    ENVELOPE_WRAP_PROVIDER_AEAD = 2    /* envelope.so key: provider blob bound to the AAD */
} envelope_wrap_kind;

/* Opens the first key (private, public or certificate's) at uri through
 * OSSL_STORE. The KEK reference recorded in messages is the provider's
 * ENVELOPE_PKEY_PARAM_URI/KEY_ID for envelope keys, else uri without query
 * and secrets plus SHA-256(SubjectPublicKeyInfo). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_kek_open(envelope_lib *lib, const char *uri,
                                                            envelope_kek **out, envelope_err *err);
ENVELOPE_API void envelope_kek_free(envelope_kek *k);
/* Every key a URI names, in the store's order, up to max: for "alias:NAME"
 * (the provider's kek.NAME settings) the current version, then the
 * previous ones, then the retired ones, so that a decrypt given the alias
 * opens data made under any version. *n is how many were opened. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_kek_open_all(envelope_lib *lib, const char *uri,
                                                                envelope_kek **out, size_t max,
                                                                size_t *n, envelope_err *err);
/* Lets this KEK unwrap even if the provider's configuration lists it as
 * retired (kek.NAME.retired); each such unwrap is logged by the provider.
 * Off by default. */
ENVELOPE_API void envelope_kek_allow_retired(envelope_kek *k, int allow);
ENVELOPE_API const char *envelope_kek_reference(const envelope_kek *k); /* URI without secrets */
ENVELOPE_API const uint8_t *envelope_kek_key_id(const envelope_kek *k, size_t *len);
ENVELOPE_API envelope_wrap_kind envelope_kek_wrap_kind(const envelope_kek *k);
/* "rsa-oaep-sha256", "provider-aead", or "unknown". It takes an int, not
 * an envelope_wrap_kind: envelope_edk_info.wrap_kind is the byte a message
 * carries, which may be a kind this library does not know. */
ENVELOPE_API const char *envelope_wrap_kind_name(int kind);

/* Creates a KEK inside the envelope provider's key home at uri through its
 * KEYMGMT: type "aes-256" or "rsa-3072" (pkcs11: URIs), "ec-p256" or
 * "rsa-2048" (tpm2: URIs; a PCR policy goes in the URI as pcrs=...). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_kek_create(envelope_lib *lib, const char *type,
                                                              const char *uri, envelope_err *err);

typedef struct envelope_kek_info {
    const char *type;      /* OpenSSL key type name, e.g. "RSA", "ENVELOPE-AES-KEK" */
    const char *reference; /* URI without secrets (or "" if unknown) */
    const uint8_t *key_id;
    size_t key_id_len;
    int bits;
    /* Listing entries that are not loaded keys ("tpm2:" lists the TPM's
     * persistent handles without opening them): what the entry is; type is
     * "TPM2-PERSISTENT", reference the URI to use, no key id, bits 0.
     * NULL for keys. */
    const char *description;
} envelope_kek_info;
/* Calls fn for each key OSSL_STORE finds at uri; fn returns 0 to go on.
 * "tpm2:" alone lists the TPM's persistent keys (public areas only). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_kek_list(envelope_lib *lib, const char *uri,
                                                            int (*fn)(void *arg,
                                                                      const envelope_kek_info *ki),
                                                            void *arg, envelope_err *err);

/* One weakness of a KEK (`envelope kek check`). */
typedef struct envelope_kek_finding {
    const char *code;   /* stable name, e.g. "extractable" (docs/envelope.1) */
    const char *detail; /* one sentence for people, from the key's home: escape it */
} envelope_kek_finding;
#define ENVELOPE_MAX_KEK_FINDINGS 17
typedef struct envelope_kek_check_info {
    const char *reference; /* the KEK's URI without secrets (a token's, for "token") */
    const char *kind;      /* "aes-256", "rsa-3072", "ec-p256", "token", ... */
    const envelope_kek_finding *findings;
    size_t nfindings; /* 0: nothing weaker than what envelope_kek_create makes */
} envelope_kek_check_info;
/* Reads every KEK uri names in its home, without using it, and calls fn
 * with its weaknesses against what envelope_kek_create makes: extractable
 * or once extractable, not sensitive, usable without login, usages a KEK
 * does not need, smaller than its home can make, a duplicable TPM key, KMS
 * usage bits beyond Encrypt|Decrypt, a token that asks for no PIN
 * (docs/SECURITY.md "Key policy"). fn returns 0 to go on. Keys the
 * provider would refuse as KEKs are reported, not refused. The strings
 * live for the call to fn only. A URI no backend can check, or that names
 * no key, is an error like any other. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_kek_check(
    envelope_lib *lib, const char *uri, int (*fn)(void *arg, const envelope_kek_check_info *ci),
    void *arg, envelope_err *err);

/* ---- options shared by the encrypting objects ---- */
/* Every option struct starts with struct_size = sizeof(the struct) as the
 * caller's header defines it: start from the _INIT macro (it sets
 * struct_size and zeroes the rest), then set fields. A struct_size of 0 or
 * one the library does not know is ENVELOPE_ERR_ARGUMENT; fields a later
 * version adds at the end read as 0 for a caller built against an earlier
 * header (docs/LIBRARY.md, "ABI and versions"). */
typedef struct envelope_encrypt_opts {
    size_t struct_size;
    /* 1..16 KEKs. The array and the KEKs are read during the call that
     * takes these options; neither needs to outlive it. */
    envelope_kek *const *keks;
    size_t nkeks;
    const envelope_context *context; /* NULL = empty; copied */
    size_t frame_size;               /* 0 = 64 KiB */
    /* ENVELOPE_KEK_POLICY_ALL (0, the default): the DEK is wrapped by every
     * KEK or nothing is written. ENVELOPE_KEK_POLICY_ANY: a KEK whose home
     * is unavailable (ENVELOPE_ERR_BACKEND) is left out as long as one KEK
     * wrapped the DEK; any other failure still fails. The header records
     * the policy (ENVELOPE_FLAG_KEK_POLICY_ANY, docs/FORMAT.md §3). */
    int kek_policy;
    /* Optional out: bit i is set when keks[i] was left out under
     * ENVELOPE_KEK_POLICY_ANY; cleared otherwise. */
    uint32_t *skipped;
    /* Streaming encryptor only (envelope_encryptor_new; the sealer and the
     * envelope_buf_* objects ignore it): 0 or 1 (the default) seals frames
     * on the caller's thread;
     * 2..64 starts that many worker threads for this object, joined when it
     * finishes, fails or is freed. The output is the same bytes either way.
     * The sink is always called on the caller's thread. Since 0.2. */
    size_t threads;
} envelope_encrypt_opts;
#define ENVELOPE_KEK_POLICY_ALL 0
#define ENVELOPE_KEK_POLICY_ANY 1
/* Header flag (docs/FORMAT.md §3): written under ENVELOPE_KEK_POLICY_ANY,
 * so the EDK list may lack KEKs the writer asked for. */
#define ENVELOPE_FLAG_KEK_POLICY_ANY 0x01

/* envelope_decrypt_opts.flags */
/* Check no context: without it, expected must be given (an empty context
 * expects no pairs, which is a check of nothing said explicitly too). */
#define ENVELOPE_DECRYPT_ANY_CONTEXT 0x1u

typedef struct envelope_decrypt_opts {
    size_t struct_size;
    /* KEKs the caller names; if nkeks > 0 only these are used. If 0, the
     * KEK references in the message are opened, except file: URIs, unknown
     * schemes and any carrying module-path, module-name, pin-source or
     * pin-value, and the envelope provider opens only those on the tokens
     * in pkcs11-tokens and the handles in tpm2-handles; the others are
     * skipped (ENVELOPE_ERR_KEK_REF_REFUSED if nothing else could be
     * tried): those must be named. The array is copied; the KEKs are used
     * by the object made with these options and must outlive it (for
     * envelope_open: the call). */
    envelope_kek *const *keks;
    size_t nkeks;
    /* Every pair here must be in the message with the same value; copied.
     * NULL only with ENVELOPE_DECRYPT_ANY_CONTEXT in flags, else
     * ENVELOPE_ERR_ARGUMENT. */
    const envelope_context *expected;
    unsigned flags; /* ENVELOPE_DECRYPT_* */
    /* Streaming decryptor only (envelope_decryptor_new; the opener and the
     * envelope_buf_* objects ignore it): 0 or 1 (the default) opens frames
     * on the caller's thread; 2..64 opens them on that many worker threads once
     * the header verified. Plaintext still reaches the sink in order, on
     * the caller's thread, each frame only after its tag and every earlier
     * frame's verified; nothing of a frame that fails or of any after it.
     * Since 0.2. */
    size_t threads;
} envelope_decrypt_opts;

#ifdef __cplusplus
#define ENVELOPE_ENCRYPT_OPTS_INIT                                                                 \
    {                                                                                              \
        sizeof(envelope_encrypt_opts), NULL, 0, NULL, 0, 0, NULL, 0                                \
    }
#define ENVELOPE_DECRYPT_OPTS_INIT                                                                 \
    {                                                                                              \
        sizeof(envelope_decrypt_opts), NULL, 0, NULL, 0, 0                                         \
    }
#else
#define ENVELOPE_ENCRYPT_OPTS_INIT                                                                 \
    {                                                                                              \
        .struct_size = sizeof(envelope_encrypt_opts)                                               \
    }
#define ENVELOPE_DECRYPT_OPTS_INIT                                                                 \
    {                                                                                              \
        .struct_size = sizeof(envelope_decrypt_opts)                                               \
    }
#endif

/* ---- one-shot records ---- */
/* A fresh DEK, wrapped for every KEK, seals in[0..inlen). *out is
 * allocated with OPENSSL_malloc (free with envelope_buffer_free); on
 * failure *out is NULL. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_seal(envelope_lib *lib,
                                                        const envelope_encrypt_opts *o,
                                                        const uint8_t *in, size_t inlen,
                                                        uint8_t **out, size_t *outlen,
                                                        envelope_err *err);
/* Opens a whole message. o is required (NULL: ENVELOPE_ERR_ARGUMENT; to
 * check no context say so with ENVELOPE_DECRYPT_ANY_CONTEXT). *out is
 * allocated with OPENSSL_malloc (free with envelope_buffer_free);
 * msg_context (optional, may be NULL) receives the message's context (free
 * with envelope_context_free). On any failure *out is NULL and no
 * plaintext was released. */
ENVELOPE_API ENVELOPE_WUR envelope_status
envelope_open(envelope_lib *lib, const envelope_decrypt_opts *o, const uint8_t *in, size_t inlen,
              uint8_t **out, size_t *outlen, envelope_context **msg_context, envelope_err *err);
ENVELOPE_API void envelope_buffer_free(uint8_t *buf, size_t len); /* wipes, NULL-safe */

/* ---- the record hot path: one wrapped DEK for many records ---- */
typedef struct envelope_sealer envelope_sealer;
/* Generates a DEK and wraps it once for every KEK; each seal then costs one
 * message id, one key derivation and the AES-GCM work. Nothing of ours is
 * allocated per seal, but with OpenSSL 3.0 its HKDF-SHA-512 makes four
 * small allocations inside OpenSSL (a digest init remakes the provider
 * context); suite 2 compact records (below) allocate nothing.
 * max_messages 0 = 2^32. envelope_sealer_seal: ENVELOPE_ERR_BUFFER_TOO_SMALL
 * sets *outlen to the size needed (envelope_sealer_sealed_size). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_sealer_new(envelope_lib *lib,
                                                              const envelope_encrypt_opts *o,
                                                              uint64_t max_messages,
                                                              envelope_sealer **out,
                                                              envelope_err *err);
ENVELOPE_API size_t envelope_sealer_sealed_size(const envelope_sealer *s, size_t inlen);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_sealer_seal(envelope_sealer *s,
                                                               const uint8_t *in, size_t inlen,
                                                               uint8_t *out, size_t outsize,
                                                               size_t *outlen, envelope_err *err);
ENVELOPE_API void envelope_sealer_free(envelope_sealer *s);

typedef struct envelope_opener envelope_opener;
/* Remembers the last EDK list it unwrapped, so records from one sealer
 * cost one unwrap. Plaintext is at most inlen bytes; on failure out is
 * wiped. ENVELOPE_ERR_BUFFER_TOO_SMALL (nothing written, no KEK used) sets
 * *outlen to the plaintext's size. The message's context:
 * envelope_opener_context. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_opener_new(envelope_lib *lib,
                                                              const envelope_decrypt_opts *o,
                                                              envelope_opener **out,
                                                              envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_opener_open(envelope_opener *op,
                                                               const uint8_t *in, size_t inlen,
                                                               uint8_t *out, size_t outsize,
                                                               size_t *outlen, envelope_err *err);
/* The context of the last message opened, or NULL if the last open
 * failed. Valid until the next envelope_opener_open or _free (an
 * exception to the accessor rule above); copy it to keep it. */
ENVELOPE_API const envelope_context *envelope_opener_context(envelope_opener *op);
ENVELOPE_API void envelope_opener_free(envelope_opener *op);

/* ---- the shared record handle: any thread, any context ---- */
/* One handle for a service's records: seal and open from any thread, each
 * record with its own context. Sealing keeps a DEK per context (wrapped
 * once for every KEK, then reused within the limits below); opening keeps
 * the DEKs it unwrapped in an LRU keyed by (suite, context, EDK list), so
 * records of many interleaved contexts open at the cached rate. DEKs live
 * in one locked (mlock, MADV_DONTDUMP) slab sized at creation.
 *
 * Records are suite-1 messages, readable by every opener, unless `compact`
 * is set: then each context's DEK is a suite-2 key block (docs/FORMAT.md
 * §10) that the recorder hands to on_keyblock, once, before the first
 * record under it is returned, and each record is a 63-byte-overhead
 * compact record naming that key block by its DEK id. Either way a DEK
 * serves exactly one context: a suite-1 EDK's wrap AAD binds the whole
 * context (§5.3), and a key block binds its context in its keys, DEK id
 * and tag (§10.1). A compact record carries no context; opening checks the
 * expected context against its key block's. envelope_recorder_open reads
 * both forms whatever `compact` says. */
typedef struct envelope_recorder envelope_recorder;

/* Called by envelope_recorder_seal (compact) with every new key block
 * before any record under it is returned: store bytes[0..len) under its
 * dek_id (ENVELOPE_DEK_ID_BYTES), write-once per DEK id (docs/FORMAT.md
 * §10.5), and return 0 once it is stored. Anything else fails that seal
 * with ENVELOPE_ERR_OUTPUT and the key block is thrown away (the next seal
 * of that context makes another). Called from any sealing thread, for
 * different contexts at once, with no recorder lock held; threads sealing
 * the same context wait for it, so it must not seal that context itself.
 * The pointers are valid during the call only. */
typedef int (*envelope_keyblock_store_fn)(void *user, const uint8_t *dek_id, const uint8_t *bytes,
                                          size_t len);
/* Called by envelope_recorder_open when a compact record names a DEK id
 * the recorder does not hold: write the key block stored under dek_id into
 * buf (cap is ENVELOPE_MAX_KEYBLOCK_BYTES), set *len and return 1; return
 * 0 if the store has none (ENVELOPE_ERR_DEK_UNKNOWN), -1 if it cannot be
 * read (ENVELOPE_ERR_OUTPUT). The key block is then loaded as by
 * envelope_recorder_add_keyblock. Any thread, no recorder lock held;
 * threads opening records of the same DEK id wait for it. */
typedef int (*envelope_keyblock_find_fn)(void *user, const uint8_t *dek_id, uint8_t *buf,
                                         size_t cap, size_t *len);

typedef struct envelope_recorder_opts {
    size_t struct_size;
    /* 1..16 KEKs: every record is sealed to all of them, and opened with
     * them only (references in a record are never opened). The array is
     * copied; the KEKs must outlive the recorder. */
    envelope_kek *const *keks;
    size_t nkeks;
    size_t frame_size; /* 0 = 64 KiB; suite-1 records only */
    /* A DEK's window: it seals at most dek_messages records (0 = 2^32;
     * compact records: at most 2^48, the format's limit per DEK, FORMAT.md
     * §10.6) and dek_bytes bytes of plaintext (0 = 64 GiB) during
     * dek_seconds (0 = 300); then the next record of its context gets a
     * new DEK (compact: a new key block). */
    uint64_t dek_messages;
    uint64_t dek_bytes;
    uint64_t dek_seconds;
    /* Contexts with a live sealing DEK (0 = 1024) and unwrapped suite-1
     * DEKs kept for opening (0 = 4096); past them the least recently used
     * is wiped. Both are in the locked slab (envelope_recorder_stats). */
    size_t max_deks;
    size_t max_keys;
    /* ---- compact records (read only when struct_size covers them) ---- */
    /* 1: seal suite-2 compact records; on_keyblock is then required. */
    int compact;
    envelope_keyblock_store_fn on_keyblock;
    envelope_keyblock_find_fn find_keyblock; /* optional */
    void *user;                              /* passed to both */
    /* Key blocks kept for opening compact records (0 = 4096 with compact,
     * 256 without), the recorder's own included; past it the least recently used is wiped and
     * a record under it needs find_keyblock or another add_keyblock
     * (envelope_recorder_stats.keyblocks_evicted counts them). */
    size_t max_keyblocks;
} envelope_recorder_opts;
#ifdef __cplusplus
#define ENVELOPE_RECORDER_OPTS_INIT                                                                \
    {                                                                                              \
        sizeof(envelope_recorder_opts), NULL, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0          \
    }
#else
#define ENVELOPE_RECORDER_OPTS_INIT                                                                \
    {                                                                                              \
        .struct_size = sizeof(envelope_recorder_opts)                                              \
    }
#endif

typedef struct envelope_recorder_stats {
    size_t struct_size;    /* set by the caller: ENVELOPE_RECORDER_STATS_INIT */
    uint64_t seals, opens; /* records sealed and opened */
    uint64_t deks_made;    /* DEKs generated (compact: key blocks made): each
                               is one wrap per KEK */
    uint64_t unwraps;      /* DEKs unwrapped (compact: key blocks loaded):
                               each is one KEK call (or more if a KEK fails
                               and the next EDK is tried) */
    size_t deks_live;      /* contexts with a sealing DEK now */
    size_t keys_live;      /* unwrapped suite-1 DEKs kept now */
    size_t locked_bytes;   /* locked memory the recorder holds */
    /* ---- filled only when struct_size covers them ---- */
    size_t keyblocks_live;      /* key blocks kept for opening now */
    uint64_t keyblocks_evicted; /* key blocks wiped to make room */
} envelope_recorder_stats;
#ifdef __cplusplus
#define ENVELOPE_RECORDER_STATS_INIT                                                               \
    {                                                                                              \
        sizeof(envelope_recorder_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0                                 \
    }
#else
#define ENVELOPE_RECORDER_STATS_INIT                                                               \
    {                                                                                              \
        .struct_size = sizeof(envelope_recorder_stats)                                             \
    }
#endif

/* ENVELOPE_ERR_LOCKED_MEMORY if the slab cannot be locked (raise
 * RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in a systemd unit, or lower max_deks,
 * max_keys and max_keyblocks); nothing is ever kept in memory that is not
 * locked. The slab is max_deks * 32 (compact: * 48) + max_keys * 32 +
 * max_keyblocks * 48 bytes, rounded up to pages; each thread in flight
 * adds a locked page (compact: three), and making or loading a key block
 * takes a few pages for the length of the call. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_recorder_new(envelope_lib *lib,
                                                                const envelope_recorder_opts *o,
                                                                envelope_recorder **out,
                                                                envelope_err *err);
/* An upper bound of a sealed record's size for this context (NULL =
 * empty) and inlen, with no KEK call; 0 if the record is too large.
 * Compact: exactly inlen + ENVELOPE_RECORD_OVERHEAD. */
ENVELOPE_API size_t envelope_recorder_seal_bound(const envelope_recorder *r,
                                                 const envelope_context *context, size_t inlen);
/* Seals in[0..inlen) with the context (NULL = empty). The first record of a
 * context (and the first after its DEK's window) wraps a new DEK for every
 * KEK; threads that ask for the same context meanwhile wait for that one
 * wrap (compact: and for on_keyblock to store its key block).
 * ENVELOPE_ERR_BUFFER_TOO_SMALL sets *outlen to the size needed (compact:
 * before any KEK call). A thread that finds no locked memory for its
 * working keys gets ENVELOPE_ERR_LOCKED_MEMORY. Compact records carry no
 * associated data (envelope_record_seal does). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_recorder_seal(envelope_recorder *r,
                                                                 const envelope_context *context,
                                                                 const uint8_t *in, size_t inlen,
                                                                 uint8_t *out, size_t outsize,
                                                                 size_t *outlen, envelope_err *err);
/* Opens a record whose context holds every pair of expected (required: an
 * empty context checks nothing, and says so). Plaintext is at most inlen
 * bytes; ENVELOPE_ERR_BUFFER_TOO_SMALL (no KEK used) sets *outlen to its
 * size; on failure out is wiped. A compact record (magic ENVR) is opened
 * with the key block its DEK id names: one the recorder sealed with or was
 * given (envelope_recorder_add_keyblock), else the one find_keyblock
 * returns, else ENVELOPE_ERR_DEK_UNKNOWN; expected is checked against that
 * key block's context (ENVELOPE_ERR_CONTEXT_MISMATCH). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_recorder_open(envelope_recorder *r,
                                                                 const envelope_context *expected,
                                                                 const uint8_t *in, size_t inlen,
                                                                 uint8_t *out, size_t outsize,
                                                                 size_t *outlen, envelope_err *err);
/* Loads a stored key block for opening compact records: parses it, checks
 * expected (required, as for open) against its context, unwraps its DEK
 * with the recorder's KEKs (one KEK call), checks commitment, DEK id and
 * tag, and keeps its record key in the key-block LRU. A key block whose DEK
 * id the recorder already holds is not unwrapped again if its
 * authenticated part is the same bytes, and is refused with
 * ENVELOPE_ERR_DEK_ID_CONFLICT if not (docs/FORMAT.md §10.5). */
ENVELOPE_API ENVELOPE_WUR envelope_status
envelope_recorder_add_keyblock(envelope_recorder *r, const uint8_t *bytes, size_t len,
                               const envelope_context *expected, envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_recorder_stats_get(envelope_recorder *r,
                                                                      envelope_recorder_stats *st,
                                                                      envelope_err *err);
/* Wipes every DEK; no thread may be inside a recorder call. */
ENVELOPE_API void envelope_recorder_free(envelope_recorder *r);

/* ---- suite 2: key blocks and compact records (docs/FORMAT.md §10) ---- */
/*
 * A key block holds one DEK wrapped for 1..16 KEKs and the context, and is
 * named by a 16-byte DEK id derived from (and committed to) the DEK. It is
 * stored once, by the caller; each record then carries only 63 bytes of
 * overhead and costs two AES block calls, one GCM key setup and the GCM
 * pass (XAES-256-GCM): no hash, no unwrap, no allocation.
 *
 * Threads: a key block and a keyring are immutable once made or loaded
 * (a keyring only grows) and may be shared by any number of threads; the
 * per-block count of sealed records is atomic. An envelope_record_ctx
 * (cipher contexts and a nonce batch) belongs to one thread at a time.
 */
typedef struct envelope_keyblock envelope_keyblock;
typedef struct envelope_record_ctx envelope_record_ctx;
typedef struct envelope_keyring envelope_keyring;

/* Makes a DEK, wraps it once for every KEK of o (o->frame_size is not
 * used). max_records bounds the records this object seals (0 = 2^48, the
 * format's limit per DEK, FORMAT.md §10.6; a loaded key block also seals at
 * most 2^48). The count is per object: writers that share a key block must
 * share the budget themselves. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_keyblock_new(envelope_lib *lib,
                                                                const envelope_encrypt_opts *o,
                                                                uint64_t max_records,
                                                                envelope_keyblock **out,
                                                                envelope_err *err);
/* Parses a stored key block, unwraps its DEK with the KEKs of o (or the
 * references in it, under the same rules as envelope_open), checks the
 * expected context, the commitment, the DEK id and the key-block tag.
 * The DEK is wiped once the record key is derived. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_keyblock_load(envelope_lib *lib,
                                                                 const envelope_decrypt_opts *o,
                                                                 const uint8_t *in, size_t inlen,
                                                                 envelope_keyblock **out,
                                                                 envelope_err *err);
/* The serialised key block (what to store), its DEK id (16 bytes) and its
 * context. */
ENVELOPE_API const uint8_t *envelope_keyblock_bytes(const envelope_keyblock *kb, size_t *len);
ENVELOPE_API const uint8_t *envelope_keyblock_dek_id(const envelope_keyblock *kb);
ENVELOPE_API const envelope_context *envelope_keyblock_context(const envelope_keyblock *kb);
ENVELOPE_API void envelope_keyblock_free(envelope_keyblock *kb);

ENVELOPE_API ENVELOPE_WUR envelope_status envelope_record_ctx_new(envelope_lib *lib,
                                                                  envelope_record_ctx **out,
                                                                  envelope_err *err);
/* Holds the AES key schedule of the last key block it used until the next
 * use or free (wiped then). */
ENVELOPE_API void envelope_record_ctx_free(envelope_record_ctx *rc);

/* inlen + ENVELOPE_RECORD_OVERHEAD, or 0 if inlen is over the limit. */
ENVELOPE_API size_t envelope_record_sealed_size(size_t inlen);
/* Seals in[0..inlen) under kb with a fresh 192-bit nonce. ad (0..64 KiB,
 * may be NULL if adlen is 0) is bound to the record but not stored: the
 * reader must give the same bytes (e.g. table, row and column). */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_record_seal(envelope_record_ctx *rc,
                                                               const envelope_keyblock *kb,
                                                               const uint8_t *ad, size_t adlen,
                                                               const uint8_t *in, size_t inlen,
                                                               uint8_t *out, size_t outsize,
                                                               size_t *outlen, envelope_err *err);
/* Opens a record of kb (ENVELOPE_ERR_DEK_UNKNOWN if it names another DEK
 * id). The plaintext is inlen - ENVELOPE_RECORD_OVERHEAD bytes; on any
 * failure out is wiped and nothing was released. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_record_open(envelope_record_ctx *rc,
                                                               const envelope_keyblock *kb,
                                                               const uint8_t *ad, size_t adlen,
                                                               const uint8_t *in, size_t inlen,
                                                               uint8_t *out, size_t outsize,
                                                               size_t *outlen, envelope_err *err);
/* The DEK id a record names (a pointer into in), after checking its
 * magic, version, suite and length: no key needed. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_record_dek_id(const uint8_t *in, size_t inlen,
                                                                 const uint8_t **id,
                                                                 envelope_err *err);

/* Key blocks by DEK id. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_keyring_new(envelope_keyring **out,
                                                               envelope_err *err);
/* Takes kb (on success, and on ENVELOPE_ERR_DEK_ID_CONFLICT, where it is
 * freed): a key block whose DEK id is already there is accepted only if
 * its authenticated part is the same (then the one already held stays),
 * else ENVELOPE_ERR_DEK_ID_CONFLICT. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_keyring_add(envelope_keyring *kr,
                                                               envelope_keyblock *kb,
                                                               envelope_err *err);
/* The key block with this DEK id, or NULL; valid until the keyring is freed. */
ENVELOPE_API const envelope_keyblock *envelope_keyring_find(const envelope_keyring *kr,
                                                            const uint8_t *dek_id);
ENVELOPE_API size_t envelope_keyring_count(const envelope_keyring *kr);
/* envelope_record_open with the key block the record names. Every pair of
 * expected (NULL = none) must be in that key block's context
 * (ENVELOPE_ERR_CONTEXT_MISMATCH): a keyring holding several tenants' key
 * blocks must be told whose record the caller expects. *kb_out (optional)
 * receives the key block used. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_keyring_open(
    envelope_record_ctx *rc, const envelope_keyring *kr, const envelope_context *expected,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out, size_t outsize,
    size_t *outlen, const envelope_keyblock **kb_out, envelope_err *err);
ENVELOPE_API void envelope_keyring_free(envelope_keyring *kr);

/* ---- streaming, constant memory (one frame buffered) ---- */
/* Receives output bytes; returns 0 to continue, non-zero to abort
 * (the call then fails with ENVELOPE_ERR_OUTPUT). */
typedef int (*envelope_sink_fn)(void *arg, const uint8_t *buf, size_t len);

typedef struct envelope_encryptor envelope_encryptor;
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_encryptor_new(envelope_lib *lib,
                                                                 const envelope_encrypt_opts *o,
                                                                 envelope_sink_fn sink, void *arg,
                                                                 envelope_encryptor **out,
                                                                 envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_encryptor_update(envelope_encryptor *e,
                                                                    const uint8_t *in, size_t inlen,
                                                                    envelope_err *err);
/* Writes the final frame. Without it the output is an unfinished message
 * that every decryptor rejects. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_encryptor_final(envelope_encryptor *e,
                                                                   envelope_err *err);
/* A buffer of the encryptor's own to read the next input into: *buf gets
 * *len >= 1 bytes, valid until the next call on e. Passing what was read
 * there (a prefix of it) to envelope_encryptor_update saves that call a
 * copy of the input; with threads > 1 it is where a worker will seal it
 * from. Any other buffer may still be passed to update. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_encryptor_buffer(envelope_encryptor *e,
                                                                    uint8_t **buf, size_t *len,
                                                                    envelope_err *err);
ENVELOPE_API void envelope_encryptor_free(envelope_encryptor *e);

typedef struct envelope_decryptor envelope_decryptor;
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_decryptor_new(envelope_lib *lib,
                                                                 const envelope_decrypt_opts *o,
                                                                 envelope_sink_fn sink, void *arg,
                                                                 envelope_decryptor **out,
                                                                 envelope_err *err);
/* Passes verified plaintext frames to the sink. After a failure every
 * later call fails with the same code. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_decryptor_update(envelope_decryptor *d,
                                                                    const uint8_t *in, size_t inlen,
                                                                    envelope_err *err);
/* ENVELOPE_OK only if the final frame was seen and nothing followed it. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_decryptor_final(envelope_decryptor *d,
                                                                   envelope_err *err);
/* As envelope_encryptor_buffer, for the message's bytes. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_decryptor_buffer(envelope_decryptor *d,
                                                                    uint8_t **buf, size_t *len,
                                                                    envelope_err *err);
/* The message's context once the header was read, else NULL. */
ENVELOPE_API const envelope_context *envelope_decryptor_context(const envelope_decryptor *d);
ENVELOPE_API void envelope_decryptor_free(envelope_decryptor *d);

/* ---- streaming with buffers in and out (for language bindings) ---- */
/* The encryptor and decryptor above with the output in the caller's
 * buffer instead of a sink. Each update consumes what it can of
 * in[0..inlen) (*consumed) and writes at most outcap bytes to out
 * (*written); output that did not fit stays inside (at most the header and
 * two frames) and comes first on the next call, which may pass inlen 0.
 * A call with outcap >= 1 always makes progress; one that can make none
 * (outcap 0 while output is pending) is ENVELOPE_ERR_BUFFER_TOO_SMALL,
 * consumes nothing and leaves the object usable. After any other failure
 * every later call fails with the same code. finish ends the input; call
 * it until *done is 1. The decryptor hands out only plaintext of frames
 * whose tag verified, and *done = 1 is, as envelope_decryptor_final, the
 * statement that the message was complete. */
typedef struct envelope_buf_encryptor envelope_buf_encryptor;
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_encryptor_new(envelope_lib *lib,
                                                                     const envelope_encrypt_opts *o,
                                                                     envelope_buf_encryptor **out,
                                                                     envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_encryptor_update(
    envelope_buf_encryptor *b, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out,
    size_t outcap, size_t *written, envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_encryptor_finish(envelope_buf_encryptor *b,
                                                                        uint8_t *out, size_t outcap,
                                                                        size_t *written, int *done,
                                                                        envelope_err *err);
ENVELOPE_API void envelope_buf_encryptor_free(envelope_buf_encryptor *b);

typedef struct envelope_buf_decryptor envelope_buf_decryptor;
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_decryptor_new(envelope_lib *lib,
                                                                     const envelope_decrypt_opts *o,
                                                                     envelope_buf_decryptor **out,
                                                                     envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_decryptor_update(
    envelope_buf_decryptor *b, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out,
    size_t outcap, size_t *written, envelope_err *err);
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_buf_decryptor_finish(envelope_buf_decryptor *b,
                                                                        uint8_t *out, size_t outcap,
                                                                        size_t *written, int *done,
                                                                        envelope_err *err);
/* The message's context once the header was read, else NULL. */
ENVELOPE_API const envelope_context *
envelope_buf_decryptor_context(const envelope_buf_decryptor *b);
ENVELOPE_API void envelope_buf_decryptor_free(envelope_buf_decryptor *b);

/* ---- KEK rotation: a new EDK list, the rest of the message unchanged ---- */
/* The EDK list is not covered by the header tag (docs/FORMAT.md §1, §5.3),
 * so a message can get EDKs for new KEKs, and lose those of old ones,
 * without touching its authenticated header or its frames. */
typedef struct envelope_rewrap_opts {
    size_t struct_size; /* ENVELOPE_REWRAP_OPTS_INIT */
    /* The KEKs that unwrap the DEK (1..16): only these; references in the
     * message are never opened. The first EDK one of them unwraps decides
     * (its DEK must pass the commitment and the header tag). */
    envelope_kek *const *from;
    size_t nfrom;
    /* The KEKs to wrap the DEK for (1..16). An EDK already there for one
     * of them (same key id and wrap kind) is replaced by a fresh wrap. */
    envelope_kek *const *to;
    size_t nto;
    /* Drop every EDK whose key id and kind are those of a `from` KEK
     * (unless it is also a `to` KEK). */
    int remove_old;
    /* Unwrap and check only: nothing is wrapped, no header is made. */
    int dry_run;
} envelope_rewrap_opts;
#ifdef __cplusplus
#define ENVELOPE_REWRAP_OPTS_INIT                                                                  \
    {                                                                                              \
        sizeof(envelope_rewrap_opts), NULL, 0, NULL, 0, 0, 0                                       \
    }
#else
#define ENVELOPE_REWRAP_OPTS_INIT                                                                  \
    {                                                                                              \
        .struct_size = sizeof(envelope_rewrap_opts)                                                \
    }
#endif

typedef struct envelope_rewrap_result {
    /* Bytes at the start of the input that are the old header; the body
     * (frames) starts there and is the caller's to copy unchanged. */
    size_t old_header_len;
    /* 1 if the message already has an EDK for every `to` KEK and, with
     * remove_old, none for a `from` KEK: nothing to do (no KEK was used,
     * header is NULL). This is how a rerun after a crash skips the
     * messages it already rewrote. */
    int already_done;
    size_t edks_added;   /* `to` EDKs that were not there before */
    size_t edks_removed; /* EDKs dropped (remove_old), replaced ones not counted */
    /* The new header (authenticated header copied, new EDK list), or NULL
     * (already_done, dry_run). Allocated with OPENSSL_malloc; free with
     * envelope_buffer_free. */
    uint8_t *header;
    size_t header_len;
} envelope_rewrap_result;

/* Reads the header at the start of in[0..inlen) (the first
 * ENVELOPE_MAX_HEADER_BYTES of the message are always enough;
 * ENVELOPE_ERR_TRUNCATED if the header does not end within them), unwraps
 * its DEK with o->from, checks the commitment and the header tag, and
 * wraps the DEK for every o->to KEK with the wrap AAD of the new EDK. The
 * DEK lives in locked memory and is wiped before the call returns. The
 * frames are not read: a tampered body is found by decrypting, not here.
 * On failure *r holds no header. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_rewrap_header(envelope_lib *lib,
                                                                 const envelope_rewrap_opts *o,
                                                                 const uint8_t *in, size_t inlen,
                                                                 envelope_rewrap_result *r,
                                                                 envelope_err *err);

/* ---- inspection without a key ---- */
typedef struct envelope_inspector envelope_inspector;
typedef struct envelope_edk_info {
    int wrap_kind;
    const char *reference; /* as stored: untrusted */
    const uint8_t *key_id;
    size_t key_id_len;
    size_t wrapped_len;
} envelope_edk_info;

ENVELOPE_API ENVELOPE_WUR envelope_status envelope_inspector_new(envelope_inspector **out,
                                                                 envelope_err *err);
/* Reads the header, then walks the frames (no decryption). A suite 2 key
 * block or record (docs/FORMAT.md §10) is recognised by its first bytes
 * and read whole at final: envelope_inspector_form says which; a key block
 * gives version, suite, DEK id, context, EDKs and its length
 * (header_len); a record version, suite, DEK id and plaintext_len. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_inspector_update(envelope_inspector *in,
                                                                    const uint8_t *buf, size_t len,
                                                                    envelope_err *err);
/* ENVELOPE_OK if the message is structurally complete. */
ENVELOPE_API ENVELOPE_WUR envelope_status envelope_inspector_final(envelope_inspector *in,
                                                                   envelope_err *err);
/* Valid once the header was read (envelope_inspector_has_header). */
ENVELOPE_API int envelope_inspector_has_header(const envelope_inspector *in);
ENVELOPE_API int envelope_inspector_version(const envelope_inspector *in);
ENVELOPE_API int envelope_inspector_suite(const envelope_inspector *in);
/* The header flags byte (ENVELOPE_FLAG_*). */
ENVELOPE_API int envelope_inspector_flags(const envelope_inspector *in);
ENVELOPE_API const uint8_t *envelope_inspector_message_id(const envelope_inspector *in);
ENVELOPE_API size_t envelope_inspector_frame_size(const envelope_inspector *in);
ENVELOPE_API size_t envelope_inspector_header_len(const envelope_inspector *in);
ENVELOPE_API const envelope_context *envelope_inspector_context(const envelope_inspector *in);
ENVELOPE_API size_t envelope_inspector_edk_count(const envelope_inspector *in);
ENVELOPE_API int envelope_inspector_edk(const envelope_inspector *in, size_t i,
                                        envelope_edk_info *out);
#define ENVELOPE_FORM_MESSAGE 1
#define ENVELOPE_FORM_KEYBLOCK 2
#define ENVELOPE_FORM_RECORD 3
ENVELOPE_API int envelope_inspector_form(const envelope_inspector *in);
/* A key block's or record's DEK id (16 bytes), else NULL. */
ENVELOPE_API const uint8_t *envelope_inspector_dek_id(const envelope_inspector *in);
/* Counted so far; final after envelope_inspector_final. */
ENVELOPE_API uint64_t envelope_inspector_frame_count(const envelope_inspector *in);
ENVELOPE_API uint64_t envelope_inspector_plaintext_len(const envelope_inspector *in);
ENVELOPE_API void envelope_inspector_free(envelope_inspector *in);

#ifdef __cplusplus
}
#endif
#endif
