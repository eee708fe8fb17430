/*
 * store_common.c - the loader every scheme's STORE shares (see
 * store_common.h).
 */
#include "audit.h"
#include "audit_line.h"
#include "store_common.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "keymgmt_common.h"

/* A listing of a whole token or KMS may be large (the kms-bridge pages
 * through up to 4096 keys); the array grows as keys are found. */
#define STORE_MAX_KEYS 4096

/*
 * The search runs at the first eof() or load(), not at open(): OpenSSL 3.0
 * hands a loader its ctx params (OSSL_STORE_open_ex's params,
 * OSSL_STORE_expect) only after open() returned, and whether the URI came
 * from a message must be known before a token or TPM is touched.
 *
 * A failed search must look like a failed load to every OpenSSL 3.x:
 * OSSL_STORE_load calls eof() first (answer 0 so that load() runs and
 * fails), and 3.0 sets its error flag only if eof() is still 0 right after
 * the failed load(); from then on eof() is 1 so that callers' loops end.
 */
enum store_state {
    STORE_PENDING = 0,   /* not searched yet */
    STORE_READY,         /* searched: keys[] holds the result */
    STORE_FAILED,        /* the search failed; load() has not said so yet */
    STORE_FAILED_LOADED, /* load() failed; eof() answers 0 once more */
    STORE_DONE,          /* failure reported: eof() is 1 */
};

struct envprov_store {
    envprov_ctx *pc;
    char *uri;
    envprov_store_find_fn *find;
    enum store_state state;
    int from_message; /* ENVELOPE_STORE_PARAM_FROM_MESSAGE */
    envkey **keys;
    size_t nkeys, cap, next;
    int expect; /* OSSL_STORE_INFO_* or 0 */
};

envprov_store *envprov_store_new(envprov_ctx *pc, const char *uri, envprov_store_find_fn *find)
{
    envprov_store *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->uri = strdup(uri)) == NULL) {
        free(s);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory opening a store");
        return NULL;
    }
    s->pc = pc;
    s->find = find;
    return s;
}

/* Runs the search once; 1 if keys[] is usable. */
static int searched(envprov_store *s)
{
    if (s->state != STORE_PENDING)
        return s->state == STORE_READY;
    envprov_audit_span sp;
    envprov_audit_begin(s->pc->audit, &sp);
    int r = s->find(s->pc, s->uri, s->from_message, s);
    if (r == ENVCORE_R_OK) {
        s->state = STORE_READY;
        return 1;
    }
    /* a key refused by policy when it is opened (an extractable KEK, a
     * reference a message may not name) is a refusal for the trail too;
     * other failures to find a key are the caller's to report */
    const char *cat = audit_error_category(r);
    if (cat != NULL && strcmp(cat, "policy") == 0)
        envprov_audit_event_uri(s->pc->audit, &sp, ENVPROV_AUDIT_OP_KEK_OPEN, s->uri, NULL, r);
    for (size_t i = 0; i < s->nkeys; i++) /* a partial result is no result */
        envkey_free(s->keys[i]);
    s->nkeys = 0;
    s->state = STORE_FAILED;
    return 0;
}

int envprov_store_add(envkey *k, void *store)
{
    envprov_store *s = store;
    if (s->nkeys == STORE_MAX_KEYS) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI, "the URI matches more than %d keys: name the object",
                      STORE_MAX_KEYS);
        return ENVCORE_R_BAD_URI;
    }
    if (s->nkeys == s->cap) {
        size_t cap = s->cap == 0 ? 16 : s->cap * 2;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        envkey **keys = realloc(s->keys, cap * sizeof(*keys));
        if (keys == NULL) {
            ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory listing keys");
            return ENVCORE_R_INTERNAL;
        }
        s->keys = keys;
        s->cap = cap;
    }
    s->keys[s->nkeys++] = envkey_up(k);
    return ENVCORE_R_OK;
}

const OSSL_PARAM *envprov_store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_int(ENVELOPE_STORE_PARAM_FROM_MESSAGE, NULL),
        OSSL_PARAM_END,
    };
    return settable;
}

