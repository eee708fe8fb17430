/*
 * tpm_ctx.c - the connection to one TPM: TCTI by name through the TCTI
 * loader, lazy open, one recursive lock, fork detection, and the
 * reconnect-and-retry-once rule for TPM resets and lost connections.
 */
#include <stdlib.h>
#include <sys/auxv.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "tpm_int.h"

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_name_hex(const char *hex, unsigned char *out, size_t *len)
{
    size_t n = strlen(hex), i;

    if (n == 0 || n % 2 != 0 || n / 2 > ENVTPM_MAX_NAME)
        return 0;
    for (i = 0; i < n / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 1;
}

static void init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* tpm2-tss logs its own errors to stderr by default, which a library
 * inside other people's programs must not do (and a wrong-PIN attempt
 * would print there). Our debug log carries the decoded codes; a user who
 * wants tpm2-tss's own log sets TSS2_LOG, which we then leave. tss2 reads
 * its log settings only from the environment, so there is no other way
 * than setenv: done once, before our first tss2 call. */
static void quiet_tss2_log(void)
{
    if (getauxval(AT_SECURE)) {
        /* tss2's own debug log prints session keys, salts and auth values,
         * and TSS2_LOGFILE appends to any file: in a setuid or setgid
         * program neither may come from the invoker's environment (tss2
         * reads them with getenv). */
        setenv("TSS2_LOG", "all+none", 1);   // NOLINT(concurrency-mt-unsafe): once, see above
        unsetenv("TSS2_LOGFILE");            // NOLINT(concurrency-mt-unsafe)
    } else if (getenv("TSS2_LOG") == NULL) { // NOLINT(concurrency-mt-unsafe)
        setenv("TSS2_LOG", "all+none", 0);   // NOLINT(concurrency-mt-unsafe)
    }
}

int envtpm_ctx_new(const envtpm_config *cfg, struct envtpm_ctx **out)
{
    static pthread_once_t tss2_log_once = PTHREAD_ONCE_INIT;
    struct envtpm_ctx *t;
    const char *tcti = NULL, *env;

    *out = NULL;
    pthread_once(&tss2_log_once, quiet_tss2_log);
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    init_lock(&t->lock);
    t->pid = (int)getpid();
    t->srk = ESYS_TR_NONE;
    t->session = ESYS_TR_NONE;
    t->aux = ESYS_TR_NONE;
    /* The environment wins over the configuration so that tests and
     * operators can point a deployed openssl.cnf at another TPM. */
    env = secure_getenv(ENVTPM_TCTI_ENV);
    if (env != NULL && *env != '\0')
        tcti = env;
    else if (cfg != NULL && cfg->tcti != NULL && *cfg->tcti != '\0')
        tcti = cfg->tcti;
    else
        tcti = ENVTPM_DEFAULT_TCTI;
    t->tcti = strdup(tcti);
    if (cfg != NULL && cfg->pin_source != NULL)
        t->pin_source = strdup(cfg->pin_source);
    t->handles = cfg != NULL ? cfg->handles : NULL;
    if (t->tcti == NULL || (cfg != NULL && cfg->pin_source != NULL && t->pin_source == NULL)) {
        envtpm_ctx_free(t);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    if (cfg != NULL && cfg->srk_name_hex != NULL && *cfg->srk_name_hex != '\0' &&
        !parse_name_hex(cfg->srk_name_hex, t->srk_pin, &t->srk_pin_len)) {
        envtpm_ctx_free(t);
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                      "tpm2-srk-name must be the SRK's name in hex (e.g. from "
                      "`tpm2_readpublic -c 0x81000001`), got something else");
        return ENVCORE_R_BAD_CONFIG;
    }
    t->libctx = cfg != NULL ? cfg->libctx : NULL;
    *out = t;
    return ENVCORE_R_OK;
}

/*
 * Drops the connection. `orderly` flushes our sessions first: at teardown,
 * and after an error that leaves them ours (sessions_still_ours). After the
 * others we do not flush: without a resource manager a TPM that was reset
 * may have given the same session handle to another client since.
 */
