/*
 * envelope/provider.h - names the envelope.so OpenSSL provider understands.
 *
 * The provider exposes KEKs held in a PKCS#11 token, a TPM or a KMS as
 * ordinary EVP_PKEYs, reached with OSSL_STORE_open(uri). These names are the
 * whole contract between a caller (libenvelope, or any OpenSSL program) and
 * the provider; nothing else is needed at compile time.
 *
 * Wrapping a DEK bound to a context ("AEAD wrap"):
 *   EVP_PKEY_encrypt_init(ctx);
 *   params = { OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, aad, aadlen) };
 *   EVP_PKEY_CTX_set_params(ctx, params);
 *   EVP_PKEY_encrypt(ctx, NULL, &bloblen, dek, deklen);   -> max blob size
 *   EVP_PKEY_encrypt(ctx, blob, &bloblen, dek, deklen);   -> the wrapped blob
 * and EVP_PKEY_decrypt with the same AAD returns the DEK; any other AAD, or
 * any change to the blob, fails with reason "authentication failed".
 * The blob is versioned and self-describing (docs/WRAP-BLOB.md). A caller can
 * tell an envelope key that supports this by finding ENVELOPE_PKEY_PARAM_AAD
 * in EVP_PKEY_CTX_settable_params() after the *_init call.
 *
 * Without the AAD parameter an envelope RSA key behaves exactly like
 * OpenSSL's own RSA (pad-mode, digest, mgf1-digest, oaep-label; PKCS#1 v1.5
 * by default), so EVP_SealInit/EVP_OpenInit and CMS work unchanged.
 *
 * KEM: EVP_PKEY_encapsulate returns a fresh 32-byte secret and its wrapped
 * blob (the same blob format); ENVELOPE_PKEY_PARAM_AAD binds a context.
 */
#ifndef ENVELOPE_PROVIDER_H
#define ENVELOPE_PROVIDER_H

#define ENVELOPE_PROVIDER_NAME "envelope"

/* EVP_PKEY types (KEYMGMT names) of the provider's keys. Token RSA keys are
 * "RSA" so that CMS, X509_check_private_key and EVP_PKEY_is_a treat them as
 * RSA keys; AES KEKs have a type of their own. */
#define ENVELOPE_KEYTYPE_AES_KEK "ENVELOPE-AES-KEK"
/* The first (canonical) names of the RSA and EC KEYMGMTs: EVP_PKEY_get0_type_name
 * returns these; EVP_PKEY_is_a(k, "RSA") / (k, "EC") hold too. A name of our
 * own first, because OpenSSL 3.0 hands any context made for a key whose type
 * name is "RSA" or "EC" to a registered ENGINE for that type (a libp11
 * engine in openssl.cnf), which cannot use a key held in a device.
 * Create keys with EVP_PKEY_CTX_new_from_name(libctx, ENVELOPE_KEYTYPE_RSA,
 * "provider=envelope") for the same reason. */
#define ENVELOPE_KEYTYPE_RSA "ENVELOPE-RSA-KEY"
#define ENVELOPE_KEYTYPE_EC "ENVELOPE-EC-KEY"

/* ctx param (octet string): additional authenticated data bound to a wrap. */
#define ENVELOPE_PKEY_PARAM_AAD "aad"
/* Unwraps (decrypt, decapsulate) go through the provider's unwrap cache
 * (docs/PROVIDER.md, "Unwrap cache"). This ctx param (unsigned integer,
 * milliseconds) is the oldest DEK the call accepts: an entry the key's
 * home confirmed longer ago is not used (the home is asked), and an entry
 * the call makes lives no longer than that. It can only shorten the
 * configured cache-ttl, never extend it; 0 bypasses the cache for the call
 * (the key's home is asked, nothing is kept). */
#define ENVELOPE_PKEY_PARAM_CACHE_TTL "envelope-cache-ttl-ms"
/* Unwraps with a KEK the configuration lists as retired
 * (kek.NAME.retired, docs/PROVIDER.md "KEK aliases and rotation") are
 * refused (ENVELOPE_PROV_R_POLICY_REFUSED) unless this ctx param (int) is 1;
 * every unwrap allowed by it is logged (syslog, LOG_AUTHPRIV warning). */
#define ENVELOPE_PKEY_PARAM_ALLOW_RETIRED "envelope-allow-retired"
/* Encapsulate with DEK reuse (ctx param, int): 1 lets this encapsulate
 * return the secret and wrapped blob of an earlier one with the same key
 * and "aad", within a window the configuration allows (dek-reuse-messages,
 * dek-reuse-seconds: docs/PROVIDER.md, "DEK reuse"); without those
 * settings it does nothing. Only for callers that derive a fresh key per
 * message from the secret (libenvelope does): a reused secret is the same
 * key for every message of its window. */
