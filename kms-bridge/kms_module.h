/*
 * kms_module.h - PKCS#11 module state shared by the p11_*.c entry points.
 *
 * One global module (PKCS#11 2.40 §5.4: a library is initialised once per
 * process). Slots are the configured KMSs, in config order (slot id = index).
 * Sessions and objects live in fixed tables; handles are index + 1, so 0 is
 * never valid (CK_INVALID_HANDLE). g_kms.lock guards the tables and is never
 * held across network I/O: entry points copy what they need, unlock, call
 * the KMS, and lock again to store results.
 *
 * Object handles are stable for the life of the module: the same KMIP key
 * (slot, Unique Identifier) always gets the same handle.
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
#define KMS_GCM_IV_LEN 12 /* NIST SP 800-38D §8.2: 96-bit IVs */

enum { KMS_OP_NONE = 0, KMS_OP_ENCRYPT, KMS_OP_DECRYPT };

typedef struct {
    int used;
    CK_SLOT_ID slot;
    char uid[KMIP_MAX_UID + 1];
    char label[KMIP_MAX_NAME + 1];
    CK_ULONG value_len; /* bytes */
} kms_object;

typedef struct {
    int used;
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    /* FindObjects state */
    int finding;
    CK_OBJECT_HANDLE found[KMIP_MAX_LOCATE];
    size_t n_found, next_found;
    /* Encrypt/Decrypt state (PKCS#11 2.40 §5.8: one operation at a time) */
    int op;
    CK_OBJECT_HANDLE key;
    unsigned char iv[KMS_GCM_IV_LEN];
    unsigned char *iv_back; /* the caller's pIv, for a KMS-chosen IV */
    unsigned char *aad; /* malloc'd, aad_n bytes */
    size_t aad_n;
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
} kms_module;

extern kms_module g_kms;

/* Under g_kms.lock: the session for h, or NULL. Checks initialisation. */
kms_session *kms_session_get(CK_SESSION_HANDLE h);
/* Locks g_kms and returns the session (rv CKR_OK), or returns an error and
 * leaves the lock released. */
CK_RV kms_session_lock(CK_SESSION_HANDLE h, kms_session **out);
void kms_unlock(void);
/* Ends any crypto operation of s (frees its AAD). Under the lock. */
void kms_session_end_op(kms_session *s);
/* Under the lock: the handle for (slot, uid), creating the entry; 0 if full. */
CK_OBJECT_HANDLE kms_object_intern(CK_SLOT_ID slot, const char *uid, const char *label,
                                   CK_ULONG value_len);
kms_object *kms_object_get(CK_SLOT_ID slot, CK_OBJECT_HANDLE h);

/* Maps a bridge status and the server's result to a CK_RV (KMS-BRIDGE.md). */
enum { KMS_CTX_KEY = 0, KMS_CTX_OBJECT, KMS_CTX_DECRYPT };
CK_RV kms_ckr(kms_status st, const kmip_result *res, int ctx);
const char *kms_ckr_name(CK_RV rv);

/* Entry points, wired into the function list in p11_module.c. */
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
CK_RV kms_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
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
