/*
 * hsm_fork.c - the fork gate: no thread is inside the PKCS#11 client (and so
 * inside a module's C_* call, or holding one of our locks) at the instant a
 * process forks.
 *
 * Why: a child is a copy of the forking thread alone. A lock another thread
 * held at fork() -- the module's own (SoftHSM2 takes its session and object
 * store mutexes inside C_Decrypt), our ctx, token or key locks -- stays held
 * in the child for ever, and the child's first C_Finalize/C_Initialize or
 * session lookup deadlocks (seen under load: provider.softhsm.fault-fork-busy
 * caught it within a few forks while four threads were in C_Decrypt).
 * PKCS#11 v2.40 §5.4 only says the child must call C_Initialize again; it
 * cannot if the module's state was frozen mid-call.
 *
 * How: every entry point of this layer (the backend table in hsm_entry.c and
 * the key ops in hsm_keyops.c) runs between hsm_gate_enter and
 * hsm_gate_leave. The pthread_atfork prepare handler closes the gate (new
 * entries wait), waits until the threads inside have left, and keeps the
 * gate's mutex across fork(); the parent reopens it; the child resets it
 * (the threads that were waiting do not exist there). All our locks and a
 * module's are taken only inside the gate, so none is held at fork; the
 * child re-initialises each module on its next use, as hsm_ensure_loaded
 * does for any pid change (hsm_module.c).
 *
 * Re-entry: an entry point may be reached again on the same thread (the
 * key callback of hsm_find_keys runs provider code that uses the key); the
 * per-thread depth makes a nested entry pass without waiting, and a fork
 * made from inside the layer waits only for the other threads.
 *
 * Cost: a fork waits for the calls in flight to finish (a KMS bridge call
 * is bounded by its own timeouts); an entry costs one uncontended mutex.
 */
#include "hsm_internal.h"

#include <pthread.h>

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static unsigned gate_inside;              /* threads between enter and leave */
static int gate_forking;                  /* a fork is being prepared: entries wait */
static _Thread_local unsigned gate_depth; /* this thread's nesting */
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;

static void gate_prepare(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_forking = 1;
    unsigned mine = gate_depth > 0 ? 1u : 0u;
    while (gate_inside > mine)
        pthread_cond_wait(&gate_changed, &gate_lock);
    /* gate_lock stays held across fork(): no thread can be half-way
     * through enter or leave in the child */
}

static void gate_parent(void)
{
    gate_forking = 0;
    pthread_cond_broadcast(&gate_changed);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_child(void)
{
    /* Only this thread exists: the waiters of the parent's condition
     * variable are gone, so it starts again from scratch. */
    gate_forking = 0;
    gate_inside = gate_depth > 0 ? 1u : 0u;
    pthread_cond_init(&gate_changed, NULL);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_install(void)
{
    if (pthread_atfork(gate_prepare, gate_parent, gate_child) != 0)
        envcore_debug("pkcs11: pthread_atfork failed: a fork during a PKCS#11 call may "
                      "deadlock the child");
}

void hsm_gate_enter(void)
{
    if (gate_depth++ > 0)
        return;
    pthread_once(&gate_once, gate_install);
    pthread_mutex_lock(&gate_lock);
    while (gate_forking)
        pthread_cond_wait(&gate_changed, &gate_lock);
    gate_inside++;
    pthread_mutex_unlock(&gate_lock);
}

void hsm_gate_leave(void)
{
    if (--gate_depth > 0)
        return;
    pthread_mutex_lock(&gate_lock);
    gate_inside--;
    if (gate_forking)
        pthread_cond_broadcast(&gate_changed);
    pthread_mutex_unlock(&gate_lock);
}