#define ENVELOPE_PKEY_PARAM_DEK_REUSE "envelope-dek-reuse"
#define ENVELOPE_MAX_AAD 1024
/* Largest payload an AEAD wrap accepts (a DEK is 32 bytes). */
#define ENVELOPE_MAX_WRAP_PLAINTEXT 64

/* Key params (gettable with EVP_PKEY_get_*_param). */
/* utf8 string: the key's URI with every secret and module path removed. */
#define ENVELOPE_PKEY_PARAM_URI "envelope-uri"
/* octet string: a stable id of the key (PKCS#11 CKA_ID, TPM name, ...). */
#define ENVELOPE_PKEY_PARAM_KEY_ID "envelope-key-id"

/*
 * STORE ctx param (int, 1 = yes): the URI was read from a message, not named
 * by the caller. Pass it to OSSL_STORE_open_ex's params. The provider then
 * opens only keys on the tokens listed in pkcs11-tokens and the TPM handles
 * listed in tpm2-handles, refuses PIN and module attributes, tpm2:file= and
 * anything else a message must not choose, and fails with
 * ENVELOPE_PROV_R_REFERENCE_NOT_ALLOWED before any login, TPM command or key
 * use (docs/PROVIDER.md, "References from messages"). The search itself happens
 * at the first OSSL_STORE_load/OSSL_STORE_eof, after this param is set.
 */
#define ENVELOPE_STORE_PARAM_FROM_MESSAGE "envelope-from-message"

/*
 * `envelope kek check` (envelope_kek_check): the provider serves, for every
 * backend that can judge its keys, a STORE named SCHEME + this suffix
 * ("pkcs11-check:token=prod", "tpm2-check:handle=0x81000101"). It reads
 * each key the URI names without using it (keys the provider would refuse
 * as KEKs are reported, not refused) and returns one OSSL_STORE_INFO_NAME
 * per KEK (or per key home with a weakness of its own, e.g. a token that
 * asks for no PIN): the name is its reference (no secrets), the
 * description is text of lines separated by '\n': first the kind
 * ("aes-256", "rsa-2048", "ec-p256", "token", ...), then one line per
 * finding, "CODE\tDETAIL", CODE one of the stable names in docs/envelope.1
 * ([a-z0-9-]), DETAIL a sentence with no control characters. No finding
 * line: nothing weaker than what `envelope kek create` makes. A search that
 * fails fails OSSL_STORE_open with the backend's reason.
 */
#define ENVELOPE_CHECK_STORE_SUFFIX "-check"
#define ENVELOPE_MAX_CHECK_URI 1024 /* bytes of the URI a check STORE takes */

/* KEYMGMT gen params for creating KEKs through EVP_PKEY_generate. */
#define ENVELOPE_GEN_PARAM_URI "envelope-uri" /* where to create it */
#define ENVELOPE_GEN_PARAM_BITS "bits"        /* RSA modulus size */

/* Error reasons (stable): ERR_GET_REASON() of an error whose library name
 * (ERR_lib_error_string) is "envelope". The message next to each error says
 * the specifics; these say what kind of failure it is. */
#define ENVELOPE_PROV_R_INTERNAL 1
#define ENVELOPE_PROV_R_BAD_ARGUMENT 2 /* caller error: a parameter is wrong */
#define ENVELOPE_PROV_R_BAD_CONFIG 3   /* openssl.cnf section is wrong */
#define ENVELOPE_PROV_R_BAD_URI 4
#define ENVELOPE_PROV_R_OBJECT_NOT_FOUND 5
#define ENVELOPE_PROV_R_PIN_INCORRECT 6
#define ENVELOPE_PROV_R_PIN_LOCKED 7
#define ENVELOPE_PROV_R_PIN_MISSING 8
#define ENVELOPE_PROV_R_TOKEN_NOT_PRESENT 9
#define ENVELOPE_PROV_R_MECHANISM_NOT_SUPPORTED 10
#define ENVELOPE_PROV_R_AUTHENTICATION_FAILED 11 /* tag, AAD or padding check failed */
#define ENVELOPE_PROV_R_BACKEND_UNAVAILABLE 12   /* retryable: device or KMS unreachable */
#define ENVELOPE_PROV_R_BACKEND_ERROR 13         /* the device said no, for another reason */
#define ENVELOPE_PROV_R_POLICY_REFUSED 14        /* refused by our configuration */
#define ENVELOPE_PROV_R_KEY_NOT_SAFE 15          /* e.g. an extractable key offered as KEK */
#define ENVELOPE_PROV_R_BAD_BLOB 16              /* wrapped blob malformed or unknown version */
#define ENVELOPE_PROV_R_NOT_SUPPORTED 17         /* operation not offered for this key */
#define ENVELOPE_PROV_R_BUFFER_TOO_SMALL 18
#define ENVELOPE_PROV_R_PCR_POLICY_NOT_SATISFIED 19
#define ENVELOPE_PROV_R_ACCESS_DENIED 20 /* the backend denied this identity */
/* A reference read from a message names a token or TPM handle the provider
 * configuration does not let a message name (pkcs11-tokens, tpm2-handles):
 * no PIN was offered and no key used. Not an error of the message or of the backend. */
