/*
 * hsm_session.c - the per-token session pool and login.
 *
 * PKCS#11 login state is per application and token (v2.40 §6.7.1), so one
 * C_Login serves every session of the token. Sessions are opened on demand
 * and up to HSM_MAX_POOL idle ones are kept. A session that returned a
 * "gone" code (closed, handle invalid, device removed) is dropped, never
 * pooled again.
 *
 * PINs: a token counts failed logins and locks itself, so a PIN the token
 * rejected is never retried by us: we remember its keyed fingerprint and
 * refuse to send it again until the PIN source yields a different one. And
 * a configured PIN goes only to the tokens it is bound to (pkcs11-tokens,
 * hsm_tokens.c).
 */
#include "hsm_internal.h"

#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "errors.h"
#include "pin_source.h"
#include "secmem.h"

int hsm_session_rv_is_broken(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

enum hsm_session_fate hsm_session_fate_of(CK_RV rv)
{
    if (rv == CKR_OK)
        return HSM_SESSION_KEEP;
    if (hsm_session_rv_is_broken(rv))
        return HSM_SESSION_GONE;
    /* Any other failure may leave an operation active on the session (a
     * device error need not end it, PKCS#11 v2.40 §5.2): never pool it. */
    return HSM_SESSION_DISCARD;
}

/* Called with t->lock held. Closing the last session of an application
 * logs it out (PKCS#11 v2.40 §5.6 C_CloseSession) and, on SoftHSM2, makes
 * every object handle invalid. So a session that must go is replaced first
 * when it is the last one: the login and the handles survive. */
static void close_locked(struct hsm_token *t, CK_SESSION_HANDLE s)
{
    /* never close a parent's sessions from a child that did not re-init */
    int live = !t->mod->finalized && t->pool_generation == t->mod->generation &&
               t->mod->pid == getpid();
    if (live && t->nopen == 1 && t->npool == 0) {
        CK_SESSION_HANDLE spare;
        if (P11(t->mod, C_OpenSession, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                &spare) == CKR_OK) {
            t->pool[t->npool++] = spare;
            t->nopen++;
        }
    }
    if (live)
        (void)P11(t->mod, C_CloseSession, s);
    if (t->nopen > 0 && --t->nopen == 0) {
        t->logged_in = 0;
        t->epoch++; /* object handles may have changed */
    }
}

void hsm_token_drop_sessions(struct hsm_token *t)
{
    pthread_mutex_lock(&t->lock);
    int live = !t->mod->finalized && t->pool_generation == t->mod->generation &&
               t->mod->pid == getpid();
    while (t->npool > 0) {
        CK_SESSION_HANDLE s = t->pool[--t->npool];
        if (live)
            (void)P11(t->mod, C_CloseSession, s);
    }
    t->nopen = 0;
    t->logged_in = 0;
    t->epoch++;
    pthread_mutex_unlock(&t->lock);
}

/* Called with t->lock held. */
static int same_identity(const CK_TOKEN_INFO *a, const CK_TOKEN_INFO *b)
{
    return memcmp(a->label, b->label, sizeof(a->label)) == 0 &&
           memcmp(a->manufacturerID, b->manufacturerID, sizeof(a->manufacturerID)) == 0 &&
           memcmp(a->model, b->model, sizeof(a->model)) == 0 &&
           memcmp(a->serialNumber, b->serialNumber, sizeof(a->serialNumber)) == 0;
}

/* Called with t->lock held, right before a login. A PIN goes to the token
 * it is for: the token in the slot may have changed since its info was
 * read (a card swapped in a reader, a token re-initialised), and a PIN
 * kept for the old one, or bound to its label, must not reach the new. */
static int recheck_identity(struct hsm_token *t)
{
    CK_TOKEN_INFO now;
    CK_RV rv = P11(t->mod, C_GetTokenInfo, t->slot, &now);
    if (rv != CKR_OK)
        return hsm_raise_rv(rv, "C_GetTokenInfo", t->label, NULL);
    if (same_identity(&now, &t->info)) {
        t->info.flags = now.flags;
        return ENVCORE_R_OK;
    }
    envcore_debug("pkcs11: the token in slot %lu changed before login; its PIN is not reused",
                  (unsigned long)t->slot);
    envelope_secmem_free(t->pin);
    t->pin = NULL;
    t->have_bad_pin = 0;
    t->info = now;
    hsm_trim_label(t->label, now.label, sizeof(now.label));
    t->binding = hsm_token_list_match(t->tokens, &now);
    t->default_pin_source = hsm_token_binding_pin_source(t->binding);
    return ENVCORE_R_OK;
}

static int login_locked(struct hsm_token *t, CK_SESSION_HANDLE s, const char *uri_pin_source,
                        const char *uri_pin_value)
{
    int ir = recheck_identity(t);
    if (ir != ENVCORE_R_OK)
        return ir;
    if (!(t->info.flags & CKF_LOGIN_REQUIRED)) {
        t->logged_in = 1;
        t->login_generation = t->mod->generation;
        return ENVCORE_R_OK;
    }
    char *pin = NULL;
    int ret;
    if (uri_pin_value != NULL) {
        pin = envelope_secmem_strdup(uri_pin_value);
        ret = pin ? ENVCORE_R_OK : ENVCORE_R_INTERNAL;
    } else if (uri_pin_source != NULL) {
        ret = envcore_pin_read(uri_pin_source, "PIN", ENVCORE_PIN_TEXT, &pin, &(size_t){0});
    } else if (t->pin != NULL) {
        pin = envelope_secmem_strdup(t->pin);
        ret = pin ? ENVCORE_R_OK : ENVCORE_R_INTERNAL;
    } else if (t->default_pin_source != NULL) {
        ret = envcore_pin_read(t->default_pin_source, "PIN", ENVCORE_PIN_TEXT, &pin, &(size_t){0});
    } else if (t->binding == NULL) {
        /* A PIN is offered only to the tokens it is configured for: an
         * unlisted token may be someone else's, with a retry counter. */
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "token \"%s\" needs a PIN, and none is configured for it: the provider "
                      "offers a PIN only to the tokens in pkcs11-tokens (add \"%s\" there, "
                      "with pkcs11-pin-source or its own pin-source), or give the URI a "
                      "pin-source",
                      t->label, t->label);
        return ENVCORE_R_PIN_MISSING;
    } else {
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "token \"%s\" needs a PIN: set pkcs11-pin-source in openssl.cnf (or a "
                      "pin-source in its pkcs11-tokens entry, or in the URI)",
                      t->label);
        return ENVCORE_R_PIN_MISSING;
    }
    if (ret != ENVCORE_R_OK)
        return ret;
    unsigned char h[32];
    if (!envcore_secret_fingerprint(pin, strlen(pin), h)) {
        envelope_secmem_free(pin);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "cannot fingerprint the PIN (out of locked memory?)");
        return ENVCORE_R_INTERNAL;
    }
    if (t->have_bad_pin && CRYPTO_memcmp(h, t->bad_pin_hash, sizeof(h)) == 0) {
        envelope_secmem_free(pin);
        ENVCORE_RAISE(ENVCORE_R_PIN_INCORRECT,
                      "PIN for token \"%s\" was rejected before; not retrying it (tokens lock "
                      "after repeated failures): fix the PIN source",
                      t->label);
        return ENVCORE_R_PIN_INCORRECT;
    }
    CK_RV rv = P11(t->mod, C_Login, s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        t->logged_in = 1;
        t->login_generation = t->mod->generation;
        t->have_bad_pin = 0;
        envelope_secmem_free(t->pin);
        t->pin = pin; /* kept, in locked memory, to log in again after fork */
        OPENSSL_cleanse(h, sizeof(h));
        return ENVCORE_R_OK;
    }
    if (rv == CKR_PIN_INCORRECT) {
        memcpy(t->bad_pin_hash, h, sizeof(h));
        t->have_bad_pin = 1;
    }
    OPENSSL_cleanse(h, sizeof(h));
    envelope_secmem_free(pin);
    if (rv == CKR_PIN_INCORRECT) {
        ENVCORE_RAISE(ENVCORE_R_PIN_INCORRECT, "PIN incorrect for token \"%s\"", t->label);
        return ENVCORE_R_PIN_INCORRECT;
    }
    return hsm_raise_rv(rv, "C_Login", t->label, NULL);
}

