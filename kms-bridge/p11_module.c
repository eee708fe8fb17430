/*
 * p11_module.c - C_GetFunctionList, C_Initialize/C_Finalize, module, slot,
 * token and mechanism information (PKCS#11 2.40 §5.4-5.5), and the
 * session/object tables' helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kms_log.h"
#include "kms_module.h"

kms_module g_kms = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- tables ------------------------------------------------------------ */

#define HANDLE_INDEX_MASK (((CK_ULONG)1 << KMS_HANDLE_INDEX_BITS) - 1)
#define HANDLE_GEN_MASK (~(CK_ULONG)0 >> KMS_HANDLE_INDEX_BITS)

static CK_ULONG make_handle(CK_ULONG gen, size_t i)
{
    return (gen & HANDLE_GEN_MASK) << KMS_HANDLE_INDEX_BITS | (CK_ULONG)(i + 1);
}

/* The table index h names if its generation is current, else -1. */
static long handle_index(CK_ULONG h, size_t n, const CK_ULONG *gens)
{
    CK_ULONG i = h & HANDLE_INDEX_MASK;
    if (i == 0 || i > n || (h >> KMS_HANDLE_INDEX_BITS) != (gens[i - 1] & HANDLE_GEN_MASK))
        return -1;
    return (long)(i - 1);
}

kms_session *kms_session_get(CK_SESSION_HANDLE h)
{
    long i = handle_index(h, KMS_MAX_SESSIONS, g_kms.session_gen);
    if (!g_kms.initialized || i < 0 || !g_kms.sessions[i].used)
        return NULL;
    return &g_kms.sessions[i];
}

CK_SESSION_HANDLE kms_session_handle(const kms_session *s)
{
    size_t i = (size_t)(s - g_kms.sessions);
    return make_handle(g_kms.session_gen[i], i);
}

void kms_session_free(kms_session *s)
{
    kms_session_end_op(s);
    kms_session_end_find(s);
    memset(s, 0, sizeof(*s));
    g_kms.session_gen[s - g_kms.sessions]++;
}

void kms_object_forget(kms_object *o)
{
    memset(o, 0, sizeof(*o));
    g_kms.object_gen[o - g_kms.objects]++;
}

int kms_state_allows(uint32_t state, int op)
{
    if (state == KMIP_STATE_ACTIVE)
        return 1;
    return state == KMIP_STATE_DEACTIVATED && op != KMS_OP_ENCRYPT;
}

