/*
 * tpm_int.h - internals of the TPM backend shared by its files. Not a
 * public header: the provider includes envtpm.h only.
 */
#ifndef ENVELOPE_TPM_INT_H
#define ENVELOPE_TPM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <openssl/err.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "envtpm.h"
#include "errors.h"

/* A name is nameAlg (2 bytes) || digest; we only create SHA-256 names. */
#define ENVTPM_MAX_NAME (2 + 64)

struct envtpm_ctx {
    pthread_mutex_t lock;                     /* recursive: an operation holds it across calls */
    _Atomic int pid;                          /* process the lock and connection belong to;
                           * -pid while that process resets them (fork) */
    char *tcti;                               /* effective TCTI string (env override applied) */
    char *pin_source;                         /* tpm2-pin-source, or NULL: only for messages, the
                           * sources offered are those of `handles` */
    const struct envtpm_handle_list *handles; /* tpm2-handles (not owned) */
    unsigned char srk_pin[ENVTPM_MAX_NAME];
    size_t srk_pin_len; /* 0 = SRK name not pinned */
    OSSL_LIB_CTX *libctx;

    TSS2_TCTI_CONTEXT *tcti_ctx; /* the loader's */
    struct envtpm_front *front;  /* ours in front of it, what ESYS uses */
    ESYS_CONTEXT *esys;
    /* after fork(): the parent's, never used, finalised or freed (tpm_ctx.c) */
    void *orphan_esys, *orphan_tcti, *orphan_front;
    ESYS_TR srk;                             /* persistent SRK, ESYS_TR_NONE until connected */
    TPMT_PUBLIC srk_pub;                     /* its checked public area: salts go to it */
    ESYS_TR session;                         /* salted HMAC session, response encryption:
                                              * started by ESYS, run by tpm_hsess.c (hs) */
    struct envtpm_hs *hs;                    /* its state (secmem), NULL until started */
    ESYS_TR aux;                             /* an ESYS-run salted session for the current
                                              * operation (envtpm_aux_session), or NONE */
    unsigned session_starts;                 /* long-lived sessions started (for tests) */
    unsigned char srk_name[ENVTPM_MAX_NAME]; /* of the first SRK accepted: kept */
    size_t srk_name_len;                     /* across reconnects, required on each (TOFU) */
    unsigned generation;                     /* bumps on every (re)connect: ESYS_TRs go stale */
    /* ESYS hands out one ESYS_TR per TPM handle: closing it for one key
     * would close it for all, so persistent handles are cached here, per
     * connection, and only dropped with it. */
    struct {
        uint32_t handle;
        ESYS_TR tr;
        unsigned char name[ENVTPM_MAX_NAME]; /* as the TPM reported it */
        size_t name_len;
    } trs[8];
    unsigned ntrs;
    unsigned reconnects;
    int poisoned; /* envtpm_ctx_poison: drop this connection */

    /* Auth values the TPM rejected, per key name, as keyed fingerprints
     * (envtpm_auth_fingerprint): never offered to that key again by this
     * process, since every failure counts towards the dictionary-attack
     * lockout of the whole TPM (Part 1 §19.8). Ring of the latest. */
    struct {
        unsigned char name[ENVTPM_MAX_NAME];
        size_t name_len;
        unsigned char fp[32];
    } rejected[16];
    unsigned nrejected;

    TSS2_RC last_rc; /* of the last failing Esys call, for retry decisions */
    const char *last_fn;
};

/* ---- tpm_esys.c: the one wrapper around every Esys_* call ------------- */

/* Takes the context lock (recursive) before the call. */
void envtpm_esys_begin(struct envtpm_ctx *t);
/* Logs the call and, on failure, the Tss2_RC_Decode text (debug log only);
 * records the rc for retry decisions; releases the lock taken by begin. */
TSS2_RC envtpm_esys_end(struct envtpm_ctx *t, const char *fn, TSS2_RC rc);
#define ENVTPM_CALL(t, name, expr) envtpm_esys_end((t), (name), (envtpm_esys_begin(t), (expr)))
#define ENVTPM_ESYS(t, fn, ...) ENVTPM_CALL((t), #fn, fn((t)->esys, __VA_ARGS__))

/* Wipes the response parameters of the last command in tss2's own buffer
 * (where ESYS decrypted them): call right after a command whose response
 * holds a secret, before any other command, and before Esys_Finalize. */
void envtpm_wipe_response(struct envtpm_ctx *t);
/* TPM 2.0 Part 2 §6.6: strips the parameter/handle/session number. */
TSS2_RC envtpm_rc_base(TSS2_RC rc);
/* Our reason for a TSS2_RC (coarse; callers refine by context). */
int envtpm_rc_reason(TSS2_RC rc);
/* 1 if re-opening the connection and session may cure rc. */
int envtpm_rc_retryable(TSS2_RC rc);
/* Raise `reason` for a failed call with a plain-words message. */
int envtpm_raise_rc(int reason, const char *what, TSS2_RC rc);

