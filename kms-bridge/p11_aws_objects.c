/*
 * p11_aws_objects.c - which AWS KMS keys an aws-kms slot shows, as which
 * objects (p11_aws.h): the slot's client, the error mapping, and
 * C_FindObjectsInit's lookup (the `keys` list or ListAliases, then
 * DescribeKey, and GetPublicKey for RSA keys).
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_json.h"
#include "kms_diag.h"
#include "kms_log.h"
#include "kms_text.h"
#include "p11_attributes.h"
#include "p11_aws.h"

#define AWS_LIST_MAX 1024 /* aliases one listing takes (ListAliases pages of 100) */

int kms_aws_slot_init(kms_slot *s, char *err, size_t errlen)
{
    if (!aws_http_global_init()) {
        snprintf(err, errlen, "[%s]: libcurl could not be initialised", s->cfg.section);
        return 0;
    }
    s->aws = calloc(1, sizeof(*s->aws));
    if (s->aws == NULL) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    aws_kms_init(s->aws, &s->cfg.aws, s->cfg.timeout_ms);
    return 1;
}

void kms_aws_slot_cleanup(kms_slot *s, int forked)
{
    if (s->aws == NULL)
        return;
    if (forked)
        s->aws->n_idle = 0; /* the parent's connections: left alone, not closed */
    aws_kms_cleanup(s->aws);
    free(s->aws);
    s->aws = NULL;
}

/* The reason goes to the thread's diagnostic text (shown by the provider)
 * and to the debug log: never a body or a credential, only the service's
 * error type and message. */
