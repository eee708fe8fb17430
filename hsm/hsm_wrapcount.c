/*
 * hsm_wrapcount.c - how many DEKs an AES-GCM KEK has wrapped.
 *
 * Every wrap under an AES KEK uses a fresh random 96-bit IV; NIST SP
 * 800-38D §8.3 bounds one key to 2^32 such invocations. The count is kept
 * on the token itself, in a private CKO_DATA object next to the key
 * (label "envelope-wraps:<CKA_ID in hex>", application "envelope wrap
 * count", value: the count as 8 bytes big-endian), so it survives
 * processes and hosts that share the token. Writing it per wrap would
 * double the token's work, so a process reserves blocks of WRAP_BLOCK:
 * it writes count + WRAP_BLOCK before using them, and a crash or exit
 * only overcounts (by less than a block per process). Processes that read
 * the object at the same moment can undercount by a block each; the
 * warning comes at 2^30, a quarter of the bound, for that reason. Where
 * the token refuses the object (the KMS bridge: the KMS picks the IVs, and
 * its own limits apply) the count is kept in the process only.
 *
 * At 2^30 wraps (and at every 2^28 after) a warning says "rotate"
 * (syslog, and the debug log); at 2^32 the provider refuses to wrap under
 * the key. docs/SECURITY.md, "Nonces".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hsm_internal.h"

#define WRAP_BLOCK 1024u
#define WRAP_WARN (1ull << 30)
#define WRAP_WARN_EVERY (1ull << 28)
#define WRAP_LIMIT (1ull << 32)
#define COUNTERS_MAX 256
#define APP "envelope wrap count"

struct counter {
    unsigned char serial[16];
    char label[HSM_MAX_LABEL + 16]; /* "envelope-wraps:<hex id>" */
    uint64_t used, reserved;        /* wraps made; wraps the token's object allows */
    int loaded, persistent;         /* persistent: 0 unknown, 1 on the token, -1 in memory */
    uint64_t next_warn;
};

static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counter counters[COUNTERS_MAX];
static size_t ncounters;

static void label_of(const struct hsm_key *k, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "envelope-wraps:");
    if (k->id_len > 0) {
        for (size_t i = 0; i < k->id_len && o + 3 <= size; i++)
            o += (size_t)snprintf(out + o, size - o, "%02x", k->id[i]);
    } else {
        snprintf(out + o, size - o, "label:%.64s", k->label);
    }
}

static struct counter *counter_for(const struct hsm_key *k)
{
    char label[sizeof(counters[0].label)];
    label_of(k, label, sizeof(label));
    for (size_t i = 0; i < ncounters; i++)
        if (memcmp(counters[i].serial, k->tok->info.serialNumber, 16) == 0 &&
            strcmp(counters[i].label, label) == 0)
            return &counters[i];
    if (ncounters == COUNTERS_MAX)
        return NULL;
    struct counter *c = &counters[ncounters++];
    memset(c, 0, sizeof(*c));
    memcpy(c->serial, k->tok->info.serialNumber, 16);
    snprintf(c->label, sizeof(c->label), "%s", label);
    return c;
}

static void put_u64(unsigned char b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
}

#define OBJECTS_MAX 8

/* The counter objects on the token (normally one; two for a moment while
 * one replaces the other: see reserve). */
static CK_ULONG find_objects(struct hsm_key *k, CK_SESSION_HANDLE s, struct counter *c,
                             CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, c->label, strlen(c->label)},
                        {CKA_APPLICATION, (void *)APP, sizeof(APP) - 1}};
    CK_ULONG got = 0;
    if (P11(k->tok->mod, C_FindObjectsInit, s, t, 3) == CKR_OK) {
        if (P11(k->tok->mod, C_FindObjects, s, h, OBJECTS_MAX, &got) != CKR_OK || got > OBJECTS_MAX)
            got = 0;
        (void)P11(k->tok->mod, C_FindObjectsFinal, s);
    }
    ERR_clear_error();
    return got;
}

static uint64_t value_of(struct hsm_key *k, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    unsigned char v[8];
    CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(v)};
    uint64_t n = 0;
    if (P11(k->tok->mod, C_GetAttributeValue, s, h, &a, 1) == CKR_OK && a.ulValueLen == 8)
        for (int i = 0; i < 8; i++)
            n = n << 8 | v[i];
    ERR_clear_error();
    return n;
}