/* ---- tpm_ctx.c: connection, lock, fork, retry ------------------------- */

typedef int (*envtpm_op_fn)(struct envtpm_ctx *t, void *arg);
/* Runs op with the lock held on a connected context; if it fails with a
 * retryable TPM/TCTI code, reconnects once and runs it again (errors of the
 * first attempt are dropped with an error mark). */
int envtpm_run(struct envtpm_ctx *t, envtpm_op_fn op, void *arg);
/* With the lock held: this connection's ESYS state can no longer be trusted
 * (e.g. an auth value could not be reset); it is dropped when the current
 * operation ends and the next one connects afresh. */
void envtpm_ctx_poison(struct envtpm_ctx *t);

/* With the lock held: the ESYS_TR of a persistent handle (cached per
 * connection) and the object's name as read when it was looked up (*name
 * points into the cache). Returns the TSS2_RC of the lookup; never close
 * the result. */
TSS2_RC envtpm_tr_persistent(struct envtpm_ctx *t, uint32_t handle, ESYS_TR *tr,
                             const unsigned char **name, size_t *name_len);

/* ---- tpm_srk.c: SRK and sessions --------------------------------------- */

/* Finds (or creates) the SRK, checks the pinned name, starts the session. */
int envtpm_srk_setup(struct envtpm_ctx *t);
/* The SRK checks on what was read (no TPM call; unit-tested): `pub` and
 * `reported` are a TPM2_ReadPublic answer, handle_name the name of the
 * public area stored in the SRK's ESYS_TR (the key ESYS encrypts salts to).
 * pub must be a storage key whose computed name equals reported and
 * handle_name; handle_name must equal `expect` unless expect_len is 0
 * (`pinned` says whether expect is tpm2-srk-name or the TOFU name, for the
 * message). ENVCORE_R_OK or ENVCORE_R_KEY_NOT_SAFE (raised). */
int envtpm_srk_verify(const unsigned char *expect, size_t expect_len, int pinned,
                      const unsigned char *handle_name, size_t handle_len, const TPMT_PUBLIC *pub,
                      const TPM2B_NAME *reported) ENVTPM_WARN_UNUSED;
/* A salted policy session (for PCR-policy keys), response encryption on. */
int envtpm_policy_session(struct envtpm_ctx *t, TPM2_SE type, ESYS_TR *out);
/* Name of a public area: nameAlg || H(marshalled TPMT_PUBLIC). */
int envtpm_public_name(const TPMT_PUBLIC *pub, unsigned char *name, size_t *len);
/* The ECC P-256 storage key template (TCG Provisioning Guidance §7.5,
 * identical to `tpm2_createprimary -C o -G ecc`). */
void envtpm_srk_template(TPM2B_PUBLIC *tmpl);

/* ---- tpm_salt.c, tpm_session.c: salted sessions without ESYS's crypto --- */

/* An encrypted salt for tpmKey `pub` (ECC: ephemeral ECDH + KDFe; RSA:
 * OAEP-SHA-256, label "SECRET"; Part 1 §24.4) and the salt (32 bytes, last
 * byte never 0), with OpenSSL calls that no ENGINE can take over. */
int envtpm_salt_make(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *pub, TPM2B_ENCRYPTED_SECRET *enc,
                     TPM2B_AUTH *salt) ENVTPM_WARN_UNUSED;
/* KDFe (Part 1 §11.4.10.3) with SHA-256 and Use = "SECRET", one block. */
int envtpm_kdfe_sha256(OSSL_LIB_CTX *libctx, const unsigned char *z, size_t zlen,
                       const unsigned char *u, size_t ulen, const unsigned char *v, size_t vlen,
                       unsigned char out[32]);
/* RSAES-OAEP (RFC 8017 §7.1.1) with SHA-256/MGF1-SHA-256, label "SECRET\0";
 * out gets nlen bytes. 1 on success. */
int envtpm_oaep_sha256_encrypt(OSSL_LIB_CTX *libctx, const unsigned char *n, size_t nlen,
                               uint32_t e, const unsigned char *msg, size_t mlen,
                               unsigned char *out);

/* How one StartAuthSession of ours is rewritten on its way to the TPM. */
typedef struct {
    TPM2B_NONCE nonce;           /* our nonceCaller: marks the command as ours */
    uint32_t bind_esys;          /* the bind handle ESYS sends */
    uint32_t tpm_key, bind_wire; /* what the TPM gets */
    TPM2B_ENCRYPTED_SECRET salt; /* the encrypted salt it gets */
} envtpm_sas_rewrite;
/* Pure function (unit-tested): 0 = not our command (send as is), 1 = out
 * holds the rewritten one, -1 = ours but not what we asked for (refuse). */
