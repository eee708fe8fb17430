/*
 * kms_errmap.c - bridge status + KMIP Result Reason (KMIP 1.4 §9.1.3.2.29)
 * -> CK_RV (PKCS#11 2.40 §5.1). The table in docs/KMS-BRIDGE.md is the
 * contract the provider's hsm/ backend maps from; keep them in step.
 */
#include "kms_module.h"

CK_RV kms_ckr(kms_status st, const kmip_result *res, int ctx)
{
    switch (st) {
    case KMS_OK: return CKR_OK;
    case KMS_E_NOMEM: return CKR_HOST_MEMORY;
    case KMS_E_ARGS: return CKR_ARGUMENTS_BAD;
    case KMS_E_UNREACHABLE: return CKR_DEVICE_REMOVED; /* backend unavailable: nothing answered */
    case KMS_E_IO:
    case KMS_E_TIMEOUT: return CKR_DEVICE_ERROR; /* backend unavailable: lost mid-call */
    case KMS_E_PROTOCOL:
    case KMS_E_TOO_LARGE: return CKR_FUNCTION_FAILED; /* the server's answer was refused */
    case KMS_E_IDENTITY: return CKR_USER_NOT_LOGGED_IN;
    case KMS_E_INTERNAL: return CKR_GENERAL_ERROR;
    case KMS_E_RESULT: break;
    }
    switch (res->reason) {
    case KMIP_REASON_ITEM_NOT_FOUND:
        return ctx == KMS_CTX_OBJECT ? CKR_OBJECT_HANDLE_INVALID : CKR_KEY_HANDLE_INVALID;
    case KMIP_REASON_PERMISSION_DENIED: return CKR_KEY_FUNCTION_NOT_PERMITTED;
    case KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL: return CKR_USER_NOT_LOGGED_IN;
    case KMIP_REASON_CRYPTOGRAPHIC_FAILURE: /* what the spec suggests for a bad tag */
    case KMIP_REASON_GENERAL_FAILURE:       /* what PyKMIP 0.10 says for one */
        /* Only these two may mean "the tag did not verify", and only for a
         * Decrypt the server answered: a transport failure never gets here.
         * Invalid Field, Operation Not Supported, Response Too Large and the
         * like are our or the server's problem, not the data's. */
        return ctx == KMS_CTX_DECRYPT ? CKR_ENCRYPTED_DATA_INVALID : CKR_FUNCTION_FAILED;
    default: return CKR_FUNCTION_FAILED;
    }
}

const char *kms_ckr_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    default: return "CKR_(other)";
    }
}
