/*
 * p11_lookup.h - which KMS keys a C_FindObjectsInit (or a keygen's
 * duplicate check) sees: KMIP Locate, paged, then Get Attributes per hit.
 */
#ifndef P11_LOOKUP_H
#define P11_LOOKUP_H

#include "kms_module.h"

/* A key found on the KMS, before it gets a handle. */
typedef struct {
    char uid[KMIP_MAX_UID + 1];
    kmip_key_attrs a;
} kms_candidate;

/* At most this many keys in one listing: the object table's size. More is
 * refused loudly (CKR_FUNCTION_FAILED, with the reason text), never cut. */
#define KMS_LOOKUP_MAX KMS_MAX_OBJECTS

/* The usable keys named label (NULL: all), or the one whose Unique
 * Identifier is id (non-NULL). *out is malloc'd (free it; NULL when none).
 * Network I/O: call without g_kms.lock. */
CK_RV kms_lookup(kms_slot *ks, const char *label, const char *id, kms_candidate **out, size_t *n);

#endif
