/*
 * p11_mechanisms.c - C_GetMechanismList and C_GetMechanismInfo (PKCS#11
 * 2.40 §5.5): the two mechanisms every slot offers, CKM_AES_KEY_GEN
 * (C_GenerateKey, p11_key_lifecycle.c) and CKM_AES_GCM (C_Encrypt and
 * C_Decrypt, p11_crypto.c). What is listed here is what those files accept.
 */
#include <string.h>

#include "envelope/kms_pkcs11.h"
#include "kms_module.h"
#include "p11_aws.h"

static const CK_MECHANISM_TYPE kmip_mechs[] = {CKM_AES_KEY_GEN, CKM_AES_GCM};
/* aws-kms slots (p11_aws.h): CreateKey, KMS Encrypt/Decrypt, RSA OAEP */
static const CK_MECHANISM_TYPE aws_mechs[] = {CKM_AES_KEY_GEN, CKM_ENVELOPE_KMS_AEAD,
                                              CKM_RSA_PKCS_OAEP};

CK_RV kms_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    if (!kms_module_ready())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot >= g_kms.cfg.n_slots)
        return CKR_SLOT_ID_INVALID;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    int aws = kms_slot_is_aws(slot);
    const CK_MECHANISM_TYPE *mechs = aws ? aws_mechs : kmip_mechs;
    CK_ULONG n = aws ? sizeof(aws_mechs) / sizeof(aws_mechs[0])
                     : sizeof(kmip_mechs) / sizeof(kmip_mechs[0]);
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, mechs, n * sizeof(*mechs));
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
    if (kms_slot_is_aws(slot)) {
        switch (type) {
        case CKM_AES_KEY_GEN: /* CreateKey SYMMETRIC_DEFAULT */
            info->ulMinKeySize = info->ulMaxKeySize = 32;
            info->flags = CKF_HW | CKF_GENERATE;
            return CKR_OK;
        case CKM_ENVELOPE_KMS_AEAD:
            info->ulMinKeySize = info->ulMaxKeySize = 32;
            info->flags = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
            return CKR_OK;
        case CKM_RSA_PKCS_OAEP: /* bits, as PKCS#11 gives RSA sizes */
            info->ulMinKeySize = 2048;
            info->ulMaxKeySize = 4096;
            info->flags = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
            return CKR_OK;
        default: return CKR_MECHANISM_INVALID;
        }
    }
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
