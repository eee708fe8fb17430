/*
 * hsm_diag.c - a module's own words for why a call failed.
 *
 * A CK_RV says little ("device removed"); a module may say more through a
 * vendor interface. envelope-kms-pkcs11.so offers "Vendor envelope" 1.0
 * (PKCS#11 3.0 C_GetInterface, §5.2; docs/KMS-BRIDGE.md "Vendor
 * interface"): the reason text of the calling thread's latest call, e.g.
 * which KMS endpoint failed and OpenSSL's TLS reason. Any module without
 * it is unaffected.
 *
 * After every failing C_* call (hsm_rv) the text is fetched at once, in
 * the same thread, and kept per thread with that call's CK_RV; a failing
 * call of a module without the interface clears it. hsm_raise_rv appends
 * it to the error it raises when the CK_RV matches. The text never holds
 * secrets (the module's contract); it is cut to printable ASCII here all
 * the same, since it ends up on a terminal.
 */
#include "hsm_internal.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <string.h>

/* PKCS#11 3.0 §3.6 CK_INTERFACE and the vendor list, as documented in
 * docs/KMS-BRIDGE.md (p11-kit 0.24's <pkcs11.h> is 2.40). */
typedef struct {
    CK_UTF8CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} diag_interface;
typedef CK_RV (*diag_get_interface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, diag_interface **, CK_FLAGS);
typedef struct {
    CK_VERSION version;
    CK_RV (*C_EnvelopeLastError)(CK_UTF8CHAR_PTR buf, CK_ULONG_PTR len);
} diag_vendor_list;

#define DIAG_MAX 768

static _Thread_local struct {
    CK_RV rv;
    char text[DIAG_MAX];
} last;

/* 1 if two paths name the same file (a module path may be a symlink). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

void hsm_diag_attach(struct hsm_module *m)
{
    m->diag = NULL;
    if (m->path == NULL)
        return;
    /* The module is already loaded (p11_kit_module_load): NOLOAD finds
     * that copy; the reference is dropped again at once, the function
     * pointer stays valid while p11-kit holds the module. */
    void *dl = dlopen(m->path, RTLD_NOW | RTLD_NOLOAD);
    if (dl == NULL)
        return;
    diag_get_interface gi = (diag_get_interface)dlsym(dl, "C_GetInterface");
    diag_interface *iface = NULL;
    CK_VERSION want = {1, 0};
    /* dlsym on a handle also searches the module's dependencies: take the
     * symbol only if it is the module's own. And believe the answer only
     * if it is the interface asked for: a sloppy PKCS#11 3.0 module that
     * hands its "PKCS 11" list to any name must not get C_Initialize
     * called as if it were our getter. */
    Dl_info where;
    if (gi != NULL && dladdr((void *)gi, &where) != 0 && where.dli_fname != NULL &&
        same_file(where.dli_fname, m->path) &&
        gi((CK_UTF8CHAR_PTR) "Vendor envelope", &want, &iface, 0) == CKR_OK && iface != NULL &&
        iface->pInterfaceName != NULL &&
        strcmp((const char *)iface->pInterfaceName, "Vendor envelope") == 0 &&
        iface->pFunctionList != NULL) {
        const diag_vendor_list *v = iface->pFunctionList;
        if (v->version.major == 1 && v->version.minor == 0 && v->C_EnvelopeLastError != NULL)
            m->diag = (void *)v->C_EnvelopeLastError;
    }
    dlclose(dl);
}

void hsm_diag_record(const struct hsm_module *m, CK_RV rv)
{
    last.rv = rv;
    last.text[0] = 0;
    if (m == NULL || m->diag == NULL)
        return;
    CK_RV (*get)(CK_UTF8CHAR_PTR, CK_ULONG_PTR) = (CK_RV(*)(CK_UTF8CHAR_PTR, CK_ULONG_PTR))m->diag;
    char buf[DIAG_MAX];
    CK_ULONG len = sizeof(buf);
    if (get((CK_UTF8CHAR_PTR)buf, &len) != CKR_OK || len >= sizeof(buf))
        return;
    size_t j = 0;
    for (CK_ULONG i = 0; i < len && j + 1 < sizeof(last.text); i++)
        last.text[j++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
    last.text[j] = 0;
}

const char *hsm_diag_text(CK_RV rv)
{
    return last.rv == rv && last.text[0] ? last.text : NULL;
}
