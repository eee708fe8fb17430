/*
 * hsm_internal.h - structures shared by the files of the PKCS#11 client.
 *
 * Locking: hsm_ctx.lock guards module load/re-init and the token lists;
 * hsm_token.lock guards that token's session pool, login state and
 * mechanism cache. Lock order: ctx before token. No lock is held across a
 * user callback.
 */
#ifndef ENVELOPE_HSM_INTERNAL_H
#define ENVELOPE_HSM_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/err.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm.h"
#include "rsa_forms.h"

#define HSM_MAX_MODULES 8
#define HSM_MAX_POOL 16   /* idle sessions kept per token */
#define HSM_MAX_ID 64     /* bytes of CKA_ID we accept */
#define HSM_MAX_LABEL 128 /* bytes of CKA_LABEL we accept */

struct hsm_module;

struct hsm_token {
    struct hsm_module *mod;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    CK_SLOT_INFO slot_info;
    char label[33]; /* CKA token label, trailing blanks removed */
    pthread_mutex_t lock;
    CK_SESSION_HANDLE pool[HSM_MAX_POOL];
    size_t npool;
    size_t nopen;             /* sessions open on the token (pooled or in use) */
    unsigned epoch;           /* bumped when object handles may have changed */
    unsigned pool_generation; /* module generation the pool belongs to */
    int logged_in;
    unsigned login_generation;
    char *pin; /* secmem, NULL until first login */
    /* The pkcs11-tokens entry this token matches (NULL: not listed) and the
     * PIN source bound to it (the entry's, or pkcs11-pin-source), refreshed
     * with the token info. An unlisted token gets no configured PIN and a
     * message cannot name it. */
    const struct hsm_token_binding *binding;
    const char *default_pin_source;
    const struct hsm_token_list *tokens; /* the ctx's pkcs11-tokens, to bind again */
    /* A PIN the token rejected is never offered again by us: tokens count
     * failures and lock. We keep an HMAC of it under a per-process key held
     * in locked memory (hsm_pin_fingerprint), never the PIN. */
    unsigned char bad_pin_hash[32];
    int have_bad_pin;
    /* mechanism capabilities */
    int mech_probed;
    int has_gcm, has_rsa_pkcs, has_rsa_oaep;
    envcore_rsa_forms oaep_accepted; /* OAEP forms C_DecryptInit accepts (not: honours) */
    struct hsm_token *next;
};

struct hsm_module {
    char *path;
    CK_FUNCTION_LIST *fl;
    CK_INFO info;          /* C_GetInfo, for library-* URI attributes */
    int initialized_by_us; /* we called C_Initialize and own C_Finalize */
    int finalized;
    int lost;            /* answered CKR_CRYPTOKI_NOT_INITIALIZED: re-initialise */
    int atfork_after;    /* the fork gate's handlers registered after its C_Initialize */
    pid_t pid;           /* process that initialised it */
    unsigned generation; /* bumped on every (re-)initialisation */
    void *diag;          /* "Vendor envelope" last-error getter, or NULL (hsm_diag.c) */
    struct hsm_token *tokens;
};

struct hsm_ctx {
    pthread_mutex_t lock;
    char *modules_conf;
    char *pin_source; /* pkcs11-pin-source, for messages only: bound via tokens */
    const struct hsm_token_list *tokens;
    OSSL_LIB_CTX *swctx; /* where public halves are built */
    int allow_extractable;
    struct hsm_module mods[HSM_MAX_MODULES];
    size_t nmods;
    int loaded;
    struct hsm_ctx *next_live; /* global list walked by the exit handler */
};

/* The backend handle of one PKCS#11 key (envkey.be). */
struct hsm_key {
    struct hsm_ctx *h;
    struct hsm_token *tok;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE ktype;
    unsigned char id[HSM_MAX_ID];
    size_t id_len;
    char label[HSM_MAX_LABEL + 1];
    size_t mod_bytes; /* RSA modulus length in bytes */
    int kms_aead;     /* AES key offering CKM_ENVELOPE_KMS_AEAD (hsm_kms_aead.c) */
    CK_OBJECT_HANDLE handle;
    unsigned handle_generation; /* module generation the handle is from */
    unsigned handle_epoch;      /* token epoch the handle is from */
    pthread_mutex_t lock;       /* guards handle re-lookup */
};

/* hsm_keyops.c: an op's session and object handle; whether a failed call
 * is worth one more try (after putting right what rv says went away). */
