/*
 * kms_module.h - PKCS#11 module state shared by the p11_*.c entry points.
 *
 * One global module (PKCS#11 2.40 §5.4: a library is initialised once per
 * process). Slots are the configured KMSs, in config order (slot id = index).
 * Sessions and objects live in fixed tables. A handle is
 * generation << KMS_HANDLE_INDEX_BITS | (index + 1): 0 is never valid
 * (CK_INVALID_HANDLE), and freeing an entry bumps its generation, so a
 * closed session's or destroyed object's handle never comes to name the
 * next session or key put in that entry (an EncryptInit on a destroyed key
 * must not wrap under its successor). g_kms.lock guards the tables and is never
 * held across network I/O: entry points copy what they need, unlock, call
 * the KMS, and lock again to store results.
 *
 * Object handles are stable for the life of the module: the same KMIP key
 * (slot, Unique Identifier) always gets the same handle until it is
 * destroyed through this module.
 *
 * Fork: a pthread_atfork child handler re-creates the locks (another thread
 * of the parent may have held one at the fork); the child must still call
 * C_Initialize (§5.4), which drops the parent's state.
 *
 * Where it lives: g_kms and its life cycle in p11_initialize.c, the tables
 * and handles in p11_handle_tables.c, the entry points in the other p11_*.c
 * files, the function list in p11_functions.c.
 */
#ifndef KMS_MODULE_H
#define KMS_MODULE_H

#include <pthread.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "kmip.h"
#include "kms_config.h"
#include "kms_pool.h"

#define KMS_MAX_SESSIONS 1024
#define KMS_MAX_OBJECTS 4096
#define KMS_GCM_IV_LEN 12        /* NIST SP 800-38D §8.2: 96-bit IVs */
#define KMS_HANDLE_INDEX_BITS 13 /* index + 1 <= 4096 < 2^13 */

enum { KMS_OP_NONE = 0, KMS_OP_ENCRYPT, KMS_OP_DECRYPT };

typedef struct {
    int used;
    CK_SLOT_ID slot;
    char uid[KMIP_MAX_UID + 1];
    char label[KMIP_MAX_NAME + 1];
    CK_ULONG value_len; /* bytes */
    uint32_t state;     /* KMIP State (§3.22) as last seen */
    /* KMIP Cryptographic Usage Mask (§3.19) as last seen, shown as the
     * vendor attribute ENVELOPE_KMS_CKA_USAGE_MASK; -1 if the KMS gave none */
    int64_t usage_mask;
    /* aws-kms slots (p11_aws.h): what the object is, and for RSA the
     * public key (DER SubjectPublicKeyInfo from GetPublicKey, malloc'd) */
    int aws_kind;
    unsigned char *pub_der;
    size_t pub_der_len;
} kms_object;

typedef struct {
    int used;
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    /* FindObjects state */
    int finding;
    CK_OBJECT_HANDLE *found; /* malloc'd, n_found entries */
    size_t n_found, next_found;
    /* Encrypt/Decrypt state (PKCS#11 2.40 §5.8: one operation at a time) */
    int op;
    CK_OBJECT_HANDLE key;
    char uid[KMIP_MAX_UID + 1]; /* the key's Unique Identifier at Init */
    unsigned char iv[KMS_GCM_IV_LEN];
    unsigned char *aad; /* OPENSSL_malloc'd, aad_n bytes, wiped when freed */
    size_t aad_n;
    int aws_alg;          /* aws-kms: the operation's algorithm (p11_aws.h) */
    CK_ULONG aws_out_max; /* aws-kms: the most output the operation can make */
} kms_session;

typedef struct {
    int initialized;
    pid_t pid;
    pthread_mutex_t lock;
    kms_config cfg;
    kms_slot slots[KMS_MAX_SLOTS];
    int needs_login[KMS_MAX_SLOTS]; /* client key is encrypted: C_Login gives it */
    int logged_in[KMS_MAX_SLOTS];
    kms_session sessions[KMS_MAX_SESSIONS];
    kms_object objects[KMS_MAX_OBJECTS];
    /* Handle generations; kept across C_Finalize, so that no handle of a
     * previous initialisation becomes valid again either. */
    CK_ULONG session_gen[KMS_MAX_SESSIONS];
    CK_ULONG object_gen[KMS_MAX_OBJECTS];
} kms_module;

