/*
 * hsm_module.c - loading PKCS#11 modules, C_Initialize, fork and exit.
 *
 * Exit ordering (why the atexit handler exists): OpenSSL tears providers
 * down from its own atexit handler, which was registered before any PKCS#11
 * module was loaded, so it runs *after* the module's own exit-time cleanup
 * (SoftHSM2's C++ static destructors). A C_Finalize from provider teardown
 * then calls into a destroyed module and crashes (seen with another PKCS#11
 * provider). We register our own handler right after the first
 * C_Initialize; handlers run in reverse order of registration, so ours runs
 * while the module is still whole: it finalises every module we initialised
 * and marks them finalised, and later teardown makes no C_* call at all.
 * If the provider is unloaded before exit, teardown finalises normally and
 * the handler (run by dlclose for our DSO) finds nothing left to do.
 *
 * Fork: PKCS#11 v2.40 §5.4 (C_Initialize) says a child must initialise the
 * library again. Every entry point calls hsm_ensure_loaded, which compares
 * the pid with the one that initialised the module; in a child it calls
 * C_Initialize again (C_Finalize first when the module, like SoftHSM2, does
 * not notice the fork and answers CKR_CRYPTOKI_ALREADY_INITIALIZED), drops
 * the inherited session handles and bumps the generation so that cached
 * object handles are looked up again.
 */
#include "hsm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>

#include "errors.h"
#include "secmem.h"

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_ctx *live_list;
static volatile int process_exiting;

int hsm_process_exiting(void)
{
    return process_exiting;
}

static void finalize_module(struct hsm_module *m)
{
    if (m->fl == NULL || m->finalized)
        return;
    for (struct hsm_token *t = m->tokens; t != NULL; t = t->next) {
        pthread_mutex_lock(&t->lock);
        t->npool = 0; /* C_Finalize closes every session */
        t->nopen = 0;
        t->logged_in = 0;
        pthread_mutex_unlock(&t->lock);
    }
    if (m->initialized_by_us && m->pid == getpid())
        (void)P11(m, C_Finalize, NULL);
    m->finalized = 1;
}

static void hsm_exit_handler(void)
{
    process_exiting = 1;
    pthread_mutex_lock(&live_lock);
    for (struct hsm_ctx *h = live_list; h != NULL; h = h->next_live)
        for (size_t i = 0; i < h->nmods; i++)
            finalize_module(&h->mods[i]);
    pthread_mutex_unlock(&live_lock);
}

struct hsm_ctx *hsm_ctx_new(const hsm_config *cfg)
{
    struct hsm_ctx *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->allow_extractable = cfg->allow_extractable;
    h->tokens = cfg->tokens;
    h->swctx = cfg->swctx;
    if ((cfg->modules && (h->modules_conf = strdup(cfg->modules)) == NULL) ||
        (cfg->pin_source && (h->pin_source = strdup(cfg->pin_source)) == NULL)) {
        hsm_ctx_free(h);
        return NULL;
    }
    pthread_mutex_lock(&live_lock);
    h->next_live = live_list;
    live_list = h;
    pthread_mutex_unlock(&live_lock);
    return h;
}

static void free_tokens(struct hsm_module *m)
{
    struct hsm_token *t = m->tokens;
    while (t != NULL) {
        struct hsm_token *next = t->next;
        envelope_secmem_free(t->pin);
        pthread_mutex_destroy(&t->lock);
        free(t);
        t = next;
    }
    m->tokens = NULL;
}

void hsm_ctx_free(struct hsm_ctx *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&live_lock);
    for (struct hsm_ctx **p = &live_list; *p != NULL; p = &(*p)->next_live)
        if (*p == h) {
            *p = h->next_live;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    for (size_t i = 0; i < h->nmods; i++) {
        struct hsm_module *m = &h->mods[i];
        if (!process_exiting) {
            for (struct hsm_token *t = m->tokens; t != NULL; t = t->next)
                hsm_token_drop_sessions(t);
            finalize_module(m);
            /* Unloading the module is safe only before exit handlers run:
             * at exit the module may already be half torn down. */
            if (m->fl != NULL)
                p11_kit_module_release(m->fl);
        }
        free_tokens(m);
        free(m->path);
    }
    free(h->modules_conf);
    free(h->pin_source);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

static int initialize_module(struct hsm_module *m)
{
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = P11(m, C_Initialize, &args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && m->pid != 0 && m->pid != getpid() && !m->lost) {
        /* A child of a process that had initialised it: start afresh. */
        (void)P11(m, C_Finalize, NULL);
        rv = P11(m, C_Initialize, &args);
    }
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && m->lost) {
        /* It said "not initialised" yet is: keep whatever ownership we had. */
    } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        /* Someone else in this process owns the module (another provider,
         * an engine): share it and never finalise it for them. */
        m->initialized_by_us = 0;
    } else if (rv != CKR_OK) {
        ENVCORE_RAISE(ENVCORE_R_BACKEND_UNAVAILABLE,
                      "PKCS#11 module %s: C_Initialize failed: %s (0x%lx)", m->path,
                      hsm_rv_name(rv), (unsigned long)rv);
        return ENVCORE_R_BACKEND_UNAVAILABLE;
    } else {
        m->initialized_by_us = 1;
    }
    if (P11(m, C_GetInfo, &m->info) != CKR_OK)
        memset(&m->info, 0, sizeof(m->info));
    m->pid = getpid();
    m->finalized = 0;
    m->lost = 0;
    m->generation++;
    /* After every successful C_Initialize, not once per load: handlers
     * registered later run earlier, and ours must run before the module's
     * own exit-time cleanup, whichever module was loaded last. */
    if (m->initialized_by_us) {
        pthread_mutex_lock(&live_lock);
        (void)atexit(hsm_exit_handler); /* idempotent: finalize_module checks */
        pthread_mutex_unlock(&live_lock);
    }
    /* Once per module: its own fork handlers (registered in C_Initialize)
     * must run after the gate's prepare, not before (hsm_fork.c). */
    if (!m->atfork_after) {
        hsm_gate_atfork_again();
        m->atfork_after = 1;
    }
    return ENVCORE_R_OK;
}

