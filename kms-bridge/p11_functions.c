/*
 * p11_functions.c - the PKCS#11 function list (2.40 §5.2). Only
 * C_GetFunctionList is exported; everything a KEK user does not need
 * returns CKR_FUNCTION_NOT_SUPPORTED, through typed stubs so the compiler
 * checks each entry against <p11-kit/pkcs11.h>.
 */
#include "kms_diag.h"
#include "kms_module.h"

#define NS(name, ...)                                                                              \
    static CK_RV ns_##name(__VA_ARGS__)                                                            \
    {                                                                                              \
        return CKR_FUNCTION_NOT_SUPPORTED;                                                         \
    }

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
NS(DigestEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
   CK_ULONG_PTR e)
NS(DecryptDigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
   CK_ULONG_PTR e)
NS(SignEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
NS(DecryptVerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
   CK_ULONG_PTR e)
NS(GenerateKeyPair, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
   CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h)
NS(WrapKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d,
   CK_BYTE_PTR e, CK_ULONG_PTR f)
NS(UnwrapKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d,
   CK_ULONG e, CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h)
NS(DeriveKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d,
   CK_ULONG e, CK_OBJECT_HANDLE_PTR f)
/* PKCS#11 2.40 §5.16: legacy parallel-function management; a module
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

/* Every implemented entry point first clears the thread's reason text
 * (kms_diag.h), so that the text always describes the latest call. */
#define W(name, params, args)                                                                      \
    static CK_RV w_##name params                                                                   \
    {                                                                                              \
        kms_diag_clear();                                                                          \
        return kms_##name args;                                                                    \
    }

W(Initialize, (CK_VOID_PTR a), (a))
W(Finalize, (CK_VOID_PTR a), (a))
W(GetInfo, (CK_INFO_PTR a), (a))
W(GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c))
W(GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))
W(GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))
W(GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c))
W(GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), (a, b, c))
W(OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e),
  (a, b, c, d, e))
W(CloseSession, (CK_SESSION_HANDLE a), (a))
W(CloseAllSessions, (CK_SLOT_ID a), (a))
W(GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b))
W(Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d))
W(Logout, (CK_SESSION_HANDLE a), (a))
W(DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))
W(GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d),
  (a, b, c, d))
W(FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))
W(FindObjects, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d),
  (a, b, c, d))
W(FindObjectsFinal, (CK_SESSION_HANDLE a), (a))
W(EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
W(Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),
  (a, b, c, d, e))
W(DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
W(Decrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),
  (a, b, c, d, e))
W(GenerateKey,
  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_OBJECT_HANDLE_PTR e),
  (a, b, c, d, e))
W(SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))
W(GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

static CK_FUNCTION_LIST function_list = {
    .version = {2, 40},
    .C_Initialize = w_Initialize,
    .C_Finalize = w_Finalize,
    .C_GetInfo = w_GetInfo,
    .C_GetFunctionList = C_GetFunctionList,
    .C_GetSlotList = w_GetSlotList,
    .C_GetSlotInfo = w_GetSlotInfo,
    .C_GetTokenInfo = w_GetTokenInfo,
    .C_GetMechanismList = w_GetMechanismList,
    .C_GetMechanismInfo = w_GetMechanismInfo,
    .C_InitToken = ns_InitToken,
    .C_InitPIN = ns_InitPIN,
    .C_SetPIN = ns_SetPIN,
    .C_OpenSession = w_OpenSession,
    .C_CloseSession = w_CloseSession,
    .C_CloseAllSessions = w_CloseAllSessions,
    .C_GetSessionInfo = w_GetSessionInfo,
    .C_GetOperationState = ns_GetOperationState,
    .C_SetOperationState = ns_SetOperationState,
    .C_Login = w_Login,
    .C_Logout = w_Logout,
    .C_CreateObject = ns_CreateObject,
    .C_CopyObject = ns_CopyObject,
    .C_DestroyObject = w_DestroyObject,
    .C_GetObjectSize = ns_GetObjectSize,
    .C_GetAttributeValue = w_GetAttributeValue,
    .C_SetAttributeValue = ns_SetAttributeValue,
    .C_FindObjectsInit = w_FindObjectsInit,
    .C_FindObjects = w_FindObjects,
    .C_FindObjectsFinal = w_FindObjectsFinal,
    .C_EncryptInit = w_EncryptInit,
    .C_Encrypt = w_Encrypt,
    .C_EncryptUpdate = ns_EncryptUpdate,
    .C_EncryptFinal = ns_EncryptFinal,
    .C_DecryptInit = w_DecryptInit,
    .C_Decrypt = w_Decrypt,
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
    .C_GenerateKey = w_GenerateKey,
    .C_GenerateKeyPair = ns_GenerateKeyPair,
    .C_WrapKey = ns_WrapKey,
    .C_UnwrapKey = ns_UnwrapKey,
    .C_DeriveKey = ns_DeriveKey,
    .C_SeedRandom = w_SeedRandom,
    .C_GenerateRandom = w_GenerateRandom,
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