static void disconnect(struct envtpm_ctx *t, int orderly)
{
    envtpm_hs_free(t->hs); /* wipes the session key */
    t->hs = NULL;
    if (t->esys != NULL) {
        if (orderly && t->aux != ESYS_TR_NONE)
            (void)ENVTPM_ESYS(t, Esys_FlushContext, t->aux);
        if (orderly && t->session != ESYS_TR_NONE)
            (void)ENVTPM_ESYS(t, Esys_FlushContext, t->session);
        envtpm_wipe_response(t); /* Esys_Finalize frees it unwiped */
        Esys_Finalize(&t->esys);
    }
    envtpm_front_free(t->front);
    t->front = NULL;
    if (t->tcti_ctx != NULL)
        Tss2_TctiLdr_Finalize(&t->tcti_ctx);
    t->esys = NULL;
    t->tcti_ctx = NULL;
    t->srk = ESYS_TR_NONE;
    t->session = ESYS_TR_NONE;
    t->aux = ESYS_TR_NONE;
    t->ntrs = 0; /* Esys_Finalize freed them */
}

TSS2_RC envtpm_tr_persistent(struct envtpm_ctx *t, uint32_t handle, ESYS_TR *tr,
                             const unsigned char **name, size_t *name_len)
{
    TPM2B_NAME *n = NULL;
    ESYS_TR s;
    TSS2_RC rc;
    unsigned i;

    for (i = 0; i < t->ntrs; i++) {
        if (t->trs[i].handle == handle) {
            *tr = t->trs[i].tr;
            *name = t->trs[i].name;
            *name_len = t->trs[i].name_len;
            return TSS2_RC_SUCCESS;
        }
    }
    /* The public area read here becomes the key's EVP_PKEY (every software
     * wrap goes to it) and the name its commands are bound to, so it must
     * come from the TPM: ReadPublic in the salted session, whose response
     * HMAC (keyed with the salt only the real TPM could decrypt) ESYS checks
     * over the public area (Part 1 §19.6.8, §19.6.13). An interposer's
     * answer then fails with TSS2_ESYS_RC_RSP_AUTH_FAILED. */
    if (envtpm_aux_session(t, &s) != ENVCORE_R_OK) {
        *tr = ESYS_TR_NONE;
        return t->last_rc != TSS2_RC_SUCCESS ? t->last_rc : TSS2_ESYS_RC_GENERAL_FAILURE;
    }
    rc = ENVTPM_ESYS(t, Esys_TR_FromTPMPublic, handle, s, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc != TSS2_RC_SUCCESS) {
        *tr = ESYS_TR_NONE;
        return rc;
    }
    /* The name once per lookup: Esys_TR_GetName hashes the public area,
     * which per operation would cost more than the rest of our glue. */
    rc = ENVTPM_ESYS(t, Esys_TR_GetName, *tr, &n);
    if (rc != TSS2_RC_SUCCESS || n->size > ENVTPM_MAX_NAME) {
        Esys_Free(n);
        (void)ENVTPM_ESYS(t, Esys_TR_Close, tr);
        *tr = ESYS_TR_NONE;
        return rc != TSS2_RC_SUCCESS ? rc : TSS2_ESYS_RC_GENERAL_FAILURE;
    }
    if (t->ntrs == sizeof(t->trs) / sizeof(t->trs[0])) {
        /* Full: drop the oldest. Nothing else holds it: ESYS_TRs are only
         * used inside one operation, under the lock. */
        (void)ENVTPM_ESYS(t, Esys_TR_Close, &t->trs[0].tr);
        memmove(&t->trs[0], &t->trs[1], sizeof(t->trs[0]) * (t->ntrs - 1));
        t->ntrs--;
    }
    i = t->ntrs++;
    t->trs[i].handle = handle;
    t->trs[i].tr = *tr;
    memcpy(t->trs[i].name, n->name, n->size);
    t->trs[i].name_len = n->size;
    Esys_Free(n);
    *name = t->trs[i].name;
    *name_len = t->trs[i].name_len;
    return TSS2_RC_SUCCESS;
}

/*
 * In a child of fork() the lock may be held by a thread that no longer
 * exists and the connection is the parent's: its session nonces, and its
 * TCTI, whose finalisation would act on the shared socket or device (for
 * mssim/swtpm it sends TPM_SESSION_END, which drops the parent's
 * connection). So the child forgets the parent's ESYS and TCTI contexts
 * without finalising or freeing them (a deliberate leak, once per fork:
 * the ESYS context may even be mid-call in a thread that did not survive)
 * and opens its own on first use. Its copy of the parent's session state
 * (the session key, the nonces) is wiped and freed, never used: the child
 * starts its own session, and does not flush the parent's.
 *
 * Several threads of the child may get here at once: one claims the reset
 * by swapping the pid for -(its pid), the others wait until it stores its
 * pid. A claim by another process (-(parent), a fork during the parent's
 * own reset) is taken over.
 */