int envtpm_sas_rewrite_cmd(const envtpm_sas_rewrite *rw, const uint8_t *cmd, size_t len,
                           uint8_t *out, size_t outsize, size_t *outlen);
struct envtpm_front *envtpm_front_new(TSS2_TCTI_CONTEXT *inner);
TSS2_TCTI_CONTEXT *envtpm_front_tcti(struct envtpm_front *f);
void envtpm_front_free(struct envtpm_front *f);
/* With the lock held, connected up to the SRK check: a session salted with
 * our salt to the SRK, ENCRYPT not yet set; on the wire bound to the SRK
 * (bind_srk) or unbound. */
int envtpm_start_salted(struct envtpm_ctx *t, TPM2_SE type, int bind_srk, ESYS_TR *out);
/* The same, also handing out the salt and our nonceCaller (for tpm_hsess.c;
 * the caller wipes the salt). */
int envtpm_start_salted_ex(struct envtpm_ctx *t, TPM2_SE type, int bind_srk, ESYS_TR *out,
                           TPM2B_AUTH *salt, TPM2B_NONCE *nonce_caller);
/* With the lock held: a salted HMAC session (response encryption) that ESYS
 * runs, for the commands tpm_hsess.c does not carry (lookups, ReadPublic,
 * Create); started on first need, flushed when the operation ends. */
int envtpm_aux_session(struct envtpm_ctx *t, ESYS_TR *out);

/* ---- tpm_hsess.c: the long-lived HMAC session, run by us --------------- */

struct envtpm_hs;
/* The entity authorised in handle 1 of a command. */
typedef struct {
    const unsigned char *name; /* its name (in cpHash) */
    size_t name_len;
    const unsigned char *auth; /* its auth value (HMAC key part), may be NULL */
    size_t auth_len;
} envtpm_hs_entity;
typedef TSS2_RC (*envtpm_hs_step)(TSS2_SYS_CONTEXT *sys, void *arg);
/* Session state for the session `handle` that StartAuthSession with our
 * salt and nonce_caller answered with nonce_tpm: derives the session key. */
int envtpm_hs_new(OSSL_LIB_CTX *libctx, TPM2_HANDLE handle, const TPM2B_AUTH *salt,
                  const TPM2B_NONCE *nonce_caller, const TPM2B_NONCE *nonce_tpm,
                  struct envtpm_hs **out);
void envtpm_hs_free(struct envtpm_hs *s);
/* With the lock held: one command (prepare = its Tss2_Sys_*_Prepare,
 * complete = its _Complete) authorising e in t's session, its first response
 * parameter decrypted and the response HMAC checked before complete runs. A
 * failure after the TPM answered poisons the connection. Returns the TPM's
 * or our TSS2_RC (TSS2_ESYS_RC_RSP_AUTH_FAILED for a response that does not
 * check). */
TSS2_RC envtpm_hs_call(struct envtpm_ctx *t, TPM2_CC cc, const envtpm_hs_entity *e,
                       envtpm_hs_step prepare, envtpm_hs_step complete, void *arg);
unsigned long envtpm_hs_commands(const struct envtpm_hs *s);

/* ---- tpm_uri.c ---------------------------------------------------------- */

typedef struct envtpm_uri {
    int has_handle;
    uint32_t handle;
    char *file;       /* malloc'd, or NULL */
    char *pcrs;       /* malloc'd, or NULL */
    char *pin_source; /* malloc'd, or NULL */
} envtpm_uri;

int envtpm_uri_parse(const char *uri, envtpm_uri *u) ENVTPM_WARN_UNUSED;
void envtpm_uri_clear(envtpm_uri *u);
/* The URI without pin-source, canonical form; malloc'd. */
char *envtpm_uri_public(const envtpm_uri *u);

/* ---- tpm_handles.c ----------------------------------------------------- */

/* 1 if handle is in tpm2-handles; *pin_source is then its source (or NULL). */
int envtpm_handle_listed(const struct envtpm_handle_list *l, uint32_t handle,
                         const char **pin_source);

/* ---- tpm_pcr.c ---------------------------------------------------------- */

/* "sha256:0,7" -> one-bank selection. */
int envtpm_pcrs_parse(const char *spec, TPML_PCR_SELECTION *sel) ENVTPM_WARN_UNUSED;
/* 1 if both select the same PCRs of the same banks, in the same order. */
int envtpm_pcrs_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b);

/* ---- tpm_pin.c ---------------------------------------------------------- */

