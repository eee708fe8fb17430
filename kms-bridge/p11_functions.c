/*
 * p11_functions.c - the PKCS#11 function list (2.40 §5.2). Only
 * C_GetFunctionList is exported; everything a KEK user does not need
 * returns CKR_FUNCTION_NOT_SUPPORTED, through typed stubs so the compiler
 * checks each entry against <p11-kit/pkcs11.h>.
 */
#include "kms_module.h"

#define NS(name, ...) \
    static CK_RV ns_##name(__VA_ARGS__) { return CKR_FUNCTION_NOT_SUPPORTED; }

NS(InitToken, CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d)
NS(InitPIN, CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c)
NS(SetPIN, CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e)
NS(GetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NS(SetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE d,
   CK_OBJECT_HANDLE e)
NS(CreateObject, CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d)
NS(CopyObject, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
   CK_OBJECT_HANDLE_PTR e)
NS(GetObjectSize, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c)
NS(SetAttributeValue, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d)
NS(EncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(EncryptFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NS(DecryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DecryptFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NS(DigestInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b)
NS(Digest, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NS(DigestKey, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b)
NS(DigestFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NS(SignInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NS(Sign, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(SignUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NS(SignFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NS(SignRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NS(SignRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(VerifyInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NS(Verify, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e)
NS(VerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NS(VerifyFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NS(VerifyRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NS(VerifyRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DigestEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DecryptDigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(SignEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DecryptVerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(GenerateKeyPair, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
   CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h)
NS(WrapKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d,
   CK_BYTE_PTR e, CK_ULONG_PTR f)
NS(UnwrapKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e,
   CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h)
NS(DeriveKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d,
   CK_ULONG e, CK_OBJECT_HANDLE_PTR f)
/* PKCS#11 2.40 §5.20: legacy parallel-function management; a module
 * "should simply return the value CKR_FUNCTION_NOT_PARALLEL". */
static CK_RV np_GetFunctionStatus(CK_SESSION_HANDLE a)
{
    (void)a;
    return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV np_CancelFunction(CK_SESSION_HANDLE a)
{
    (void)a;
    return CKR_FUNCTION_NOT_PARALLEL;
}
NS(WaitForSlotEvent, CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c)

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

static CK_FUNCTION_LIST function_list = {
    .version = {2, 40},
    .C_Initialize = kms_Initialize,
    .C_Finalize = kms_Finalize,
    .C_GetInfo = kms_GetInfo,
    .C_GetFunctionList = C_GetFunctionList,
    .C_GetSlotList = kms_GetSlotList,
    .C_GetSlotInfo = kms_GetSlotInfo,
    .C_GetTokenInfo = kms_GetTokenInfo,
    .C_GetMechanismList = kms_GetMechanismList,
    .C_GetMechanismInfo = kms_GetMechanismInfo,
    .C_InitToken = ns_InitToken,
    .C_InitPIN = ns_InitPIN,
    .C_SetPIN = ns_SetPIN,
    .C_OpenSession = kms_OpenSession,
    .C_CloseSession = kms_CloseSession,
    .C_CloseAllSessions = kms_CloseAllSessions,
    .C_GetSessionInfo = kms_GetSessionInfo,
    .C_GetOperationState = ns_GetOperationState,
    .C_SetOperationState = ns_SetOperationState,
    .C_Login = kms_Login,
    .C_Logout = kms_Logout,
    .C_CreateObject = ns_CreateObject,
    .C_CopyObject = ns_CopyObject,
    .C_DestroyObject = kms_DestroyObject,
    .C_GetObjectSize = ns_GetObjectSize,
    .C_GetAttributeValue = kms_GetAttributeValue,
    .C_SetAttributeValue = ns_SetAttributeValue,
    .C_FindObjectsInit = kms_FindObjectsInit,
    .C_FindObjects = kms_FindObjects,
    .C_FindObjectsFinal = kms_FindObjectsFinal,
    .C_EncryptInit = kms_EncryptInit,
    .C_Encrypt = kms_Encrypt,
    .C_EncryptUpdate = ns_EncryptUpdate,
    .C_EncryptFinal = ns_EncryptFinal,
    .C_DecryptInit = kms_DecryptInit,
    .C_Decrypt = kms_Decrypt,
    .C_DecryptUpdate = ns_DecryptUpdate,
    .C_DecryptFinal = ns_DecryptFinal,
    .C_DigestInit = ns_DigestInit,
    .C_Digest = ns_Digest,
    .C_DigestUpdate = ns_DigestUpdate,
    .C_DigestKey = ns_DigestKey,
    .C_DigestFinal = ns_DigestFinal,
    .C_SignInit = ns_SignInit,
    .C_Sign = ns_Sign,
    .C_SignUpdate = ns_SignUpdate,
    .C_SignFinal = ns_SignFinal,
    .C_SignRecoverInit = ns_SignRecoverInit,
    .C_SignRecover = ns_SignRecover,
    .C_VerifyInit = ns_VerifyInit,
    .C_Verify = ns_Verify,
    .C_VerifyUpdate = ns_VerifyUpdate,
    .C_VerifyFinal = ns_VerifyFinal,
    .C_VerifyRecoverInit = ns_VerifyRecoverInit,
    .C_VerifyRecover = ns_VerifyRecover,
    .C_DigestEncryptUpdate = ns_DigestEncryptUpdate,
    .C_DecryptDigestUpdate = ns_DecryptDigestUpdate,
    .C_SignEncryptUpdate = ns_SignEncryptUpdate,
    .C_DecryptVerifyUpdate = ns_DecryptVerifyUpdate,
    .C_GenerateKey = kms_GenerateKey,
    .C_GenerateKeyPair = ns_GenerateKeyPair,
    .C_WrapKey = ns_WrapKey,
    .C_UnwrapKey = ns_UnwrapKey,
    .C_DeriveKey = ns_DeriveKey,
    .C_SeedRandom = kms_SeedRandom,
    .C_GenerateRandom = kms_GenerateRandom,
    .C_GetFunctionStatus = np_GetFunctionStatus,
    .C_CancelFunction = np_CancelFunction,
    .C_WaitForSlotEvent = ns_WaitForSlotEvent,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    *out = &function_list;
    return CKR_OK;
}