static void fork_check(struct envtpm_ctx *t)
{
    int me = (int)getpid();

    for (;;) {
        int was = atomic_load(&t->pid);
        if (was == me)
            return;
        if (was == -me) {
            sched_yield(); /* another thread of ours is resetting */
            continue;
        }
        if (atomic_compare_exchange_strong(&t->pid, &was, -me))
            break;
    }
    init_lock(&t->lock);
    t->orphan_esys = t->esys;
    t->orphan_tcti = t->tcti_ctx;
    t->orphan_front = t->front;
    t->esys = NULL;
    t->tcti_ctx = NULL;
    t->front = NULL;
    t->srk = ESYS_TR_NONE;
    t->session = ESYS_TR_NONE;
    t->aux = ESYS_TR_NONE;
    envtpm_hs_free(t->hs); /* our copy only: the mapping is the child's */
    t->hs = NULL;
    t->ntrs = 0;
    atomic_store(&t->pid, me);
}

static int connect_tpm(struct envtpm_ctx *t)
{
    TSS2_RC rc;
    int r;

    rc = ENVTPM_CALL(t, "Tss2_TctiLdr_Initialize", Tss2_TctiLdr_Initialize(t->tcti, &t->tcti_ctx));
    if (rc != TSS2_RC_SUCCESS) {
        t->tcti_ctx = NULL;
        ENVCORE_RAISE(ENVCORE_R_BACKEND_UNAVAILABLE,
                      "TPM: cannot open TCTI \"%s\"; check tpm2-tcti or %s", t->tcti,
                      ENVTPM_TCTI_ENV);
        return ENVCORE_R_BACKEND_UNAVAILABLE;
    }
    /* ESYS talks to our front TCTI, which carries the salt we compute
     * (tpm_session.c); everything else passes through it unchanged. */
    t->front = envtpm_front_new(t->tcti_ctx);
    if (t->front == NULL) {
        disconnect(t, 0);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    rc = ENVTPM_CALL(t, "Esys_Initialize",
                     Esys_Initialize(&t->esys, envtpm_front_tcti(t->front), NULL));
    if (rc != TSS2_RC_SUCCESS) {
        t->esys = NULL;
        disconnect(t, 0);
        return envtpm_raise_rc(ENVCORE_R_BACKEND_UNAVAILABLE, "Esys_Initialize", rc);
    }
    /* Part 3 §9.3: after a reset the TPM accepts nothing before Startup. A
     * TPM (or resource manager) that is already started answers
     * TPM_RC_INITIALIZE, which is the normal case. */
    rc = ENVTPM_ESYS(t, Esys_Startup, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && envtpm_rc_base(rc) != TPM2_RC_INITIALIZE) {
        disconnect(t, 0);
        return envtpm_raise_rc(envtpm_rc_reason(rc) == ENVCORE_R_BACKEND_UNAVAILABLE
                                   ? ENVCORE_R_BACKEND_UNAVAILABLE
                                   : ENVCORE_R_BACKEND_ERROR,
                               "TPM2_Startup", rc);
    }
    r = envtpm_srk_setup(t);
    if (r != ENVCORE_R_OK) {
        disconnect(t, 0);
        return r;
    }
    t->generation++;
    return ENVCORE_R_OK;
}

/*
 * After a failure, may our sessions be flushed before the connection is
 * dropped? Only if the TPM answered and was not reset: it refused our
 * session's state (TPM_RC_NONCE), is short of session slots, asked us to try
 * again, or gave an answer whose HMAC did not check (or that we could not
 * follow: a poisoned connection). Then the handles are still ours, and
 * leaving them would leak a slot on a TPM without a resource manager. After
 * an I/O error, TPM_RC_INITIALIZE or a lost session they are not: a reset
 * TPM may have given them to another client since.
 */
static int sessions_still_ours(struct envtpm_ctx *t, TSS2_RC rc)
{
    TSS2_RC base = envtpm_rc_base(rc);

    if (t->poisoned)
        return 1;
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_ESAPI_RC_LAYER)
        return (rc & 0xffff) == TSS2_BASE_RC_RSP_AUTH_FAILED;
    if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
        return 0;
    return base == (TPM2_RC_FMT1 | TPM2_RC_NONCE) || base == TPM2_RC_SESSION_MEMORY ||
           base == TPM2_RC_SESSION_HANDLES || base == TPM2_RC_RETRY || base == TPM2_RC_YIELDED ||
           base == TPM2_RC_TESTING || base == TPM2_RC_CANCELED;
}

