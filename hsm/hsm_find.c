/*
 * hsm_find.c - from a pkcs11: URI to the keys it names.
 *
 * Tokens are enumerated on every lookup (C_GetSlotList(TRUE) is cheap and a
 * token may have been inserted since); token structures are never freed
 * before the context, because keys point at them.
 */
#include "hsm_internal.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "secmem.h"

#define HSM_MAX_SLOTS 64
#define HSM_MAX_OBJECTS 4096 /* per token and search; the list grows as found */

static struct hsm_token *token_for_slot(struct hsm_ctx *h, struct hsm_module *m, CK_SLOT_ID slot)
{
    for (struct hsm_token *t = m->tokens; t != NULL; t = t->next)
        if (t->slot == slot)
            return t;
    struct hsm_token *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->mod = m;
    t->slot = slot;
    t->tokens = h->tokens;
    pthread_mutex_init(&t->lock, NULL);
    t->next = m->tokens;
    m->tokens = t;
    return t;
}

void hsm_refresh_tokens(struct hsm_ctx *h, struct hsm_module *m)
{
    CK_SLOT_ID slots[HSM_MAX_SLOTS];
    CK_ULONG n = HSM_MAX_SLOTS;
    CK_RV rv = P11(m, C_GetSlotList, CK_TRUE, slots, &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        envcore_debug("pkcs11: %s has more than %d slots with tokens; using the first %d", m->path,
                      HSM_MAX_SLOTS, HSM_MAX_SLOTS);
        n = HSM_MAX_SLOTS;
    } else if (rv != CKR_OK) {
        return;
    }
    if (n > HSM_MAX_SLOTS)
        n = HSM_MAX_SLOTS;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        CK_SLOT_INFO sinfo;
        if (P11(m, C_GetTokenInfo, slots[i], &info) != CKR_OK ||
            P11(m, C_GetSlotInfo, slots[i], &sinfo) != CKR_OK)
            continue;
        if (!(info.flags & CKF_TOKEN_INITIALIZED))
            continue;
        struct hsm_token *t = token_for_slot(h, m, slots[i]);
        if (t == NULL)
            continue;
        const struct hsm_token_binding *b = hsm_token_list_match(h->tokens, &info);
        pthread_mutex_lock(&t->lock);
        t->info = info;
        t->slot_info = sinfo;
        hsm_trim_label(t->label, info.label, sizeof(info.label));
        if (b != t->binding && t->pin != NULL) {
            /* relabelled into another binding: a PIN kept from before is
             * not this token's to get */
            envelope_secmem_free(t->pin);
            t->pin = NULL;
        }
        t->binding = b;
        t->default_pin_source = hsm_token_binding_pin_source(b);
        pthread_mutex_unlock(&t->lock);
    }
}

int hsm_token_matches(const struct hsm_token *t, P11KitUri *p)
{
    CK_SLOT_ID want = p11_kit_uri_get_slot_id(p);
    return (want == (CK_SLOT_ID)-1 || want == t->slot) &&
           p11_kit_uri_match_slot_info(p, (CK_SLOT_INFO *)&t->slot_info) &&
           p11_kit_uri_match_token_info(p, (CK_TOKEN_INFO *)&t->info);
}

int hsm_module_matches(const struct hsm_module *m, P11KitUri *p)
{
    if (!p11_kit_uri_match_module_info(p, (CK_INFO *)&m->info))
        return 0;
    const char *want_path = p11_kit_uri_get_module_path(p);
    if (want_path != NULL && strcmp(want_path, m->path) != 0)
        return 0;
    const char *want_name = p11_kit_uri_get_module_name(p);
    if (want_name != NULL) {
        char *copy = strdup(m->path);
        if (copy == NULL)
            return 0;
        const char *base = basename(copy);
        size_t wl = strlen(want_name);
        int ok = strcmp(base, want_name) == 0 ||
                 (strncmp(base, want_name, wl) == 0 && strcmp(base + wl, ".so") == 0);
        free(copy);
        return ok;
    }
    return 1;
}