CK_RV kms_session_lock(CK_SESSION_HANDLE h, kms_session **out)
{
    pthread_mutex_lock(&g_kms.lock);
    if (!g_kms.initialized || g_kms.pid != getpid()) {
        pthread_mutex_unlock(&g_kms.lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    *out = kms_session_get(h);
    if (*out == NULL) {
        pthread_mutex_unlock(&g_kms.lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

void kms_unlock(void)
{
    pthread_mutex_unlock(&g_kms.lock);
}

void kms_session_end_find(kms_session *s)
{
    free(s->found);
    s->found = NULL;
    s->finding = 0;
    s->n_found = s->next_found = 0;
}

void kms_session_end_op(kms_session *s)
{
    OPENSSL_clear_free(s->aad, s->aad_n);
    s->aad = NULL;
    s->aad_n = 0;
    s->op = KMS_OP_NONE;
    s->key = 0;
}

CK_OBJECT_HANDLE kms_object_intern(CK_SLOT_ID slot, const char *uid, const char *label,
                                   CK_ULONG value_len, uint32_t state)
{
    size_t free_at = KMS_MAX_OBJECTS;
    for (size_t i = 0; i < KMS_MAX_OBJECTS; i++) {
        kms_object *o = &g_kms.objects[i];
        if (!o->used) {
            if (free_at == KMS_MAX_OBJECTS)
                free_at = i;
            continue;
        }
        if (o->slot == slot && strcmp(o->uid, uid) == 0) {
            /* The KMS is the truth: refresh what it told us now. */
            snprintf(o->label, sizeof(o->label), "%s", label);
            o->value_len = value_len;
            o->state = state;
            return make_handle(g_kms.object_gen[i], i);
        }
    }
    if (free_at == KMS_MAX_OBJECTS)
        return 0;
    kms_object *o = &g_kms.objects[free_at];
    o->used = 1;
    o->slot = slot;
    snprintf(o->uid, sizeof(o->uid), "%s", uid);
    snprintf(o->label, sizeof(o->label), "%s", label);
    o->value_len = value_len;
    o->state = state;
    return make_handle(g_kms.object_gen[free_at], free_at);
}

kms_object *kms_object_get(CK_SLOT_ID slot, CK_OBJECT_HANDLE h)
{
    long i = handle_index(h, KMS_MAX_OBJECTS, g_kms.object_gen);
    if (i < 0 || !g_kms.objects[i].used || g_kms.objects[i].slot != slot)
        return NULL;
    return &g_kms.objects[i];
}

/* ---- initialisation ---------------------------------------------------- */

static void reset_state(void)
{
    for (size_t i = 0; i < KMS_MAX_SESSIONS; i++)
        if (g_kms.sessions[i].used)
            kms_session_free(&g_kms.sessions[i]);
    for (size_t i = 0; i < KMS_MAX_OBJECTS; i++)
        if (g_kms.objects[i].used)
            kms_object_forget(&g_kms.objects[i]);
    for (size_t i = 0; i < g_kms.cfg.n_slots; i++)
        kms_slot_cleanup(&g_kms.slots[i]);
    memset(g_kms.needs_login, 0, sizeof(g_kms.needs_login));
    memset(g_kms.logged_in, 0, sizeof(g_kms.logged_in));
    memset(&g_kms.cfg, 0, sizeof(g_kms.cfg));
    g_kms.initialized = 0;
}

/* A child forked while another thread of the parent held g_kms.lock or a
 * slot's lock would deadlock in C_Initialize: the child has one thread, so
 * no lock can be legitimately held in it; re-create them all. Its other
 * state is the parent's and is dropped by C_Initialize (reset_state).
 * glibc unregisters the handler when the module is dlclose'd. */
static void atfork_child(void)
{
    pthread_mutex_init(&g_kms.lock, NULL);
    for (size_t i = 0; i < KMS_MAX_SLOTS; i++)
        pthread_mutex_init(&g_kms.slots[i].lock, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_register(void)
{
    if (pthread_atfork(NULL, NULL, atfork_child) != 0)
        kms_debug("pthread_atfork failed: a fork during a call may deadlock the child");
}

CK_RV kms_Initialize(CK_VOID_PTR args)
{
    pthread_once(&atfork_once, atfork_register);
    /* secure_getenv: a setuid program never takes its KMS (which would get
     * the DEKs) from the environment of whoever ran it */
    const char *path = secure_getenv("ENVELOPE_KMS_CONF");
    if (args != NULL) {
        CK_C_INITIALIZE_ARGS *a = args;
        /* §5.4: the four mutex functions are supplied all together or not
         * at all; some but not all is CKR_ARGUMENTS_BAD. */
        int given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
                    (a->LockMutex != NULL) + (a->UnlockMutex != NULL);
        if (given != 0 && given != 4)
            return CKR_ARGUMENTS_BAD;
        /* Application-supplied mutexes without CKF_OS_LOCKING_OK would have
         * to be used instead of ours; we only have ours. */
        if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK))
            return CKR_CANT_LOCK;
        /* pReserved carries our config path, as NSS passes module
         * parameters: the documented alternative to ENVELOPE_KMS_CONF. */
        if (a->pReserved != NULL)
            path = a->pReserved;
    }
    pthread_mutex_lock(&g_kms.lock);
    if (g_kms.initialized) {
        if (g_kms.pid == getpid()) {
            pthread_mutex_unlock(&g_kms.lock);
            return CKR_CRYPTOKI_ALREADY_INITIALIZED;
        }
        /* A forked child initialising again: the parent's connections and
         * sessions are not ours to use. Drop them (no TLS close_notify is
         * sent, so the parent's streams are not disturbed). */
        reset_state();
    }
    static char err[2048];
    CK_RV rv = CKR_OK;
    if (!kms_config_load(path, &g_kms.cfg, err, sizeof(err))) {
        /* The only channel a module has to tell an operator why it will not
         * start; the config holds no secrets. */
        fprintf(stderr, "envelope-kms-pkcs11: %s\n", err);
        kms_debug("config: %s", err);
        rv = CKR_GENERAL_ERROR;
        goto done;
    }
    for (size_t i = 0; i < g_kms.cfg.n_slots; i++) {
        kms_slot *s = &g_kms.slots[i];
        kms_slot_init(s, &g_kms.cfg.slot[i]);
        int needs = 0;
        kms_tls *t = kms_tls_new(&s->cfg, NULL, &needs, err, sizeof(err));
        kms_slot_set_tls(s, t);
        if (t == NULL && needs) {
            g_kms.needs_login[i] = 1; /* the PIN is the key's passphrase */
        } else if (t == NULL) {
            fprintf(stderr, "envelope-kms-pkcs11: %s\n", err);
            for (size_t j = 0; j <= i; j++)
                kms_slot_cleanup(&g_kms.slots[j]);
            rv = CKR_GENERAL_ERROR;
            goto done;
        }
    }
    g_kms.pid = getpid();
    g_kms.initialized = 1;
    kms_debug("initialised: %zu slot(s) from %s", g_kms.cfg.n_slots, path);
done:
    pthread_mutex_unlock(&g_kms.lock);
    return rv;
}

CK_RV kms_Finalize(CK_VOID_PTR reserved)
{
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&g_kms.lock);
    if (!g_kms.initialized) {
        pthread_mutex_unlock(&g_kms.lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    reset_state();
    pthread_mutex_unlock(&g_kms.lock);
    return CKR_OK;
}

/* ---- information ------------------------------------------------------- */

/* PKCS#11 strings are blank-padded, not NUL-terminated (§3.2). */
static void pad(unsigned char *dst, size_t n, const char *src)
{
    memset(dst, ' ', n);
    size_t l = strlen(src);
    memcpy(dst, src, l < n ? l : n);
}

static int ready(void)
{
    return g_kms.initialized && g_kms.pid == getpid();
}

CK_RV kms_GetInfo(CK_INFO_PTR info)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    pad(info->libraryDescription, sizeof(info->libraryDescription), "envelope KMIP 1.4 bridge");
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    return CKR_OK;
}

CK_RV kms_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = g_kms.cfg.n_slots;
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (CK_ULONG i = 0; i < n; i++)
        list[i] = i;
    *count = n;
    return CKR_OK;
}

CK_RV kms_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    const kms_slot_cfg *c = &g_kms.cfg.slot[slot];
    char desc[320];
    snprintf(desc, sizeof(desc), "KMIP %s:%s (%zu endpoint%s)", c->ep[0].host, c->ep[0].port,
             c->n_ep, c->n_ep == 1 ? "" : "s");
    memset(info, 0, sizeof(*info));
    pad(info->slotDescription, sizeof(info->slotDescription), desc);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    /* The token (the KMS) is always "present"; reachability is per call. */
    info->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
    return CKR_OK;
}

CK_RV kms_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    const kms_slot_cfg *c = &g_kms.cfg.slot[slot];
    memset(info, 0, sizeof(*info));
    pad(info->label, sizeof(info->label), c->label);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    pad(info->model, sizeof(info->model), "KMIP 1.4");
    pad(info->serialNumber, sizeof(info->serialNumber), c->section);
    /* No CKF_RNG: C_GenerateRandom is served by the host's DRBG, not the KMS.
     * Login is required only when the client key is encrypted. */
    info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED |
                  (g_kms.needs_login[slot] ? CKF_LOGIN_REQUIRED : 0);
    info->ulMaxSessionCount = KMS_MAX_SESSIONS;
    info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxRwSessionCount = KMS_MAX_SESSIONS;
    info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxPinLen = 1024;
    info->ulMinPinLen = 0;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 1;
    info->hardwareVersion.minor = 4; /* the KMIP version spoken */
    pad(info->utcTime, sizeof(info->utcTime), "");
    return CKR_OK;
}

static const CK_MECHANISM_TYPE mechs[] = {CKM_AES_KEY_GEN, CKM_AES_GCM};

CK_RV kms_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = sizeof(mechs) / sizeof(mechs[0]);
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, mechs, sizeof(mechs));
    *count = n;
    return CKR_OK;
}

CK_RV kms_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    if (!ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    switch (type) {
    case CKM_AES_KEY_GEN:
        /* We only create AES-256 KEKs (sizes in bytes, §2.8 of the
         * mechanisms spec). */
        info->ulMinKeySize = 32;
        info->ulMaxKeySize = 32;
        info->flags = CKF_HW | CKF_GENERATE;
        return CKR_OK;
    case CKM_AES_GCM:
        /* Existing KMS keys may be AES-128/192; one-shot only (no
         * C_EncryptUpdate), 96-bit caller IV, 128-bit tag. */
        info->ulMinKeySize = 16;
        info->ulMaxKeySize = 32;
        info->flags = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
        return CKR_OK;
    default:
        return CKR_MECHANISM_INVALID;
    }
}