extern kms_module g_kms;

/* 1 if C_Initialize succeeded in this very process (not in a parent before
 * a fork). Every entry point but C_Initialize/C_Finalize checks it. */
int kms_module_ready(void);

/* Under g_kms.lock: the session for h, or NULL. Checks initialisation. */
kms_session *kms_session_get(CK_SESSION_HANDLE h);
/* Under the lock: the handle of session table entry s. */
CK_SESSION_HANDLE kms_session_handle(const kms_session *s);
/* Under the lock: ends s's operation, frees the entry, retires its handle. */
void kms_session_free(kms_session *s);
/* Locks g_kms and returns the session (rv CKR_OK), or returns an error and
 * leaves the lock released. */
CK_RV kms_session_lock(CK_SESSION_HANDLE h, kms_session **out);
void kms_unlock(void);
/* Ends a FindObjects operation of s (frees its results). Under the lock. */
void kms_session_end_find(kms_session *s);
/* Ends any crypto operation of s (frees its AAD). Under the lock. */
void kms_session_end_op(kms_session *s);
/* Under the lock: the handle for (slot, uid), creating the entry; 0 if full. */
CK_OBJECT_HANDLE kms_object_intern(CK_SLOT_ID slot, const char *uid, const char *label,
                                   CK_ULONG value_len, uint32_t state, int64_t usage_mask);
/* The same for an aws-kms slot's object (p11_aws.h): keyed by (slot, ARN,
 * kind), pub copied. */
CK_OBJECT_HANDLE kms_object_intern_aws(CK_SLOT_ID slot, const char *arn, const char *label,
                                       int kind, CK_ULONG value_len, const unsigned char *pub,
                                       size_t pub_len);
kms_object *kms_object_get(CK_SLOT_ID slot, CK_OBJECT_HANDLE h);
/* Under the lock: frees the entry and retires its handle. */
void kms_object_forget(kms_object *o);
/* 1 if a key in KMIP State `state` may be offered for op (KMS_OP_ENCRYPT:
 * Active; KMS_OP_DECRYPT: Active or Deactivated); op 0: for either.
 * KMIP 1.4 §3.22: only an Active key encrypts; a Deactivated one still
 * decrypts what it protected. */
static inline int kms_state_allows(uint32_t state, int op)
{
    if (state == KMIP_STATE_ACTIVE)
        return 1;
    return state == KMIP_STATE_DEACTIVATED && op != KMS_OP_ENCRYPT;
}

/* Maps a bridge status and the server's result to a CK_RV (kms_errmap.c,
 * the table in docs/KMS-BRIDGE.md). */
enum { KMS_CTX_KEY = 0, KMS_CTX_OBJECT, KMS_CTX_DECRYPT };
CK_RV kms_ckr(kms_status st, const kmip_result *res, int ctx);
const char *kms_ckr_name(CK_RV rv);

/* Entry points, wired into the function list in p11_functions.c. */
CK_RV kms_Initialize(CK_VOID_PTR args);
CK_RV kms_Finalize(CK_VOID_PTR reserved);
CK_RV kms_GetInfo(CK_INFO_PTR info);
CK_RV kms_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV kms_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV kms_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV kms_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV kms_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
CK_RV kms_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                      CK_SESSION_HANDLE_PTR out);
CK_RV kms_CloseSession(CK_SESSION_HANDLE h);
CK_RV kms_CloseAllSessions(CK_SLOT_ID slot);
CK_RV kms_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
CK_RV kms_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV kms_Logout(CK_SESSION_HANDLE h);
CK_RV kms_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV kms_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR n);
CK_RV kms_FindObjectsFinal(CK_SESSION_HANDLE h);
CK_RV kms_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG n);
CK_RV kms_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR out);
CK_RV kms_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o);
CK_RV kms_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV kms_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                  CK_ULONG_PTR outlen);
CK_RV kms_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV kms_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                  CK_ULONG_PTR outlen);
CK_RV kms_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG n);
CK_RV kms_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG n);

#endif
