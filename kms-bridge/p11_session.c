/*
 * p11_session.c - sessions and login (PKCS#11 2.40 §5.6).
 *
 * Login: the KMS authenticates us by our TLS client certificate, so there is
 * no PIN in the usual sense. C_Login succeeds without a network call; when
 * the configured client key is encrypted, the PIN is its passphrase
 * (CKF_LOGIN_REQUIRED is then set) and is used once to load the key, never
 * stored. A wrong passphrase is CKR_PIN_INCORRECT and costs nothing on the
 * KMS side (no lockout counter to burn).
 *
 * Logout (C_Logout, or closing the token's last session, §5.6) of a token
 * whose key is encrypted unloads the key again and drops the pooled
 * connections made with it: the next C_Login must give the passphrase
 * again (otherwise any PIN would do once the key had been loaded). Calls
 * already in flight finish with the identity they started with. A token
 * whose key is not encrypted has nothing to unload: Login stays a no-op.
 */
#include <string.h>

#include "kms_log.h"
#include "kms_module.h"
#include "secmem.h"

CK_RV kms_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                      CK_SESSION_HANDLE_PTR out)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED; /* §5.6: must be set */
    pthread_mutex_lock(&g_kms.lock);
    CK_RV rv = CKR_SESSION_COUNT;
    if (!kms_module_ready()) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    } else if (slot >= g_kms.cfg.n_slots) {
        rv = CKR_SLOT_ID_INVALID;
    } else {
        for (size_t i = 0; i < KMS_MAX_SESSIONS; i++) {
            kms_session *s = &g_kms.sessions[i];
            if (s->used)
                continue;
            memset(s, 0, sizeof(*s));
            s->used = 1;
            s->slot = slot;
            s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
            *out = kms_session_handle(s);
            rv = CKR_OK;
            break;
        }
    }
    pthread_mutex_unlock(&g_kms.lock);
    return rv;
}

static void close_locked(kms_session *s)
{
    kms_session_free(s);
}

/* Under the lock: the token's login state ends (see the file comment). */
static void logout_locked(CK_SLOT_ID slot)
{
    g_kms.logged_in[slot] = 0;
    if (g_kms.needs_login[slot]) {
        kms_slot_set_tls(&g_kms.slots[slot], NULL);
        kms_slot_drop_idle(&g_kms.slots[slot]);
    }
}

static int slot_has_sessions(CK_SLOT_ID slot)
{
    for (size_t i = 0; i < KMS_MAX_SESSIONS; i++)
        if (g_kms.sessions[i].used && g_kms.sessions[i].slot == slot)
            return 1;
    return 0;
}

CK_RV kms_CloseSession(CK_SESSION_HANDLE h)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    CK_SLOT_ID slot = s->slot;
    close_locked(s);
    /* §5.6: login state ends with the last session of the token. */
    if (!slot_has_sessions(slot) && g_kms.logged_in[slot])
        logout_locked(slot);
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_CloseAllSessions(CK_SLOT_ID slot)
{
    pthread_mutex_lock(&g_kms.lock);
    CK_RV rv = CKR_OK;
    if (!kms_module_ready())
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    else if (slot >= g_kms.cfg.n_slots)
        rv = CKR_SLOT_ID_INVALID;
    else {
        for (size_t i = 0; i < KMS_MAX_SESSIONS; i++)
            if (g_kms.sessions[i].used && g_kms.sessions[i].slot == slot)
                close_locked(&g_kms.sessions[i]);
        if (g_kms.logged_in[slot])
            logout_locked(slot);
    }
    pthread_mutex_unlock(&g_kms.lock);
    return rv;
}

CK_RV kms_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    int rw = (s->flags & CKF_RW_SESSION) != 0;
    int user = g_kms.logged_in[s->slot];
    info->slotID = s->slot;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    info->state = user ? (rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS)
                       : (rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION);
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    /* The session is checked before the user type: a bad handle is
     * CKR_SESSION_HANDLE_INVALID whatever else is wrong (§5.6, §5.1.4). */
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (user == CKU_CONTEXT_SPECIFIC) {
        /* §5.6: context-specific login authorises the operation just
         * initialised with a CKA_ALWAYS_AUTHENTICATE key. Without an
         * operation there is nothing to authorise; none of our keys has
         * CKA_ALWAYS_AUTHENTICATE, so an active one needs nothing either
         * (SoftHSM2 answers the same). */
        kms_unlock();
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (user != CKU_USER) {
        kms_unlock();
        return CKR_USER_TYPE_INVALID; /* no security officer: the KMS has none for us */
    }
    CK_SLOT_ID slot = s->slot;
    if (g_kms.logged_in[slot]) {
        kms_unlock();
        return CKR_USER_ALREADY_LOGGED_IN;
    }
    if (!g_kms.needs_login[slot]) {
        g_kms.logged_in[slot] = 1; /* nothing to unlock: accepted */
        kms_unlock();
        return CKR_OK;
    }
    if (pin == NULL || pin_len == 0) {
        kms_unlock();
        return CKR_PIN_INCORRECT;
    }
    /* The passphrase goes to OpenSSL as a C string: copy it into secret
     * memory, use it once, wipe it. */
    char *pw = envelope_secmem_alloc(pin_len + 1);
    if (pw == NULL) {
        kms_unlock();
        return CKR_HOST_MEMORY;
    }
    memcpy(pw, pin, pin_len);
    char err[512];
    int needs = 0;
    kms_tls *t = kms_tls_new(&g_kms.slots[slot].cfg, pw, &needs, err, sizeof(err));
    envelope_secmem_free(pw);
    if (t == NULL) {
        kms_debug("slot %s: login failed: %s", g_kms.cfg.slot[slot].label,
                  needs ? "wrong passphrase for the client key" : err);
        kms_unlock();
        return needs ? CKR_PIN_INCORRECT : CKR_GENERAL_ERROR;
    }
    kms_slot_set_tls(&g_kms.slots[slot], t);
    g_kms.logged_in[slot] = 1;
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_Logout(CK_SESSION_HANDLE h)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    rv = g_kms.logged_in[s->slot] ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK)
        logout_locked(s->slot);
    kms_unlock();
    return rv;
}
