/*
 * p11_lookup.c - KMIP Locate with paging, then Get Attributes per hit; see
 * p11_lookup.h.
 *
 * Paging: a Locate answers at most Maximum Items (one page, KMIP_MAX_LOCATE)
 * and PyKMIP 0.10 does not say whether more exist (no Located Items), so an
 * answer of a full page is followed by the next one, with Offset Items
 * (KMIP 1.3+ §4.9), until a page comes back short. Nothing is cut silently:
 * past KMS_LOOKUP_MAX keys the listing fails with a reason.
 *
 * KMIP has no snapshot across requests: a key created or destroyed between
 * two pages shifts the server's order (PyKMIP: newest first) and could make
 * a key appear twice or, worse, be skipped. So each page after the first
 * starts one item early, and that item must be the last one of the page
 * before; if it is not, the set moved under us and the listing starts
 * again (up to LOOKUP_RESTARTS times, then it fails with a reason).
 */
#include "p11_lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_diag.h"
#include "kms_log.h"
#include "kms_ops.h"

#define LOOKUP_RESTARTS 3

typedef char uid_buf[KMIP_MAX_UID + 1];

/* AES keys of a size we can use, in a State that allows Encrypt or
 * Decrypt (KMIP 1.4 §3.22: Active, or Deactivated for Decrypt); anything
 * else on the KMS is not shown. A Pre-Active key (e.g. left behind by a
 * Create whose Activate never came) would only ever answer "denied"; a
 * Compromised or Destroyed one must not be used. */
static int usable(const kmip_key_attrs *a)
{
    return a->object_type == KMIP_OBJECT_SYMMETRIC_KEY && a->algorithm == KMIP_ALG_AES &&
           (a->length_bits == 128 || a->length_bits == 192 || a->length_bits == 256) &&
           kms_state_allows(a->state, KMS_OP_NONE);
}

/* One pass over the pages. 1: done (*nu identifiers in uids); 0: the set
 * moved between pages (start again); -1: failed (*rv set). */
static int locate_pass(kms_slot *ks, const char *label, uid_buf *uids, size_t *nu, CK_RV *rv)
{
    uid_buf page[KMIP_MAX_LOCATE];
    kmip_result res;
    *nu = 0;
    for (;;) {
        /* After the first page, ask from one item back: it must be the one
         * we already have last. */
        uint32_t offset = *nu == 0 ? 0 : (uint32_t)(*nu - 1);
        size_t got = 0;
        /* More than Maximum Items answered is a refused answer
         * (CKR_FUNCTION_FAILED), never taken for a match. */
        kms_status st = kms_op_locate(ks, label, offset, page, KMIP_MAX_LOCATE, &got, &res);
        if (st != KMS_OK) {
            *rv = kms_ckr(st, &res, KMS_CTX_OBJECT);
            return -1;
        }
        size_t skip = 0;
        if (*nu > 0) {
            if (got == 0 || strcmp(page[0], uids[*nu - 1]) != 0) {
                kms_debug("slot %s: Locate: the key list changed between pages (at %zu)",
                          ks->cfg.label, *nu);
                return 0;
            }
            skip = 1;
        }
        for (size_t i = skip; i < got; i++) {
            if (*nu == KMS_LOOKUP_MAX) {
                kms_debug("slot %s: Locate: more than %d keys", ks->cfg.label, KMS_LOOKUP_MAX);
                kms_diag_add("KMS slot %s: more than %d keys match%s%s: listing refused (this "
                             "module's limit), narrow the search (object=...)",
                             ks->cfg.label, KMS_LOOKUP_MAX, label ? " the label " : "",
                             label ? label : "");
                *rv = CKR_FUNCTION_FAILED;
                return -1;
            }
            memcpy(uids[(*nu)++], page[i], sizeof(page[i]));
        }
        if (got < KMIP_MAX_LOCATE)
            return 1; /* a short page: that was all */
    }
}

static CK_RV locate_all(kms_slot *ks, const char *label, uid_buf *uids, size_t *nu)
{
    CK_RV rv = CKR_OK;
    for (int attempt = 0; attempt <= LOOKUP_RESTARTS; attempt++) {
        int r = locate_pass(ks, label, uids, nu, &rv);
        if (r != 0)
            return r > 0 ? CKR_OK : rv;
    }
    kms_diag_add("KMS slot %s: the key list kept changing while it was read (%d attempts): "
                 "listing refused",
                 ks->cfg.label, LOOKUP_RESTARTS + 1);
    return CKR_FUNCTION_FAILED;
}

CK_RV kms_lookup(kms_slot *ks, const char *label, const char *id, kms_candidate **out, size_t *nc)
{
    *out = NULL;
    *nc = 0;
    size_t cap = id != NULL ? 1 : KMS_LOOKUP_MAX;
    uid_buf *uids = calloc(cap, sizeof(*uids));
    kms_candidate *c = NULL;
    size_t nu = 0;
    kmip_result res;
    CK_RV rv = CKR_OK;
    if (uids == NULL)
        return CKR_HOST_MEMORY;
    if (id != NULL) {
        snprintf(uids[0], sizeof(uids[0]), "%s", id);
        nu = 1;
    } else if ((rv = locate_all(ks, label, uids, &nu)) != CKR_OK) {
        goto out;
    }
    if (nu > 0 && (c = calloc(nu, sizeof(*c))) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < nu; i++) {
        kms_status st = kms_op_get_attributes(ks, uids[i], &c[*nc].a, &res);
        if (st == KMS_E_RESULT && res.reason == KMIP_REASON_ITEM_NOT_FOUND)
            continue; /* gone since Locate, or an unknown CKA_ID: no match */
        if (st != KMS_OK) {
            /* Permission Denied on an id we were given is reported as such
             * (CKR_KEY_FUNCTION_NOT_PERMITTED): the caller asked for this
             * key and may not use it; it must not look like "not found". */
            rv = kms_ckr(st, &res, KMS_CTX_KEY);
            goto out;
        }
        if (!usable(&c[*nc].a)) {
            kms_debug("slot %s: key %s not offered (type %u, algorithm %u, %d bits, state %u)",
                      ks->cfg.label, uids[i], (unsigned)c[*nc].a.object_type,
                      (unsigned)c[*nc].a.algorithm, (int)c[*nc].a.length_bits,
                      (unsigned)c[*nc].a.state);
            continue;
        }
        snprintf(c[*nc].uid, sizeof(c[*nc].uid), "%s", uids[i]);
        (*nc)++;
    }
out:
    free(uids);
    if (rv != CKR_OK) {
        free(c);
        c = NULL;
        *nc = 0;
    }
    *out = c;
    return rv;
}
