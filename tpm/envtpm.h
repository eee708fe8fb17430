/*
 * envtpm.h - the TPM 2.0 backend of the envelope provider (tpm2-tss ESYS).
 *
 * Contract:
 *  - An envtpm_ctx is one connection to one TPM (a TCTI), created lazily on
 *    first use, with one lock around the ESYS context: every function here is
 *    thread-safe. After fork() the child opens its own connection (detected
 *    with getpid()); the parent's session is never used by the child.
 *  - Every TPM command is authorised or protected by a salted HMAC session
 *    bound to the SRK (0x81000001) with response parameter encryption
 *    (TPM 2.0 Part 1 §19.6 and §21): Z points and decrypted DEKs never cross
 *    the bus in clear. The session is started once, reused, and
 *    re-established (with one retry of the operation) after a TPM reset or a
 *    lost connection.
 *  - KEKs are decrypt-only ECC P-256 (ECDH) or RSA-2048 (OAEP-SHA256) keys
 *    under the SRK, fixedTPM|fixedParent|sensitiveDataOrigin, optionally
 *    with an auth value and/or a PCR policy. URIs: docs/TPM.md.
 *  - Functions return ENVCORE_R_OK (0) or an envprov_reason, and have raised
 *    the error (envcore_raise) with a message that names no secret.
 *  - No transient object outlives a call: what is loaded is flushed
 *    (swtpm without a resource manager has three object slots).
 */
#ifndef ENVELOPE_TPM_ENVTPM_H
#define ENVELOPE_TPM_ENVTPM_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

#include "backend.h"

#define ENVTPM_WARN_UNUSED __attribute__((warn_unused_result))

struct envtpm_ctx;
struct envtpm_key;
struct envkey;

/* The conventional SRK handle (TCG TPM v2.0 Provisioning Guidance §7.8). */
#define ENVTPM_SRK_HANDLE 0x81000001u
/* Environment variable that overrides the configured TCTI (for tests). */
#define ENVTPM_TCTI_ENV "ENVELOPE_TPM2_TCTI"
#define ENVTPM_DEFAULT_TCTI "device:/dev/tpmrm0"
/* Auth values are at most one SHA-256 digest long (Part 1 §19.6.12). */
#define ENVTPM_MAX_AUTH 32
/* A persistent KEK URI is at most this long (without secrets). */
#define ENVTPM_MAX_URI 4096

struct envtpm_handle_list;

typedef struct envtpm_config {
    const char *tcti;         /* NULL: ENVELOPE_TPM2_TCTI, else device:/dev/tpmrm0 */
    const char *srk_name_hex; /* NULL: not pinned; else the SRK's name (hex) */
    const char *pin_source;   /* tpm2-pin-source: offered only through `handles` */
    OSSL_LIB_CTX *libctx;     /* for the public keys (EVP_PKEY); NULL = default */
    /* tpm2-handles, parsed: the only keys a configured auth value is
     * offered to and a message may name. Not copied: must outlive the ctx. */
    const struct envtpm_handle_list *handles;
} envtpm_config;

/*
 * Parses tpm2-handles (docs/TPM.md): entries are persistent handles
 * ("0x81000002") or "tpm2:handle=0x81000002;pin-source=SRC"; entries
 * without a pin-source get default_pin_source. NULL or "" is an empty list.
 * A malformed entry raises ENVCORE_R_BAD_CONFIG naming it. No TPM access.
 */
int envtpm_handle_list_parse(const char *conf, const char *default_pin_source,
                             struct envtpm_handle_list **out) ENVTPM_WARN_UNUSED;
void envtpm_handle_list_free(struct envtpm_handle_list *l);

/* Copies what it needs from cfg; opens nothing yet. */
int envtpm_ctx_new(const envtpm_config *cfg, struct envtpm_ctx **out) ENVTPM_WARN_UNUSED;
void envtpm_ctx_free(struct envtpm_ctx *t);
/* Connects now (TCTI, SRK check, session); useful to fail early. */
int envtpm_ctx_connect(struct envtpm_ctx *t) ENVTPM_WARN_UNUSED;
/* Name of the SRK in use (nameAlg || H(public)), after a connect. */
int envtpm_srk_name(struct envtpm_ctx *t, unsigned char *name, size_t *len,
                    size_t size) ENVTPM_WARN_UNUSED;
/* How many times the session/connection was re-established (for tests). */
unsigned envtpm_reconnects(struct envtpm_ctx *t);
/* How many salted sessions (salt made by us, tpm_session.c) the current
 * connection started (for tests). */
unsigned envtpm_salted_sessions(struct envtpm_ctx *t);
/* How many long-lived HMAC sessions the context started, over all its
 * connections, and how many commands the current one carried (for tests). */
unsigned envtpm_session_starts(struct envtpm_ctx *t);
unsigned long envtpm_session_commands(struct envtpm_ctx *t);

typedef enum {
    ENVTPM_KEY_EC_P256 = 1,
    ENVTPM_KEY_RSA_2048 = 2,
} envtpm_key_type;