static void reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reason(const char *fmt, ...)
{
    char msg[KMS_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kms_diag_add("%s", msg);
    kms_debug("%s", msg);
}

CK_RV kms_aws_ckr(const aws_kms_error *e, const char *op, const char *key)
{
    const char *k = key != NULL ? key : "";
    const char *sep = e->type[0] != '\0' ? ": " : "";
    switch (e->st) {
    case AWS_OK: return CKR_OK;
    case AWS_E_ACCESS:
        reason("AWS KMS %s: access denied: %s", op, e->message);
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    case AWS_E_NOT_FOUND:
        reason("AWS KMS %s: key %s not found: %s", op, k, e->message);
        return CKR_KEY_HANDLE_INVALID;
    case AWS_E_KEY_STATE:
        /* disabled, pending deletion, unavailable: say which, not "denied" */
        reason("AWS KMS %s: key %s cannot be used now: %s: %s", op, k, e->type, e->message);
        return CKR_FUNCTION_FAILED;
    case AWS_E_AUTH:
        reason("AWS KMS %s: %s: the ciphertext does not match key %s and this AAD", op, e->type, k);
        return CKR_ENCRYPTED_DATA_INVALID;
    case AWS_E_UNAVAILABLE:
        reason("AWS KMS %s: unavailable after %d attempt(s): %s%s%s", op, e->attempts, e->type, sep,
               e->message);
        return CKR_DEVICE_ERROR;
    case AWS_E_CREDENTIALS:
        reason("AWS KMS %s: credentials: %s%s%s", op, e->type, sep, e->message);
        /* The service refused the credentials it was given (a wrong secret,
         * an unknown or expired key id): the home said no, as to a wrong
         * PIN (exit 4). None found at all: configuration (exit 1). */
        return e->type[0] != '\0' ? CKR_KEY_FUNCTION_NOT_PERMITTED : CKR_USER_NOT_LOGGED_IN;
    case AWS_E_INPUT:
        reason("AWS KMS %s: the service refused the request: %s: %s", op, e->type, e->message);
        return CKR_ARGUMENTS_BAD;
    case AWS_E_PROTOCOL:
        reason("AWS KMS %s: the answer was refused: %s%s%s", op, e->type, sep, e->message);
        return CKR_FUNCTION_FAILED;
    case AWS_E_INTERNAL: break;
    }
    reason("AWS KMS %s: %s", op, e->message);
    return CKR_GENERAL_ERROR;
}

typedef struct {
    char name[KMIP_MAX_NAME + 1];
} aws_name;

/* The names the slot shows: `keys`, or every alias (but AWS's own
 * alias/aws/...). */
static CK_RV list_names(aws_kms *k, aws_name **out, size_t *n)
{
    const aws_slot_cfg *cfg = k->cfg;
    *n = 0;
    *out = calloc(cfg->n_keys > 0 ? cfg->n_keys : AWS_LIST_MAX, sizeof(**out));
    if (*out == NULL)
        return CKR_HOST_MEMORY;
    if (cfg->n_keys > 0) {
        for (size_t i = 0; i < cfg->n_keys; i++)
            if (strlen(aws_config_key(cfg, i)) <= KMIP_MAX_NAME)
                snprintf((*out)[(*n)++].name, KMIP_MAX_NAME + 1, "%s", aws_config_key(cfg, i));
        return CKR_OK;
    }
    char marker[256] = "";
    for (int page = 0; page < AWS_LIST_MAX / 100 + 1; page++) {
        json_object *req = json_object_new_object(), *resp = NULL;
        json_object_object_add(req, "Limit", json_object_new_int(100));
        if (marker[0] != '\0')
            json_object_object_add(req, "Marker", json_object_new_string(marker));
        aws_kms_error e;
        aws_status st = aws_kms_call(k, "ListAliases", req, 1, &resp, &e);
        json_object_put(req);
        if (st != AWS_OK)
            return kms_aws_ckr(&e, "ListAliases", NULL);
        json_object *list = aws_json_path(resp, "Aliases", NULL);
        size_t m = json_object_get_type(list) == json_type_array ? json_object_array_length(list)
                                                                 : 0;
        for (size_t i = 0; i < m; i++) {
            json_object *a = json_object_array_get_idx(list, i);
            const char *name = aws_json_str(a, "AliasName", NULL);
            if (name == NULL || aws_json_str(a, "TargetKeyId", NULL) == NULL ||
                strncmp(name, "alias/aws/", 10) == 0 || strlen(name) > KMIP_MAX_NAME)
                continue;
            if (*n == AWS_LIST_MAX) {
                json_object_put(resp);
                kms_diag_add("AWS KMS: more than %d aliases; list the keys in `keys`",
                             AWS_LIST_MAX);
                return CKR_FUNCTION_FAILED;
            }
            snprintf((*out)[(*n)++].name, KMIP_MAX_NAME + 1, "%s", name);
        }
        json_object *tr = aws_json_path(resp, "Truncated", NULL);
        const char *next = aws_json_str(resp, "NextMarker", NULL);
        int more = tr != NULL && json_object_get_boolean(tr) && next != NULL &&
                   strlen(next) < sizeof(marker);
        if (more)
            snprintf(marker, sizeof(marker), "%s", next);
        json_object_put(resp);
        if (!more)
            return CKR_OK;
    }
    return CKR_OK;
}

/* DescribeKey (and GetPublicKey) of one name; interns its objects under
 * the lock. *shown: 1 if the key is usable here. */
static CK_RV describe(CK_SLOT_ID slot, aws_kms *k, const char *name, int strict,
                      CK_OBJECT_HANDLE hs[2], size_t *nh)
{
    *nh = 0;
    json_object *req = json_object_new_object(), *resp = NULL;
    json_object_object_add(req, "KeyId", json_object_new_string(name));
    aws_kms_error e;
    aws_status st = aws_kms_call(k, "DescribeKey", req, 1, &resp, &e);
    json_object_put(req);
    if (st != AWS_OK) {
        CK_RV rv = kms_aws_ckr(&e, "DescribeKey", name);
        /* In a listing of all keys, one gone or hidden key is not an error. */
        if (!strict && (st == AWS_E_NOT_FOUND || st == AWS_E_ACCESS))
            return CKR_OK;
        return st == AWS_E_NOT_FOUND ? CKR_OK : rv;
    }
    json_object *md = aws_json_path(resp, "KeyMetadata", NULL);
    const char *kid = aws_json_str(md, "KeyId", NULL);
    const char *state = aws_json_str(md, "KeyState", NULL);
    const char *usage = aws_json_str(md, "KeyUsage", NULL);
    const char *spec = aws_json_str(md, "KeySpec", NULL);
    if (spec == NULL)
        spec = aws_json_str(md, "CustomerMasterKeySpec", NULL);
    CK_RV rv = CKR_OK;
    if (kid == NULL || state == NULL || usage == NULL || spec == NULL || strlen(kid) > 64) {
        kms_diag_add("AWS KMS DescribeKey %s: the answer lacks KeyId, KeyState, KeyUsage or "
                     "KeySpec",
                     name);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (strcmp(state, "Enabled") != 0 || strcmp(usage, "ENCRYPT_DECRYPT") != 0) {
        kms_debug("aws: key %s is %s, %s: not shown", name, state, usage);
        /* Named on purpose (by label): say why it cannot be used, rather
         * than "not found" (a listing just leaves it out). */
        if (strict) {
            reason("AWS KMS: key %s is %s (usage %s): not usable; enable it or use another KEK",
                   name, state, usage);
            rv = CKR_FUNCTION_FAILED;
        }
        goto out;
    }
    unsigned char pub[KMS_AWS_PUB_MAX];
    size_t pub_len = 0;
    int bits = 0;
    if (strcmp(spec, "SYMMETRIC_DEFAULT") == 0) {
        bits = 256;
    } else if (strcmp(spec, "RSA_2048") == 0 || strcmp(spec, "RSA_3072") == 0 ||
               strcmp(spec, "RSA_4096") == 0) {
        json_object *preq = json_object_new_object(), *presp = NULL;
        json_object_object_add(preq, "KeyId", json_object_new_string(kid));
        st = aws_kms_call(k, "GetPublicKey", preq, 1, &presp, &e);
        json_object_put(preq);
        if (st != AWS_OK) {
            rv = kms_aws_ckr(&e, "GetPublicKey", name);
            goto out;
        }
        size_t b64n = 0;
        const char *b64 = aws_json_str(presp, "PublicKey", &b64n);
        int dn = b64 != NULL && b64n <= 4 * (KMS_AWS_PUB_MAX / 3)
                     ? EVP_DecodeBlock(pub, (const unsigned char *)b64, (int)b64n)
                     : -1;
        const unsigned char *p = pub;
        EVP_PKEY *pk = dn > 0 ? d2i_PUBKEY(NULL, &p, dn) : NULL;
        bits = pk != NULL && EVP_PKEY_is_a(pk, "RSA") ? EVP_PKEY_get_bits(pk) : 0;
        /* base64 decodes to a multiple of 3: the DER's own length is exact */
        pub_len = pk != NULL ? (size_t)(p - pub) : 0;
        EVP_PKEY_free(pk);
        json_object_put(presp);
        if (bits < 2048) {
            kms_diag_add("AWS KMS GetPublicKey %s: not an RSA public key of 2048+ bits", name);
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
    } else {
        kms_debug("aws: key %s has KeySpec %s: not shown", name, spec);
        goto out;
    }
    pthread_mutex_lock(&g_kms.lock);
    if (bits == 256) {
        hs[(*nh)++] = kms_object_intern_aws(slot, kid, name, KMS_AWS_AES, 32, NULL, 0);
    } else {
        hs[(*nh)++] = kms_object_intern_aws(slot, kid, name, KMS_AWS_RSA_PRIVATE, 0, pub, pub_len);
        hs[(*nh)++] = kms_object_intern_aws(slot, kid, name, KMS_AWS_RSA_PUBLIC, 0, pub, pub_len);
    }
    pthread_mutex_unlock(&g_kms.lock);
    for (size_t i = 0; i < *nh; i++)
        if (hs[i] == 0) {
            kms_diag_add("kms-bridge: object table full (%d keys)", KMS_MAX_OBJECTS);
            rv = CKR_HOST_MEMORY;
        }
out:
    json_object_put(resp);
    return rv;
}

CK_RV kms_aws_find(CK_SLOT_ID slot, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **found,
                   size_t *nfound)
{
    aws_kms *k = g_kms.slots[slot].aws;
    char label[KMIP_MAX_NAME + 1] = "";
    int by_label = 0;
    *found = NULL;
    *nfound = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        if (tmpl[i].type == CKA_LABEL) {
            by_label = 1;
            if (!kms_attr_string(&tmpl[i], label, sizeof(label)))
                return CKR_OK; /* no name of ours is empty or that long */
        }
        /* A CKA_ID that cannot be a KeyId (a keygen's random binary probe)
         * names nothing: answered without a round trip. */
        if (tmpl[i].type == CKA_ID &&
            (tmpl[i].pValue == NULL || !kms_uid_ok(tmpl[i].pValue, tmpl[i].ulValueLen, 64)))
            return CKR_OK;
    }
    aws_name *names = NULL;
    size_t nn = 0;
    CK_RV rv = CKR_OK;
    if (by_label) {
        /* Only a name the slot shows: one of `keys`, or an alias. */
        int shown = k->cfg->n_keys == 0 ? strncmp(label, "alias/", 6) == 0 : 0;
        for (size_t i = 0; i < k->cfg->n_keys && !shown; i++)
            shown = strcmp(aws_config_key(k->cfg, i), label) == 0;
        if (!shown)
            return CKR_OK;
        if ((names = calloc(1, sizeof(*names))) == NULL)
            return CKR_HOST_MEMORY;
        snprintf(names[0].name, sizeof(names[0].name), "%s", label);
        nn = 1;
    } else if ((rv = list_names(k, &names, &nn)) != CKR_OK) {
        free(names);
        return rv;
    }
    CK_OBJECT_HANDLE *hs = calloc(2 * (nn > 0 ? nn : 1), sizeof(*hs));
    if (hs == NULL) {
        free(names);
        return CKR_HOST_MEMORY;
    }
    size_t nh = 0;
    for (size_t i = 0; i < nn && rv == CKR_OK; i++) {
        CK_OBJECT_HANDLE two[2];
        size_t got = 0;
        rv = describe(slot, k, names[i].name, by_label, two, &got);
        pthread_mutex_lock(&g_kms.lock);
        for (size_t j = 0; rv == CKR_OK && j < got; j++) {
            kms_object *o = kms_object_get(slot, two[j]);
            if (o != NULL && kms_attr_matches(o, tmpl, n))
                hs[nh++] = two[j];
        }
        pthread_mutex_unlock(&g_kms.lock);
    }
    free(names);
    if (rv != CKR_OK) {
        free(hs);
        return rv;
    }
    *found = hs;
    *nfound = nh;
    return CKR_OK;
}
