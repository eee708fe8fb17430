/*
 * p11_mechanisms.c - C_GetMechanismList and C_GetMechanismInfo (PKCS#11
 * 2.40 §5.5): the two mechanisms every slot offers, CKM_AES_KEY_GEN
 * (C_GenerateKey, p11_key_lifecycle.c) and CKM_AES_GCM (C_Encrypt and
 * C_Decrypt, p11_crypto.c). What is listed here is what those files accept.
 */
#include <string.h>

#include "kms_module.h"

static const CK_MECHANISM_TYPE mechs[] = {CKM_AES_KEY_GEN, CKM_AES_GCM};

CK_RV kms_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = sizeof(mechs) / sizeof(mechs[0]);
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, mechs, sizeof(mechs));
    *count = n;
    return CKR_OK;
}

CK_RV kms_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    switch (type) {
    case CKM_AES_KEY_GEN:
        /* We only create AES-256 KEKs (sizes in bytes, §2.8 of the
         * mechanisms spec). */
        info->ulMinKeySize = 32;
        info->ulMaxKeySize = 32;
        info->flags = CKF_HW | CKF_GENERATE;
        return CKR_OK;
    case CKM_AES_GCM:
        /* Existing KMS keys may be AES-128/192; one-shot only (no
         * C_EncryptUpdate), 96-bit caller IV, 128-bit tag. */
        info->ulMinKeySize = 16;
        info->ulMaxKeySize = 32;
        info->flags = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
        return CKR_OK;
    default: return CKR_MECHANISM_INVALID;
    }
}
