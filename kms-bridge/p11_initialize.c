/*
 * p11_initialize.c - the module's state (g_kms) and its life cycle:
 * C_Initialize, C_Finalize (PKCS#11 2.40 §5.4) and what a fork needs.
 *
 * Fork (§5.4: a child must call C_Initialize again): g_kms.pid records the
 * process that initialised the module, and kms_module_ready() is false in
 * any other, so the slot, session, object and crypto calls of a child
 * return CKR_CRYPTOKI_NOT_INITIALIZED. C_Initialize in a child drops the
 * parent's state (reset_state) without sending anything on its
 * connections. A pthread_atfork child handler re-creates the locks first,
 * so that a child forked while another thread held one does not deadlock
 * in C_Initialize.
 *
 * Handle generations (p11_handle_tables.c) are not reset here: they outlive
 * C_Finalize, so no handle of a previous initialisation becomes valid again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kms_log.h"
#include "kms_module.h"
#include "p11_aws.h"

kms_module g_kms = {.lock = PTHREAD_MUTEX_INITIALIZER};

int kms_module_ready(void)
{
    return g_kms.initialized && g_kms.pid == getpid();
}

/* Under the lock: frees every session, object and slot; keeps the handle
 * generations. */
static void reset_state(void)
{
    for (size_t i = 0; i < KMS_MAX_SESSIONS; i++)
        if (g_kms.sessions[i].used)
            kms_session_free(&g_kms.sessions[i]);
    for (size_t i = 0; i < KMS_MAX_OBJECTS; i++)
        if (g_kms.objects[i].used)
            kms_object_forget(&g_kms.objects[i]);
    aws_refresh_shutdown(); /* joins the refresher (none in a forked child) */
    for (size_t i = 0; i < g_kms.cfg.n_slots; i++) {
        kms_aws_slot_cleanup(&g_kms.slots[i], g_kms.pid != getpid());
        kms_slot_cleanup(&g_kms.slots[i]);
    }
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
        int given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
                    (a->UnlockMutex != NULL);
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
        if (s->cfg.protocol == KMS_PROTO_AWS_KMS) {
            /* HTTPS and SigV4, no client certificate (p11_aws.h) */
            if (!kms_aws_slot_init(s, err, sizeof(err))) {
                fprintf(stderr, "envelope-kms-pkcs11: %s\n", err);
                for (size_t j = 0; j <= i; j++) {
                    kms_aws_slot_cleanup(&g_kms.slots[j], 0);
                    kms_slot_cleanup(&g_kms.slots[j]);
                }
                rv = CKR_GENERAL_ERROR;
                goto done;
            }
            continue;
        }
        int needs = 0;
        kms_tls *t = kms_tls_new(&s->cfg, NULL, &needs, err, sizeof(err));
        kms_slot_set_tls(s, t);
        if (t == NULL && needs) {
            g_kms.needs_login[i] = 1; /* the PIN is the key's passphrase */
        } else if (t == NULL) {
            fprintf(stderr, "envelope-kms-pkcs11: %s\n", err);
            for (size_t j = 0; j <= i; j++) {
                kms_aws_slot_cleanup(&g_kms.slots[j], 0);
                kms_slot_cleanup(&g_kms.slots[j]);
            }
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