typedef struct envtpm_create_params {
    envtpm_key_type type;
    const char *pcrs;       /* "sha256:0,7" or NULL for no PCR policy */
    const char *pin_source; /* "file:PATH" / "env:NAME": auth value, or NULL */
} envtpm_create_params;

/*
 * Creates a KEK under the SRK where `uri` says: tpm2:handle=0x81xxxxxx
 * persists it there (refused if the handle is taken), tpm2:file=PATH writes
 * a TSS2 PRIVATE KEY PEM file (refused if PATH exists).
 */
int envtpm_key_create(struct envtpm_ctx *t, const char *uri,
                      const envtpm_create_params *p) ENVTPM_WARN_UNUSED;

/* Opens a key by URI: reads its public part, checks its attributes. */
int envtpm_key_open(struct envtpm_ctx *t, const char *uri,
                    struct envtpm_key **out) ENVTPM_WARN_UNUSED;
/* flags for the _ex form: the URI was read from a message. Only handles
 * listed in tpm2-handles are opened; file=, pin-source= and unlisted
 * handles fail with ENVCORE_R_REFERENCE_NOT_ALLOWED before any TPM
 * command. */
#define ENVTPM_OPEN_FROM_MESSAGE 1u
int envtpm_key_open_ex(struct envtpm_ctx *t, const char *uri, unsigned flags,
                       struct envtpm_key **out) ENVTPM_WARN_UNUSED;
void envtpm_key_free(struct envtpm_key *k);
envtpm_key_type envtpm_key_get_type(const struct envtpm_key *k);
/* The public half (EC P-256 or RSA); owned by the key. */
EVP_PKEY *envtpm_key_public(const struct envtpm_key *k);
/* TPM name of the key (nameAlg || H(TPMT_PUBLIC)), the key id. */
const unsigned char *envtpm_key_name(const struct envtpm_key *k, size_t *len);
/* The URI without secrets (pin-source removed). */
const char *envtpm_key_uri(const struct envtpm_key *k);
int envtpm_key_bits(const struct envtpm_key *k);

/*
 * TPM2_ECDH_ZGen (Part 3 §14.5): z = x-coordinate of d*peer, 32 bytes.
 * peer is an uncompressed SEC1 point (65 bytes). CT: z is secret.
 */
int envtpm_ecdh_zgen(struct envtpm_key *k, const unsigned char *peer, size_t peerlen,
                     unsigned char *z, size_t *zlen, size_t zsize) ENVTPM_WARN_UNUSED;

/* 1 if the TPM can take this OAEP label (empty, or ending in its only 0). */
int envtpm_rsa_label_ok(const unsigned char *label, size_t len);
/*
 * TPM2_RSA_Decrypt (Part 3 §14.3) with OAEP-SHA256 (label as given, see
 * envtpm_rsa_label_ok). oaep == 0 (RSAES-PKCS1-v1_5) is always refused with
 * ENVCORE_R_MECHANISM_NOT_SUPPORTED, whatever the key's scheme: no padding
 * oracle. A padding failure is ENVCORE_R_AUTHENTICATION_FAILED and leaves
 * `out` zeroed.
 */
int envtpm_rsa_decrypt(struct envtpm_key *k, int oaep, const unsigned char *label, size_t labellen,
                       const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                       size_t outsize) ENVTPM_WARN_UNUSED;

/*
 * The owner's persistent keys (0x81000000-0x817FFFFF, not the SRK), for
 * listing: GetCapability and ReadPublic only - no auth value is offered to
 * any key, nothing counts against the DA lockout, no key is opened. cb is
 * called once per key (not under the TPM lock); it returns 0 to go on.
 */
typedef struct envtpm_list_entry {
    uint32_t handle;
    int usable;        /* passes the checks envtpm_key_open makes */
    int needs_pcrs;    /* authPolicy without userWithAuth: URI needs pcrs= */
    int envelope_made; /* public area is exactly envelope's template */
    char uri[64];      /* the URI to use (pcrs=BANK:LIST as a placeholder) */
    char desc[256];    /* kind, policy, userWithAuth/noDA, template, why unusable */
} envtpm_list_entry;
int envtpm_list(struct envtpm_ctx *t, int (*cb)(void *arg, const envtpm_list_entry *e),
                void *arg) ENVTPM_WARN_UNUSED;

/* `envelope kek check` (tpm_check.c): the weaknesses of the keys uri names
 * (tpm2:handle=, tpm2:file=, or "tpm2:" for every persistent key but the
 * SRK), read from their public areas (ReadPublic: no auth value offered,
 * nothing counted against the DA lockout), handed to cb. */
int envtpm_check(struct envtpm_ctx *t, const char *uri, envcore_check_cb *cb,
                 void *arg) ENVTPM_WARN_UNUSED;

/* Provider glue (tpm_backend.c): an envkey whose ops run in the TPM;
 * flags as for envtpm_key_open_ex. */
int envtpm_open_key(struct envtpm_ctx *t, const char *uri, unsigned flags,
                    struct envkey **out) ENVTPM_WARN_UNUSED;

#endif