struct found {
    CK_OBJECT_HANDLE obj;
    CK_OBJECT_CLASS cls;
    unsigned char id[HSM_MAX_ID];
    CK_ULONG id_len;
};

/* What a search does with each key: open it (key_cb), or only read what
 * it is for `envelope kek check` (check_cb, hsm_check.c). */
struct hsm_visit {
    hsm_key_cb key_cb;
    envcore_check_cb *check_cb;
    void *arg;
};

/* Search one token; report keys to the visitor. *nfound counts reported keys. */
static int search_token(struct hsm_ctx *h, struct hsm_token *t, P11KitUri *p,
                        const struct hsm_visit *v, int *nfound)
{
    CK_SESSION_HANDLE s;
    if (v->check_cb != NULL) {
        int usable = 1;
        int r = hsm_check_token(t, v->check_cb, v->arg, &usable);
        if (r != ENVCORE_R_OK || !usable) {
            (*nfound)++; /* the token entry is the answer */
            return r;
        }
    }
    int ret = hsm_session_get(t, p11_kit_uri_get_pin_source(p), p11_kit_uri_get_pin_value(p), &s);
    if (ret != ENVCORE_R_OK)
        return ret;
    CK_ULONG nattr = 0;
    CK_ATTRIBUTE *tmpl = p11_kit_uri_get_attributes(p, &nattr);
    CK_OBJECT_CLASS want_cls = (CK_OBJECT_CLASS)-1;
    for (CK_ULONG i = 0; i < nattr; i++)
        if (tmpl[i].type == CKA_CLASS && tmpl[i].ulValueLen == sizeof(CK_OBJECT_CLASS))
            want_cls = *(CK_OBJECT_CLASS *)tmpl[i].pValue;

    size_t cap = 64;
    struct found *list = calloc(cap, sizeof(*list));
    if (list == NULL) {
        hsm_session_put(t, s, HSM_SESSION_KEEP);
        return ENVCORE_R_INTERNAL;
    }
    CK_ULONG count = 0;
    int too_many = 0;
    CK_RV rv = P11(t->mod, C_FindObjectsInit, s, tmpl, nattr);
    if (rv == CKR_OK) {
        /* C_FindObjects returns at most what it is asked for per call:
         * continue until it returns none (PKCS#11 v2.40 §5.6). */
        CK_OBJECT_HANDLE handles[64];
        for (;;) {
            CK_ULONG got = 0;
            rv = P11(t->mod, C_FindObjects, s, handles, 64, &got);
            if (rv != CKR_OK || got == 0 || got > 64)
                break;
            if (count + got > HSM_MAX_OBJECTS) {
                too_many = 1;
                break;
            }
            if (count + got > cap) {
                size_t ncap = cap * 2 >= count + got ? cap * 2 : count + got;
                struct found *nl = realloc(list, ncap * sizeof(*list));
                if (nl == NULL) {
                    rv = CKR_HOST_MEMORY;
                    break;
                }
                memset(nl + cap, 0, (ncap - cap) * sizeof(*list));
                list = nl;
                cap = ncap;
            }
            for (CK_ULONG i = 0; i < got; i++)
                list[count++].obj = handles[i];
        }
        (void)P11(t->mod, C_FindObjectsFinal, s);
        for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
            CK_ATTRIBUTE a[2] = {{CKA_CLASS, &list[i].cls, sizeof(list[i].cls)},
                                 {CKA_ID, list[i].id, sizeof(list[i].id)}};
            if (P11(t->mod, C_GetAttributeValue, s, list[i].obj, a, 2) != CKR_OK ||
                a[1].ulValueLen > sizeof(list[i].id)) { /* also a non-conforming length */
                list[i].cls = (CK_OBJECT_CLASS)-1;      /* unreadable: skip it */
                continue;
            }
            list[i].id_len = a[1].ulValueLen;
        }
    }
    if (too_many) {
        hsm_session_put(t, s, HSM_SESSION_KEEP);
        free(list);
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "the URI matches more than %d objects on token \"%s\": name the object",
                      HSM_MAX_OBJECTS, t->label);
        return ENVCORE_R_BAD_URI;
    }
    if (rv != CKR_OK) {
        hsm_session_put(t, s, hsm_session_fate_of(rv));
        free(list);
        return hsm_raise_rv(rv, "C_FindObjects", t->label, NULL);
    }
    ret = ENVCORE_R_OK;
    for (CK_ULONG i = 0; i < count && ret == ENVCORE_R_OK; i++) {
        struct found *f = &list[i];
        if (f->cls != CKO_SECRET_KEY && f->cls != CKO_PRIVATE_KEY && f->cls != CKO_PUBLIC_KEY)
            continue;
        /* One EVP_PKEY per key pair: the private key carries the public
         * half, so its public object is reported only when asked for. */
        if (f->cls == CKO_PUBLIC_KEY && want_cls != CKO_PUBLIC_KEY) {
            int paired = 0;
            for (CK_ULONG j = 0; j < count && !paired; j++)
                paired = list[j].cls == CKO_PRIVATE_KEY && list[j].id_len == f->id_len &&
                         memcmp(list[j].id, f->id, f->id_len) == 0;
            if (paired)
                continue;
        }
        if (v->check_cb != NULL) {
            /* a key pair is one KEK: its public half's usages count too */
            CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
            for (CK_ULONG j = 0; f->cls == CKO_PRIVATE_KEY && j < count; j++)
                if (list[j].cls == CKO_PUBLIC_KEY && list[j].id_len == f->id_len &&
                    memcmp(list[j].id, f->id, f->id_len) == 0)
                    pub = list[j].obj;
            ret = hsm_check_object(t, s, f->obj, pub, v->check_cb, v->arg, nfound);
            continue;
        }
        int reason = ENVCORE_R_OK;
        envkey *k = hsm_key_wrap(h, t, s, f->obj, &reason);
        if (k == NULL) {
            if (reason == ENVCORE_R_NOT_SUPPORTED && want_cls == (CK_OBJECT_CLASS)-1)
                continue; /* listing a token: skip keys that are not KEKs */
            ret = reason;
            break;
        }
        (*nfound)++;
        /* a search has exactly one of the two callbacks */
        ret = v->key_cb != NULL ? v->key_cb(k, v->arg) : ENVCORE_R_INTERNAL;
        envkey_free(k);
    }
    hsm_session_put(t, s, HSM_SESSION_KEEP);
    free(list);
    return ret;
}