int hsm_op_begin(struct hsm_key *k, CK_SESSION_HANDLE *s, CK_OBJECT_HANDLE *obj);
int hsm_op_should_retry(struct hsm_key *k, CK_RV rv);

/* hsm_kms_aead.c: a cloud KMS key's opaque wrap (envkey ops, kind 4). */
int hsm_kms_aead_opaque(void *be);
int hsm_kms_aead_encrypt(void *be, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                         size_t inlen, unsigned char *out, size_t *outlen, size_t outsize);
int hsm_kms_aead_decrypt(void *be, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                         size_t inlen, unsigned char *out, size_t *outlen, size_t outsize);
/* 1 if the AES key obj lists CKM_ENVELOPE_KMS_AEAD in CKA_ALLOWED_MECHANISMS. */
int hsm_kms_aead_offered(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj);

/* hsm_wrapcount.c: one more wrap under AES KEK k, counted on its token
 * (docs/SECURITY.md "Nonces"); ENVCORE_R_POLICY_REFUSED (raised) once it
 * has made 2^32. */
int hsm_wrap_count(struct hsm_key *k);

/* hsm_call.c: the one wrapper every C_* call goes through. */
CK_RV hsm_rv(const struct hsm_module *mod, const char *fn, CK_RV rv);
/* The error mark keeps a module's own OpenSSL errors (SoftHSM2 uses
 * libcrypto and our thread's error queue) off the caller's queue. */
#define P11(mod, fn, ...) (ERR_set_mark(), hsm_rv((mod), #fn, (mod)->fl->fn(__VA_ARGS__)))
/* The same for a run of calls inside one mark the caller sets and pops
 * (ERR_set_mark() ... ERR_pop_to_mark()), with nothing of ours raised in
 * between: each mark and pop looks up the thread's error state, ≈ 180
 * instructions, a visible share of an AES unwrap (bench/README.md). */
CK_RV hsm_rv_marked(const struct hsm_module *mod, const char *fn, CK_RV rv);
#define P11_IN_MARK(mod, fn, ...) hsm_rv_marked((mod), #fn, (mod)->fl->fn(__VA_ARGS__))

/* hsm_diag.c: a module's reason text for a failed call (vendor interface). */
void hsm_diag_attach(struct hsm_module *m);                 /* after loading m */
void hsm_diag_record(const struct hsm_module *m, CK_RV rv); /* after a failed call */
const char *hsm_diag_text(CK_RV rv);                        /* this thread's, if rv matches */
/* Map a return value to our reason and raise it with `what` as context. */
int hsm_raise_rv(CK_RV rv, const char *what, const char *token, const char *object);
const char *hsm_rv_name(CK_RV rv);

/* hsm_fork.c: every entry point of this layer runs between these two, so
 * that no thread is inside it (holding a lock) when the process forks. */
void hsm_gate_enter(void);
void hsm_gate_leave(void);
/* After a module's first C_Initialize: the gate's fork handlers once more,
 * so that its prepare runs before any the module registered (hsm_fork.c). */
void hsm_gate_atfork_again(void);

/* hsm_module.c */
int hsm_ensure_loaded(struct hsm_ctx *h); /* loads, initialises, re-inits after fork */
int hsm_process_exiting(void);
/* The module answered CKR_CRYPTOKI_NOT_INITIALIZED (someone finalised it):
 * the next hsm_ensure_loaded initialises it again. */
void hsm_module_lost(struct hsm_ctx *h, struct hsm_module *m);

/* hsm_session.c */
int hsm_session_get(struct hsm_token *t, const char *uri_pin_source, const char *uri_pin_value,
                    CK_SESSION_HANDLE *out);
/* The same, also giving the token's handle epoch read under the same lock
 * (for hsm_key_handle_at: one lock fewer per key operation). */
int hsm_session_get_epoch(struct hsm_token *t, CK_SESSION_HANDLE *out, unsigned *epoch);
/* What to do with a session after use. */
enum hsm_session_fate {
    HSM_SESSION_KEEP = 0,    /* healthy: back into the pool */
    HSM_SESSION_GONE = 1,    /* the device says it no longer exists */
    HSM_SESSION_DISCARD = 2, /* may hold an unfinished operation: close it */
};
void hsm_session_put(struct hsm_token *t, CK_SESSION_HANDLE s, enum hsm_session_fate fate);
/* The fate a session deserves after an operation returned rv. */
enum hsm_session_fate hsm_session_fate_of(CK_RV rv);
int hsm_token_login(struct hsm_token *t, CK_SESSION_HANDLE s, const char *uri_pin_source,
                    const char *uri_pin_value);
