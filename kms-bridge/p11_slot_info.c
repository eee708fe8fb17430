/*
 * p11_slot_info.c - what the module says about itself, its slots and their
 * tokens: C_GetInfo, C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo
 * (PKCS#11 2.40 §5.4-5.5). Slots are the configured KMSs in config order
 * (slot id = index); the token of a slot is its KMS.
 *
 * These calls read only what C_Initialize set up and C_Finalize clears
 * (which §5.4 forbids to race with other calls), so they take no lock.
 */
#include <stdio.h>
#include <string.h>

#include "kms_module.h"

/* PKCS#11 strings are blank-padded, not NUL-terminated (§3.2). */
static void pad(unsigned char *dst, size_t n, const char *src)
{
    memset(dst, ' ', n);
    size_t l = strlen(src);
    memcpy(dst, src, l < n ? l : n);
}

CK_RV kms_GetInfo(CK_INFO_PTR info)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    pad(info->libraryDescription, sizeof(info->libraryDescription), "envelope KMIP 1.4 bridge");
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    return CKR_OK;
}

CK_RV kms_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = g_kms.cfg.n_slots;
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (CK_ULONG i = 0; i < n; i++)
        list[i] = i;
    *count = n;
    return CKR_OK;
}

CK_RV kms_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    const kms_slot_cfg *c = &g_kms.cfg.slot[slot];
    char desc[640]; /* room for any endpoint: pad() cuts it to the field's 64 */
    if (c->protocol == KMS_PROTO_AWS_KMS)
        snprintf(desc, sizeof(desc), "AWS KMS %s", c->aws.endpoint);
    else
        snprintf(desc, sizeof(desc), "KMIP %s:%s (%zu endpoint%s)", c->ep[0].host, c->ep[0].port,
                 c->n_ep, c->n_ep == 1 ? "" : "s");
    memset(info, 0, sizeof(*info));
    pad(info->slotDescription, sizeof(info->slotDescription), desc);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    /* The token (the KMS) is always "present"; reachability is per call. */
    info->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
    return CKR_OK;
}

CK_RV kms_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    const kms_slot_cfg *c = &g_kms.cfg.slot[slot];
    memset(info, 0, sizeof(*info));
    pad(info->label, sizeof(info->label), c->label);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "envelope");
    pad(info->model, sizeof(info->model),
        c->protocol == KMS_PROTO_AWS_KMS ? "AWS KMS" : "KMIP 1.4");
    pad(info->serialNumber, sizeof(info->serialNumber), c->section);
    /* No CKF_RNG: C_GenerateRandom is served by the host's DRBG, not the KMS.
     * Login is required only when the client key is encrypted. */
    info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED |
                  (g_kms.needs_login[slot] ? CKF_LOGIN_REQUIRED : 0);
    info->ulMaxSessionCount = KMS_MAX_SESSIONS;
    info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxRwSessionCount = KMS_MAX_SESSIONS;
    info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxPinLen = 1024;
    info->ulMinPinLen = 0;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 1;
    info->hardwareVersion.minor = 4; /* the KMIP version spoken */
    pad(info->utcTime, sizeof(info->utcTime), "");
    return CKR_OK;
}