/* Reads an auth value from "file:PATH" or "env:NAME" into secret memory
 * (*auth, envelope_secmem_free it). At most ENVTPM_MAX_AUTH bytes; one
 * trailing newline is dropped. */
int envtpm_pin_read(const char *source, unsigned char **auth, size_t *len) ENVTPM_WARN_UNUSED;
/* With the lock held: remember that the TPM rejected k's auth value, or
 * say (1) whether it did before. */
void envtpm_auth_rejected(struct envtpm_ctx *t, const struct envtpm_key *k);
int envtpm_auth_was_rejected(struct envtpm_ctx *t, const struct envtpm_key *k);

/* ---- tpm_keyfile.c: TSS2 PRIVATE KEY PEM -------------------------------- */

typedef struct envtpm_keyfile {
    int empty_auth;
    uint32_t parent;
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    int has_pcr_policy;      /* a TPM2_PolicyPCR entry */
    TPM2B_DIGEST pcr_digest; /* its pcrDigest (may be empty) */
    TPML_PCR_SELECTION pcrs;
    int policy_auth_value; /* a TPM2_PolicyAuthValue entry */
} envtpm_keyfile;

int envtpm_keyfile_read(const char *path, envtpm_keyfile *kf) ENVTPM_WARN_UNUSED;
/* Parses a PEM held in memory (the bounded reader the file path uses). */
int envtpm_keyfile_parse(const unsigned char *pem, size_t len,
                         envtpm_keyfile *kf) ENVTPM_WARN_UNUSED;
/* Writes with O_CREAT|O_EXCL, mode 0600. */
int envtpm_keyfile_write(const char *path, const envtpm_keyfile *kf) ENVTPM_WARN_UNUSED;

/* ---- tpm_pub.c: TPM2B_PUBLIC -> EVP_PKEY, attribute checks ------------- */

int envtpm_pub_to_pkey(OSSL_LIB_CTX *libctx, const TPMT_PUBLIC *pub,
                       EVP_PKEY **out) ENVTPM_WARN_UNUSED;
/* Refuses what is not a safe KEK (restricted, signing, duplicable...). */
int envtpm_pub_check_kek(const TPMT_PUBLIC *pub) ENVTPM_WARN_UNUSED;
/* KEK templates (Part 2 §12.2.4): decrypt-only, under a storage parent. */
void envtpm_kek_template(envtpm_key_type type, int with_policy, int with_auth, TPM2B_PUBLIC *tmpl);

/* ---- tpm_list.c ---------------------------------------------------------- */

/* Describes one persistent key from its public area (no TPM call). */
void envtpm_list_describe(uint32_t handle, const TPMT_PUBLIC *p, envtpm_list_entry *e);

/* ---- tpm_check.c --------------------------------------------------------- */

/* The findings of one public area against envelope's template (no TPM
 * call). */
void envtpm_check_public(const TPMT_PUBLIC *p, envcore_findings *f);

/* ---- tpm_key.c ---------------------------------------------------------- */

struct envtpm_key {
    struct envtpm_ctx *t;
    envtpm_key_type type;
    int persistent;
    uint32_t handle;
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv; /* for file keys */
    unsigned char name[ENVTPM_MAX_NAME];
    size_t name_len;
    char *uri;
    EVP_PKEY *pkey;
    int bits;

    int use_policy; /* authorise with a policy session */
    TPML_PCR_SELECTION pcrs;
    TPM2B_DIGEST pcr_digest; /* empty: "current values" */
    int policy_auth_value;
    unsigned char *auth; /* secret memory, or NULL for empty */
    size_t auth_len;
};

/* With the lock held: an ESYS_TR for the key's object, loaded if it is a file
 * key (*flush = 1 then: flush it with envtpm_key_release). */
int envtpm_key_acquire(struct envtpm_ctx *t, struct envtpm_key *k, ESYS_TR *tr, int *flush);
void envtpm_key_release(struct envtpm_ctx *t, ESYS_TR tr, int flush);
/* Sets up authorisation for one use of the key: *policy = 0: use the shared
 * HMAC session (envtpm_hs_call with envtpm_key_entity); *policy = 1:
 * *session is a fresh policy session for ESYS that the caller flushes with
 * envtpm_flush. */
int envtpm_key_authorize(struct envtpm_ctx *t, struct envtpm_key *k, ESYS_TR tr, ESYS_TR *session,
                         int *policy);
void envtpm_flush(struct envtpm_ctx *t, ESYS_TR handle);
/* The key as the entity of an HMAC-session command: its TPM handle (of tr,
 * from envtpm_key_acquire), name and auth value. */
int envtpm_key_entity(struct envtpm_ctx *t, const struct envtpm_key *k, ESYS_TR tr,
                      TPM2_HANDLE *handle, envtpm_hs_entity *e);

#endif