void hsm_token_drop_sessions(struct hsm_token *t);
int hsm_session_rv_is_broken(CK_RV rv);

/* hsm_tokens.c: the pkcs11-tokens list (hsm.h) */
struct hsm_token_binding;
const struct hsm_token_binding *hsm_token_list_match(const struct hsm_token_list *l,
                                                     const CK_TOKEN_INFO *info);
const char *hsm_token_binding_pin_source(const struct hsm_token_binding *b);
int hsm_token_list_empty(const struct hsm_token_list *l);
/* For a URI that matched no present token: 1 if it names a listed token
 * whose entry no present token matches (`present`: the bindings of the
 * tokens present), i.e. a configured token that is gone. */
int hsm_token_list_names_absent(const struct hsm_token_list *l, P11KitUri *uri,
                                const struct hsm_token_binding *const *present, size_t npresent);
/* 1 if the URI has slot-id, slot-* or library-* attributes. */
int hsm_uri_names_slot_or_library(P11KitUri *uri);

/* hsm_uri.c */
int hsm_uri_parse(const char *uri, P11KitUri **out);
/* The URI with only token identity and object attributes, no secrets or
 * module paths (for ENVELOPE_PKEY_PARAM_URI and audit). Caller frees. */
char *hsm_uri_canonical(const struct hsm_token *t, const char *label, const unsigned char *id,
                        size_t id_len, CK_OBJECT_CLASS cls);

/* hsm_find.c: does this module / token match every attribute of the URI
 * (module-path/-name, library-*, slot-id, slot-*, token-*)? */
int hsm_module_matches(const struct hsm_module *m, P11KitUri *p);
int hsm_token_matches(const struct hsm_token *t, P11KitUri *p);
/* Refresh the module's token list. Called with h->lock held. */
void hsm_refresh_tokens(struct hsm_ctx *h, struct hsm_module *m);

/* hsm_mech.c */
void hsm_token_probe_mechanisms(struct hsm_token *t, CK_SESSION_HANDLE s);

/* hsm_attrs.c: an object's attributes, read by table in one call. */
#define HSM_ATTR_ABSENT ((CK_ULONG)-1) /* CK_UNAVAILABLE_INFORMATION */
#define HSM_MAX_ATTRS 8
typedef struct {
    CK_ATTRIBUTE_TYPE type;
    const char *name; /* for messages: "CKA_ID" */
    void *buf;        /* where the value goes */
    CK_ULONG size;    /* room in buf */
    int required;     /* absent: an error (else len is HSM_ATTR_ABSENT) */
    CK_ULONG len;     /* out: the value's length, or HSM_ATTR_ABSENT */
} hsm_attr;
#define HSM_ATTR(t, var, req)                                                                      \
    {                                                                                              \
        t, #t, &(var), sizeof(var), (req), 0                                                       \
    }
#define HSM_ATTR_BUF(t, buf, size, req)                                                            \
    {                                                                                              \
        t, #t, (buf), (size), (req), 0                                                             \
    }
/* ENVCORE_R_OK, or a reason raised naming `what`, the token and `label`
 * (an attribute longer than its buffer, or a required one absent). */
int hsm_attrs_read(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, hsm_attr *a,
                   size_t n, const char *what, const char *label);

/* hsm_keyops.c */
extern const envkey_backend_ops hsm_key_ops;
envkey *hsm_key_wrap(struct hsm_ctx *h, struct hsm_token *t, CK_SESSION_HANDLE s,
                     CK_OBJECT_HANDLE obj, int *reason);
/* The key's object handle, found again when the token epoch (as read by
 * hsm_session_get_epoch with the session) or the module generation moved. */
int hsm_key_handle_at(struct hsm_key *k, CK_SESSION_HANDLE s, unsigned epoch,
                      CK_OBJECT_HANDLE *out);

/* hsm_check.c (`envelope kek check`): the findings of one key (pub: its
 * paired public object, or CK_INVALID_HANDLE), handed to cb; *reported
 * counts the entries made. hsm_check_token reports a token that asks for
 * no PIN; *usable 0 if no login is possible on it (nothing else to read). */
int hsm_check_object(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_OBJECT_HANDLE pub, envcore_check_cb *cb, void *arg, int *reported);
int hsm_check_token(struct hsm_token *t, envcore_check_cb *cb, void *arg, int *usable);

/* small helpers */
void hsm_trim_label(char *dst, const unsigned char *src, size_t n);

#endif