#define ENVELOPE_PROV_R_REFERENCE_NOT_ALLOWED 21
/* No token this process has seen matches the reference: a wrong token= or
 * pkcs11-module (configuration), not an outage. A token that was present
 * earlier in the process and has gone is ENVELOPE_PROV_R_TOKEN_NOT_PRESENT. */
#define ENVELOPE_PROV_R_TOKEN_UNKNOWN 22
/* The KEK is listed as retired (kek.NAME.retired) and the caller did not
 * pass ENVELOPE_PKEY_PARAM_ALLOW_RETIRED: the operator's rotation policy. */
#define ENVELOPE_PROV_R_KEK_RETIRED 23
/* The audit sink (audit-log) is known broken and audit-failure = refuse:
 * no key is released or wrapped until a line can be written (docs/AUDIT.md). */
#define ENVELOPE_PROV_R_AUDIT_UNAVAILABLE 24
/* The KEK's unwrap rate is over its unwrap-alarm threshold and
 * unwrap-alarm-action = refuse: unwraps fail until the rate falls below it. */
#define ENVELOPE_PROV_R_UNWRAP_ALARM 25

/* Provider parameter (OSSL_PROVIDER_get_params, utf8 pointer): why the
 * provider's openssl.cnf section is refused (an unknown setting, a value it
 * cannot read), or "" when it is fine. While it is not "", the provider
 * shows itself inactive and every key operation fails with that message. */
#define ENVELOPE_PROV_PARAM_CONFIG_ERROR "envelope-config-error"

/* Provider parameter (utf8 pointer): the kek-preference setting as written
 * ("" if unset), the order in which libenvelope tries a message's EDKs:
 * comma-separated URIs whose attributes an EDK's reference must have
 * ("pkcs11:token=prod, tpm2:"); EDKs that match none come last. */
#define ENVELOPE_PROV_PARAM_KEK_PREFERENCE "envelope-kek-preference"

/* Provider parameters (utf8 pointers, "" if unset): the DEK reuse settings
 * as written, for libenvelope (docs/PROVIDER.md, "DEK reuse"). */
#define ENVELOPE_PROV_PARAM_DEK_REUSE_MESSAGES "envelope-dek-reuse-messages"
#define ENVELOPE_PROV_PARAM_DEK_REUSE_BYTES "envelope-dek-reuse-bytes"
#define ENVELOPE_PROV_PARAM_DEK_REUSE_SECONDS "envelope-dek-reuse-seconds"
#define ENVELOPE_PROV_PARAM_DEK_PARTITION_KEY "envelope-dek-partition-key"

/* Provider parameters (OSSL_PROVIDER_get_params, uint64): the unwrap
 * cache's counters since the provider was loaded (or since fork, in a
 * child), all 0 when the cache is off (cache-ttl = 0). */
#define ENVELOPE_PROV_PARAM_CACHE_HITS "envelope-cache-hits"
#define ENVELOPE_PROV_PARAM_CACHE_MISSES "envelope-cache-misses"
#define ENVELOPE_PROV_PARAM_CACHE_JOINS "envelope-cache-joins" /* single-flight waits */
#define ENVELOPE_PROV_PARAM_CACHE_REFRESHES "envelope-cache-refreshes"
#define ENVELOPE_PROV_PARAM_CACHE_REFRESH_FAILURES "envelope-cache-refresh-failures"
#define ENVELOPE_PROV_PARAM_CACHE_EVICTIONS "envelope-cache-evictions"
#define ENVELOPE_PROV_PARAM_CACHE_EXPIRATIONS "envelope-cache-expirations"
#define ENVELOPE_PROV_PARAM_CACHE_BACKEND_CALLS "envelope-cache-backend-calls"
#define ENVELOPE_PROV_PARAM_CACHE_BACKEND_ERRORS "envelope-cache-backend-errors"
#define ENVELOPE_PROV_PARAM_CACHE_ENTRIES "envelope-cache-entries"
/* uint64: encapsulations answered from a DEK reuse window, and windows
 * started (one backend wrap each). */
#define ENVELOPE_PROV_PARAM_KEM_REUSED "envelope-kem-reused"
#define ENVELOPE_PROV_PARAM_KEM_REUSE_WINDOWS "envelope-kem-reuse-windows"

#endif