static int load_modules(struct hsm_ctx *h)
{
    if (h->modules_conf == NULL || *h->modules_conf == '\0') {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                      "no PKCS#11 module configured: set pkcs11-module = PATH in the "
                      "envelope provider section of openssl.cnf");
        return ENVCORE_R_BAD_CONFIG;
    }
    char *list = strdup(h->modules_conf);
    if (list == NULL)
        return ENVCORE_R_INTERNAL;
    int ret = ENVCORE_R_OK;
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *path = trim(tok);
        if (*path == '\0')
            continue;
        if (h->nmods == HSM_MAX_MODULES) {
            ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "pkcs11-module lists more than %d modules",
                          HSM_MAX_MODULES);
            ret = ENVCORE_R_BAD_CONFIG;
            break;
        }
        struct hsm_module *m = &h->mods[h->nmods];
        memset(m, 0, sizeof(*m));
        m->path = strdup(path);
        /* Unmanaged: we own C_Initialize/C_Finalize and fork handling;
         * p11-kit's managed mode would add its own, which we can't order. */
        m->fl = m->path ? p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED) : NULL;
        if (m->fl == NULL) {
            const char *why = p11_kit_message();
            ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "cannot load PKCS#11 module %s: %s", path,
                          why ? why : "unknown error");
            free(m->path);
            ret = ENVCORE_R_BAD_CONFIG;
            break;
        }
        hsm_diag_attach(m);
        h->nmods++;
        if ((ret = initialize_module(m)) != ENVCORE_R_OK)
            break;
    }
    free(list);
    if (ret != ENVCORE_R_OK) {
        /* All or nothing: finalise and unload what this attempt loaded, so
         * a retry starts from a clean list (no duplicate modules, no module
         * left for teardown to finalise after it has torn itself down). */
        for (size_t i = 0; i < h->nmods; i++) {
            finalize_module(&h->mods[i]);
            p11_kit_module_release(h->mods[i].fl);
            free(h->mods[i].path);
            memset(&h->mods[i], 0, sizeof(h->mods[i]));
        }
        h->nmods = 0;
    }
    return ret;
}

void hsm_module_lost(struct hsm_ctx *h, struct hsm_module *m)
{
    pthread_mutex_lock(&h->lock);
    m->lost = 1;
    pthread_mutex_unlock(&h->lock);
}

int hsm_ensure_loaded(struct hsm_ctx *h)
{
    if (process_exiting) {
        ENVCORE_RAISE(ENVCORE_R_BACKEND_UNAVAILABLE,
                      "PKCS#11 modules are finalised: the process is exiting");
        return ENVCORE_R_BACKEND_UNAVAILABLE;
    }
    int ret = ENVCORE_R_OK;
    pthread_mutex_lock(&h->lock);
    if (!h->loaded) {
        ret = load_modules(h);
        h->loaded = ret == ENVCORE_R_OK;
    } else {
        pid_t me = getpid();
        for (size_t i = 0; i < h->nmods && ret == ENVCORE_R_OK; i++) {
            struct hsm_module *m = &h->mods[i];
            if (m->pid != me || m->lost) {
                envcore_debug("pkcs11: %s (pid %ld -> %ld), re-initialising %s",
                              m->lost ? "module was finalised under us" : "fork detected",
                              (long)m->pid, (long)me, m->path);
                for (struct hsm_token *t = m->tokens; t != NULL; t = t->next) {
                    pthread_mutex_lock(&t->lock);
                    t->npool = 0; /* the parent's handles mean nothing here */
                    t->nopen = 0;
                    t->logged_in = 0;
                    pthread_mutex_unlock(&t->lock);
                }
                ret = initialize_module(m);
            }
        }
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}