/*
 * Reads the count (the largest of the objects found) and writes the next
 * reservation: in place where the token lets CKA_VALUE change, else as a
 * new object, the old ones destroyed only after it exists (SoftHSM2 keeps
 * a data object's value read-only), so a crash in between leaves two
 * objects and the larger count, never none.
 */
static void reserve(struct hsm_key *k, struct counter *c)
{
    CK_SESSION_HANDLE s;
    if (c->persistent < 0 || hsm_session_get(k->tok, NULL, NULL, &s) != ENVCORE_R_OK) {
        ERR_clear_error();
        c->persistent = -1;
        c->reserved = c->used + WRAP_BLOCK;
        return;
    }
    CK_OBJECT_HANDLE old[OBJECTS_MAX];
    CK_ULONG nold = find_objects(k, s, c, old);
    for (CK_ULONG i = 0; i < nold; i++) {
        uint64_t stored = value_of(k, s, old[i]);
        if (stored > c->used) /* another process, or an earlier one, got further */
            c->used = stored;
    }
    uint64_t next = c->used + WRAP_BLOCK;
    unsigned char v[8];
    put_u64(v, next);
    CK_ATTRIBUTE va = {CKA_VALUE, v, sizeof(v)};
    CK_RV rv = nold == 1 ? P11(k->tok->mod, C_SetAttributeValue, s, old[0], &va, 1)
                         : CKR_ATTRIBUTE_READ_ONLY;
    if (rv != CKR_OK) {
        CK_OBJECT_CLASS cls = CKO_DATA;
        CK_BBOOL yes = CK_TRUE;
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_TOKEN, &yes, sizeof(yes)},
                            {CKA_PRIVATE, &yes, sizeof(yes)},
                            {CKA_MODIFIABLE, &yes, sizeof(yes)},
                            {CKA_LABEL, c->label, strlen(c->label)},
                            {CKA_APPLICATION, (void *)APP, sizeof(APP) - 1},
                            {CKA_VALUE, v, sizeof(v)}};
        rv = P11(k->tok->mod, C_CreateObject, s, t, 7, &h);
        for (CK_ULONG i = 0; rv == CKR_OK && i < nold; i++)
            (void)P11(k->tok->mod, C_DestroyObject, s, old[i]);
    }
    ERR_clear_error();
    hsm_session_put(k->tok, s, hsm_session_fate_of(rv));
    if (rv != CKR_OK) {
        if (c->persistent == 0)
            envcore_debug("pkcs11: token \"%s\" keeps no wrap count for %s (%s): counted in this "
                          "process only",
                          k->tok->label, c->label, hsm_rv_name(rv));
        c->persistent = -1;
    } else {
        c->persistent = 1;
    }
    c->reserved = next;
}

int hsm_wrap_count(struct hsm_key *k)
{
    pthread_mutex_lock(&counters_lock);
    struct counter *c = counter_for(k);
    if (c == NULL) { /* 256 AES KEKs in one process: the rest go uncounted */
        pthread_mutex_unlock(&counters_lock);
        return ENVCORE_R_OK;
    }
    if (!c->loaded || c->used >= c->reserved) {
        reserve(k, c);
        c->loaded = 1;
        if (c->next_warn == 0)
            c->next_warn = WRAP_WARN;
    }
    if (c->used >= WRAP_LIMIT) {
        uint64_t used = c->used;
        pthread_mutex_unlock(&counters_lock);
        ENVCORE_RAISE(
            ENVCORE_R_POLICY_REFUSED,
            "AES KEK \"%s\" on token \"%s\" has wrapped %llu DEKs with random IVs, the "
            "bound for one AES-GCM key (NIST SP 800-38D): rotate it (envelope kek create, "
            "move the alias, envelope rewrap)",
            k->label, k->tok->label, (unsigned long long)used);
        return ENVCORE_R_POLICY_REFUSED;
    }
    c->used++;
    if (c->used >= c->next_warn) {
        uint64_t used = c->used;
        while (c->next_warn <= used)
            c->next_warn += WRAP_WARN_EVERY;
        syslog(LOG_USER | LOG_WARNING,
               "envelope: AES KEK %s on token %s has wrapped %llu DEKs (the bound is 2^32): "
               "rotate it",
               k->label, k->tok->label, (unsigned long long)used);
        envcore_debug("pkcs11: AES KEK \"%s\" on token \"%s\": %llu wraps, rotate it (bound 2^32)",
                      k->label, k->tok->label, (unsigned long long)used);
    }
    pthread_mutex_unlock(&counters_lock);
    return ENVCORE_R_OK;
}