int envprov_store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    envprov_store *s = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &s->expect))
        return 0;
    p = OSSL_PARAM_locate_const(params, ENVELOPE_STORE_PARAM_FROM_MESSAGE);
    if (p != NULL) {
        int v = 0;
        /* Only before the search: afterwards it would be a lie. And only
         * ever tightening: once from a message, always from a message. */
        if (!OSSL_PARAM_get_int(p, &v) || (s->state != STORE_PENDING && v != s->from_message)) {
            ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "%s must be set when the store is opened",
                          ENVELOPE_STORE_PARAM_FROM_MESSAGE);
            return 0;
        }
        s->from_message |= v != 0;
    }
    return 1;
}

static int wanted(const envprov_store *s, const envkey *k)
{
    switch (s->expect) {
    case 0: return 1;
    case OSSL_STORE_INFO_PKEY: return k->has_private;
    case OSSL_STORE_INFO_PUBKEY: return k->kind == ENVKEY_RSA || k->kind == ENVKEY_EC_P256;
    default: return 0; /* no certificates, CRLs or parameters here */
    }
}

static void skip_unwanted(envprov_store *s)
{
    while (s->next < s->nkeys && !wanted(s, s->keys[s->next]))
        s->next++;
}

/* The public half of a key pair, as a key of its own: what a caller that
 * asked for public keys (OSSL_STORE_expect PUBKEY: `openssl pkey -pubin`)
 * gets, since a TPM key has no public object to name instead. It has no
 * device behind it: it encrypts and compares, never decrypts. */
static envkey *public_view(const envkey *k)
{
    envkey *v = envkey_new(k->kind, NULL, NULL);
    if (v == NULL || (k->uri != NULL && (v->uri = strdup(k->uri)) == NULL) ||
        !EVP_PKEY_up_ref(k->pub)) {
        envkey_free(v);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return NULL;
    }
    v->pub = k->pub;
    memcpy(v->key_id, k->key_id, sizeof(v->key_id));
    v->key_id_len = k->key_id_len;
    v->bits = k->bits;
    v->has_private = 0;
    return v;
}

int envprov_store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    envprov_store *s = loaderctx;
    if (!searched(s)) {
        if (s->state == STORE_FAILED)
            s->state = STORE_FAILED_LOADED; /* the search raised the reason */
        return 0;
    }
    skip_unwanted(s);
    if (s->next >= s->nkeys)
        return 0;
    envkey *k = s->keys[s->next++], *view = NULL;
    if (s->expect == OSSL_STORE_INFO_PUBKEY && k->has_private && k->pub != NULL) {
        if ((view = public_view(k)) == NULL)
            return 0;
        k = view;
    }
    int type = OSSL_OBJECT_PKEY;
    envprov_keyref ref = {ENVPROV_KEYREF_MAGIC, k};
    const char *data_type = k->kind == ENVKEY_AES_KEK ? ENVELOPE_KEYTYPE_AES_KEK
                            : k->kind == ENVKEY_RSA   ? "RSA"
                                                      : "EC";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref, sizeof(ref)),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, k->uri ? k->uri : (char *)"", 0),
        OSSL_PARAM_construct_end(),
    };
    int ok = object_cb(params, object_cbarg);
    envkey_free(view); /* the KEYMGMT's load took its own reference */
    return ok;
}

int envprov_store_eof(void *loaderctx)
{
    envprov_store *s = loaderctx;
    if (!searched(s)) {
        if (s->state == STORE_FAILED)
            return 0;
        if (s->state == STORE_FAILED_LOADED) {
            s->state = STORE_DONE;
            return 0;
        }
        return 1;
    }
    skip_unwanted(s);
    return s->next >= s->nkeys;
}

int envprov_store_close(void *loaderctx)
{
    envprov_store *s = loaderctx;
    if (s == NULL)
        return 1;
    for (size_t i = 0; i < s->nkeys; i++)
        envkey_free(s->keys[i]);
    free(s->keys);
    free(s->uri);
    free(s);
    return 1;
}

int envprov_store_export_object(void *loaderctx, const void *reference, size_t reference_sz,
                                OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    envprov_keyref ref;
    if (reference_sz != sizeof(ref))
        return 0;
    memcpy(&ref, reference, sizeof(ref));
    if (ref.magic != ENVPROV_KEYREF_MAGIC || ref.key == NULL)
        return 0;
    /* Only a public-only key can be handed to another provider whole. */
    if (ref.key->has_private || ref.key->pub == NULL)
        return 0;
    OSSL_PARAM *params = NULL;
    if (EVP_PKEY_todata(ref.key->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    int ok = export_cb(params, export_cbarg);
    OSSL_PARAM_free(params);
    return ok;
}