int hsm_token_login(struct hsm_token *t, CK_SESSION_HANDLE s, const char *uri_pin_source,
                    const char *uri_pin_value)
{
    pthread_mutex_lock(&t->lock);
    int ret = login_locked(t, s, uri_pin_source, uri_pin_value);
    pthread_mutex_unlock(&t->lock);
    return ret;
}

static int session_get(struct hsm_token *t, const char *uri_pin_source, const char *uri_pin_value,
                       CK_SESSION_HANDLE *out, unsigned *epoch)
{
    pthread_mutex_lock(&t->lock);
    if (t->pool_generation != t->mod->generation) {
        t->npool = 0; /* handles from before a re-initialisation */
        t->nopen = 0;
        t->pool_generation = t->mod->generation;
    }
    if (t->logged_in && t->login_generation != t->mod->generation)
        t->logged_in = 0;
    CK_SESSION_HANDLE s;
    if (t->npool > 0) {
        s = t->pool[--t->npool];
    } else {
        CK_RV rv = P11(t->mod, C_OpenSession, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                       NULL, &s);
        if (rv != CKR_OK) {
            pthread_mutex_unlock(&t->lock);
            return hsm_raise_rv(rv, "C_OpenSession", t->label, NULL);
        }
        t->nopen++;
    }
    int ret = ENVCORE_R_OK;
    if (!t->logged_in)
        ret = login_locked(t, s, uri_pin_source, uri_pin_value);
    if (ret != ENVCORE_R_OK) {
        if (t->npool < HSM_MAX_POOL)
            t->pool[t->npool++] = s;
        else
            close_locked(t, s);
        pthread_mutex_unlock(&t->lock);
        return ret;
    }
    if (epoch != NULL)
        *epoch = t->epoch;
    pthread_mutex_unlock(&t->lock);
    *out = s;
    return ENVCORE_R_OK;
}

int hsm_session_get(struct hsm_token *t, const char *uri_pin_source, const char *uri_pin_value,
                    CK_SESSION_HANDLE *out)
{
    return session_get(t, uri_pin_source, uri_pin_value, out, NULL);
}

int hsm_session_get_epoch(struct hsm_token *t, CK_SESSION_HANDLE *out, unsigned *epoch)
{
    return session_get(t, NULL, NULL, out, epoch);
}

void hsm_session_put(struct hsm_token *t, CK_SESSION_HANDLE s, enum hsm_session_fate fate)
{
    pthread_mutex_lock(&t->lock);
    if (t->pool_generation != t->mod->generation) {
        /* from before a re-initialisation: the handle means nothing now */
    } else if (fate == HSM_SESSION_GONE) {
        if (t->nopen > 0)
            t->nopen--;
        t->logged_in = 0; /* the device may have lost the login too */
        t->epoch++;
    } else if (fate == HSM_SESSION_DISCARD || t->npool == HSM_MAX_POOL) {
        close_locked(t, s);
    } else {
        t->pool[t->npool++] = s;
    }
    pthread_mutex_unlock(&t->lock);
}
