/*
 * p11_interface.c - PKCS#11 3.0 C_GetInterfaceList / C_GetInterface (§5.2):
 * the standard "PKCS 11" interface (our 2.40 function list) and the
 * "Vendor envelope" interface (kms_vendor.h), through which a consumer
 * reads why the last call failed (kms_diag.h). Both work before
 * C_Initialize, as §5.2 requires.
 */
#include <pthread.h>
#include <string.h>

#include "kms_diag.h"
#include "kms_module.h"
#include "kms_vendor.h"

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);
__attribute__((visibility("default"))) CK_RV C_GetInterfaceList(kms_ck_interface *list,
                                                                CK_ULONG_PTR count);
__attribute__((visibility("default"))) CK_RV C_GetInterface(CK_UTF8CHAR_PTR name,
                                                            CK_VERSION_PTR version,
                                                            kms_ck_interface **out, CK_FLAGS flags);

static CK_RV last_error(CK_UTF8CHAR_PTR buf, CK_ULONG_PTR len)
{
    if (len == NULL)
        return CKR_ARGUMENTS_BAD;
    const char *t = kms_diag_text();
    CK_ULONG need = (CK_ULONG)strlen(t) + 1;
    if (buf == NULL) {
        *len = need;
        return CKR_OK;
    }
    if (*len < need) {
        *len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, t, need);
    *len = need - 1;
    return CKR_OK;
}

static envelope_kms_vendor_list vendor_list = {
    .version = {ENVELOPE_KMS_VENDOR_MAJOR, ENVELOPE_KMS_VENDOR_MINOR},
    .C_EnvelopeLastError = last_error,
};

#define N_IFACES 2
static kms_ck_interface ifaces[N_IFACES];

/* The table is filled once (a static initialiser cannot take
 * C_GetFunctionList's pointer portably); pthread_once, since callers of
 * C_GetInterface may race before C_Initialize. */
static pthread_once_t ifaces_once = PTHREAD_ONCE_INIT;

static void fill_once(void)
{
    CK_FUNCTION_LIST *fl = NULL;
    (void)C_GetFunctionList(&fl);
    /* Not fork-safe in the §5.2 sense: a child must C_Initialize again. */
    ifaces[0] = (kms_ck_interface){(CK_UTF8CHAR *)"PKCS 11", fl, 0};
    ifaces[1] = (kms_ck_interface){(CK_UTF8CHAR *)ENVELOPE_KMS_VENDOR_NAME, &vendor_list, 0};
}

static void fill(void)
{
    pthread_once(&ifaces_once, fill_once);
}

CK_RV C_GetInterfaceList(kms_ck_interface *list, CK_ULONG_PTR count)
{
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    if (list == NULL) {
        *count = N_IFACES;
        return CKR_OK;
    }
    if (*count < N_IFACES) {
        *count = N_IFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    fill();
    memcpy(list, ifaces, sizeof(ifaces));
    *count = N_IFACES;
    return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, kms_ck_interface **out,
                     CK_FLAGS flags)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    fill();
    for (size_t i = 0; i < N_IFACES; i++) {
        const CK_VERSION *v = ifaces[i].pFunctionList; /* every list starts with its version */
        if (name != NULL && strcmp((const char *)name, (const char *)ifaces[i].pInterfaceName) != 0)
            continue;
        if (version != NULL && (version->major != v->major || version->minor != v->minor))
            continue;
        if ((ifaces[i].flags & flags) != flags)
            continue;
        *out = &ifaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD; /* §5.2: no such interface */
}