static int ensure_connected(struct envtpm_ctx *t)
{
    if (t->esys != NULL && t->session != ESYS_TR_NONE && t->hs != NULL && !t->poisoned)
        return ENVCORE_R_OK;
    disconnect(t, 0);
    t->poisoned = 0;
    return connect_tpm(t);
}

void envtpm_ctx_poison(struct envtpm_ctx *t)
{
    t->poisoned = 1;
}

int envtpm_run(struct envtpm_ctx *t, envtpm_op_fn op, void *arg)
{
    int r;

    fork_check(t);
    pthread_mutex_lock(&t->lock);
    r = ensure_connected(t);
    if (r == ENVCORE_R_OK) {
        ERR_set_mark();
        t->last_rc = TSS2_RC_SUCCESS;
        r = op(t, arg);
        if (r != ENVCORE_R_OK && envtpm_rc_retryable(t->last_rc)) {
            /* A reset TPM, a dropped connection, a lost session or one whose
             * answers do not check: reconnect (new session) and retry once;
             * the first attempt's errors go. Never more than once. */
            envcore_debug("tpm2: %s failed with a retryable code; reconnecting",
                          t->last_fn != NULL ? t->last_fn : "?");
            ERR_pop_to_mark();
            disconnect(t, sessions_still_ours(t, t->last_rc));
            t->poisoned = 0;
            t->reconnects++;
            r = connect_tpm(t);
            if (r == ENVCORE_R_OK) {
                t->last_rc = TSS2_RC_SUCCESS;
                r = op(t, arg);
            }
        } else {
            ERR_clear_last_mark();
        }
        if (t->poisoned) {
            /* the connection's state is not to be trusted (an auth value
             * ESYS may still hold, session nonces out of step): drop it now,
             * not at the next use; the TPM is alive, so flush our sessions */
            disconnect(t, 1);
            t->poisoned = 0;
        } else if (t->aux != ESYS_TR_NONE && t->esys != NULL) {
            envtpm_flush(t, t->aux);
            t->aux = ESYS_TR_NONE;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

static int noop(struct envtpm_ctx *t, void *arg)
{
    return ENVCORE_R_OK;
}

int envtpm_ctx_connect(struct envtpm_ctx *t)
{
    return envtpm_run(t, noop, NULL);
}

int envtpm_srk_name(struct envtpm_ctx *t, unsigned char *name, size_t *len, size_t size)
{
    int r = ENVCORE_R_OK;

    fork_check(t);
    pthread_mutex_lock(&t->lock);
    if (t->srk_name_len == 0) {
        r = ENVCORE_R_BACKEND_UNAVAILABLE;
        ENVCORE_RAISE(r, "TPM: not connected yet");
    } else if (size < t->srk_name_len) {
        r = ENVCORE_R_BUFFER_TOO_SMALL;
        ENVCORE_RAISE(r, "TPM: buffer too small for the SRK name");
    } else {
        memcpy(name, t->srk_name, t->srk_name_len);
        *len = t->srk_name_len;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

unsigned envtpm_session_starts(struct envtpm_ctx *t)
{
    unsigned n;

    fork_check(t);
    pthread_mutex_lock(&t->lock);
    n = t->session_starts;
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned long envtpm_session_commands(struct envtpm_ctx *t)
{
    unsigned long n;

    fork_check(t);
    pthread_mutex_lock(&t->lock);
    n = envtpm_hs_commands(t->hs);
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned envtpm_reconnects(struct envtpm_ctx *t)
{
    unsigned n;

    fork_check(t);
    pthread_mutex_lock(&t->lock);
    n = t->reconnects;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void envtpm_ctx_free(struct envtpm_ctx *t)
{
    if (t == NULL)
        return;
    fork_check(t);
    pthread_mutex_lock(&t->lock);
    disconnect(t, 1);
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_destroy(&t->lock);
    free(t->tcti);
    free(t->pin_source);
    OPENSSL_cleanse(t, sizeof(*t));
    free(t);
}
