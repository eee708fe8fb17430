/*
 * p11_handle_tables.c - the session and object tables and their handles
 * (see kms_module.h for the rules they keep).
 *
 * A handle is generation << KMS_HANDLE_INDEX_BITS | (index + 1): 0 is never
 * valid (CK_INVALID_HANDLE), and freeing an entry bumps its generation, so
 * a closed session's or destroyed object's handle never comes to name the
 * next session or key put in that entry (an EncryptInit on a destroyed key
 * must not wrap under its successor). The generations live in g_kms and are
 * kept across C_Finalize (p11_initialize.c), so no handle of a previous
 * initialisation becomes valid again either.
 *
 * Locking: everything here but kms_session_lock runs under g_kms.lock,
 * which guards the tables and is never held across network I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kms_module.h"

/* ---- handles ----------------------------------------------------------- */

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

/* ---- sessions ---------------------------------------------------------- */

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

CK_RV kms_session_lock(CK_SESSION_HANDLE h, kms_session **out)
{
    pthread_mutex_lock(&g_kms.lock);
    if (!kms_module_ready()) {
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
    s->aws_alg = 0;
    s->aws_out_max = 0;
}

/* ---- objects ----------------------------------------------------------- */

CK_OBJECT_HANDLE kms_object_intern(CK_SLOT_ID slot, const char *uid, const char *label,
                                   CK_ULONG value_len, uint32_t state, int64_t usage_mask)
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
            o->usage_mask = usage_mask;
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
    o->usage_mask = usage_mask;
    return make_handle(g_kms.object_gen[free_at], free_at);
}

CK_OBJECT_HANDLE kms_object_intern_aws(CK_SLOT_ID slot, const char *arn, const char *label,
                                       int kind, CK_ULONG value_len, const unsigned char *pub,
                                       size_t pub_len)
{
    size_t at = KMS_MAX_OBJECTS;
    for (size_t i = 0; i < KMS_MAX_OBJECTS; i++) {
        kms_object *o = &g_kms.objects[i];
        if (!o->used) {
            if (at == KMS_MAX_OBJECTS)
                at = i;
        } else if (o->slot == slot && o->aws_kind == kind && strcmp(o->uid, arn) == 0) {
            at = i;
            break;
        }
    }
    if (at == KMS_MAX_OBJECTS)
        return 0;
    kms_object *o = &g_kms.objects[at];
    unsigned char *copy = NULL;
    if (pub_len > 0 && (copy = malloc(pub_len)) == NULL)
        return 0;
    if (pub_len > 0)
        memcpy(copy, pub, pub_len);
    free(o->pub_der); /* the KMS is the truth: refresh what it told us now */
    o->used = 1;
    o->slot = slot;
    o->aws_kind = kind;
    snprintf(o->uid, sizeof(o->uid), "%s", arn);
    snprintf(o->label, sizeof(o->label), "%s", label);
    o->value_len = value_len;
    o->state = KMIP_STATE_ACTIVE; /* only Enabled keys are interned */
    o->usage_mask = -1;           /* only ENCRYPT_DECRYPT keys are interned */
    o->pub_der = copy;
    o->pub_der_len = pub_len;
    return make_handle(g_kms.object_gen[at], at);
}

kms_object *kms_object_get(CK_SLOT_ID slot, CK_OBJECT_HANDLE h)
{
    long i = handle_index(h, KMS_MAX_OBJECTS, g_kms.object_gen);
    if (i < 0 || !g_kms.objects[i].used || g_kms.objects[i].slot != slot)
        return NULL;
    return &g_kms.objects[i];
}

void kms_object_forget(kms_object *o)
{
    free(o->pub_der);
    memset(o, 0, sizeof(*o));
    g_kms.object_gen[o - g_kms.objects]++;
}