/* A reference from a message that may not be opened: skipped, not an
 * error of the message or the backend. Nothing was offered to any token. */
static int not_allowed(P11KitUri *p, const char *why)
{
    envcore_debug("pkcs11: a reference from a message was not opened: %s", why);
    ENVCORE_RAISE(ENVCORE_R_REFERENCE_NOT_ALLOWED,
                  "a message's KEK reference %s; name the KEK with --kek, or list its token in "
                  "pkcs11-tokens",
                  why);
    p11_kit_uri_free(p);
    return ENVCORE_R_REFERENCE_NOT_ALLOWED;
}

static int find(struct hsm_ctx *h, const char *uri, unsigned flags, const struct hsm_visit *v)
{
    P11KitUri *p = NULL;
    int from_message = (flags & HSM_FIND_FROM_MESSAGE) != 0;
    int ret = hsm_uri_parse(uri, &p);
    if (ret != ENVCORE_R_OK)
        return ret;
    if (from_message) {
        /* A message names a key, never how to reach it (docs/PROVIDER.md). */
        if (p11_kit_uri_get_pin_source(p) != NULL || p11_kit_uri_get_pin_value(p) != NULL ||
            p11_kit_uri_get_module_path(p) != NULL || p11_kit_uri_get_module_name(p) != NULL)
            return not_allowed(p, "carries a PIN or module attribute");
        if (hsm_uri_names_slot_or_library(p))
            return not_allowed(p, "names a slot or library (slot-*, library-*)");
        if (hsm_token_list_empty(h->tokens))
            return not_allowed(p, "names a token, and pkcs11-tokens lists none");
    }
    if ((ret = hsm_ensure_loaded(h)) != ENVCORE_R_OK) {
        p11_kit_uri_free(p);
        return ret;
    }
    struct hsm_token *matched[HSM_MAX_SLOTS * HSM_MAX_MODULES];
    const struct hsm_token_binding *present[HSM_MAX_SLOTS * HSM_MAX_MODULES];
    size_t nmatched = 0, nunlisted = 0, npresent = 0;
    int any_module = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nmods; i++) {
        struct hsm_module *m = &h->mods[i];
        if (!hsm_module_matches(m, p))
            continue;
        any_module = 1;
        hsm_refresh_tokens(h, m);
        for (struct hsm_token *t = m->tokens; t != NULL; t = t->next) {
            if (t->binding != NULL && npresent < sizeof(present) / sizeof(present[0]))
                present[npresent++] = t->binding;
            if (nmatched == sizeof(matched) / sizeof(matched[0]) || !hsm_token_matches(t, p))
                continue;
            if (from_message && t->binding == NULL)
                nunlisted++; /* never searched: no login, no PIN */
            else
                matched[nmatched++] = t;
        }
    }
    pthread_mutex_unlock(&h->lock);

    /* Nothing to search. "Token not present" (an outage: exit 3) only if
     * the reference names a listed token that really is absent; anything
     * else a message names is not ours to open, whatever it adds (a
     * serial= or model= that matches no token must not fake an outage). */
    if (from_message && nmatched == 0 &&
        (nunlisted > 0 || !hsm_token_list_names_absent(h->tokens, p, present, npresent)))
        return not_allowed(p, "names no token listed in pkcs11-tokens");
    if (!any_module) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "the URI's module-path/module-name/library-* names no module in "
                      "pkcs11-module (only configured modules are used)");
        p11_kit_uri_free(p);
        return ENVCORE_R_BAD_URI;
    }
    if (nmatched == 0) {
        const CK_TOKEN_INFO *want = p11_kit_uri_get_token_info(p);
        char label[33];
        hsm_trim_label(label, want->label, sizeof(want->label));
        /* Every token seen in this process keeps its record (one per
         * slot), so a token that was here and went away still matches and
         * fails as an outage when used. No record: it never was here, a
         * configuration mistake (a typo in token=, a wrong pkcs11-module). */
        ENVCORE_RAISE(ENVCORE_R_TOKEN_UNKNOWN,
                      "no token matching \"%s\" in the configured PKCS#11 modules; "
                      "list tokens with: pkcs11-tool --module MODULE -L",
                      label[0] ? label : "(any)");
        p11_kit_uri_free(p);
        return ENVCORE_R_TOKEN_UNKNOWN;
    }
    int nfound = 0;
    for (size_t i = 0; i < nmatched && ret == ENVCORE_R_OK; i++)
        ret = search_token(h, matched[i], p, v, &nfound);
    if (ret == ENVCORE_R_OK && nfound == 0) {
        CK_ATTRIBUTE *lab = p11_kit_uri_get_attribute(p, CKA_LABEL);
        char obj[HSM_MAX_LABEL + 1] = "";
        if (lab != NULL && lab->ulValueLen <= HSM_MAX_LABEL) {
            memcpy(obj, lab->pValue, lab->ulValueLen);
            obj[lab->ulValueLen] = '\0';
        }
        ENVCORE_RAISE(ENVCORE_R_OBJECT_NOT_FOUND,
                      "no key%s%s%s on token \"%s\"; list keys with: "
                      "envelope kek list 'pkcs11:token=%s'",
                      obj[0] ? " \"" : "", obj, obj[0] ? "\"" : "", matched[0]->label,
                      matched[0]->label);
        ret = ENVCORE_R_OBJECT_NOT_FOUND;
    }
    p11_kit_uri_free(p);
    return ret;
}

int hsm_find_keys(struct hsm_ctx *h, const char *uri, unsigned flags, hsm_key_cb cb, void *arg)
{
    struct hsm_visit v = {cb, NULL, arg};
    return find(h, uri, flags, &v);
}

int hsm_check_keys(struct hsm_ctx *h, const char *uri, envcore_check_cb *cb, void *arg)
{
    struct hsm_visit v = {NULL, cb, arg};
    return find(h, uri, 0, &v);
}
