/*
 * kms_vendor.h - the "Vendor envelope" PKCS#11 interface of
 * envelope-kms-pkcs11.so (docs/KMS-BRIDGE.md "Vendor interface").
 *
 * p11-kit 0.24's <pkcs11.h> is PKCS#11 2.40, so the PKCS#11 3.0 interface
 * structure (§3.6 CK_INTERFACE) is spelled out here. A consumer finds the
 * interface with C_GetInterface("Vendor envelope", NULL, &iface, 0) and
 * casts iface->pFunctionList to envelope_kms_vendor_list (version first, as
 * in every PKCS#11 function list).
 */
#ifndef KMS_VENDOR_H
#define KMS_VENDOR_H

#include <p11-kit/pkcs11.h>

#define ENVELOPE_KMS_VENDOR_NAME "Vendor envelope"
#define ENVELOPE_KMS_VENDOR_MAJOR 1
#define ENVELOPE_KMS_VENDOR_MINOR 0

/* A vendor attribute of every KMIP key object (CK_ULONG, read-only): the
 * key's KMIP Cryptographic Usage Mask (KMIP 1.4 §3.19) as the KMS last
 * reported it (Get Attributes at C_FindObjects; the mask asked for at
 * C_GenerateKey). Absent (CKR_ATTRIBUTE_TYPE_INVALID) when the KMS gave
 * none, and on AWS KMS objects. `envelope kek check` reads it
 * (hsm/hsm_check.c carries the same number). */
#define ENVELOPE_KMS_CKA_USAGE_MASK (CKA_VENDOR_DEFINED | 0x454e0001UL)

/* PKCS#11 3.0 §3.6 */
typedef struct {
    CK_UTF8CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} kms_ck_interface;
#define KMS_CKF_INTERFACE_FORK_SAFE 0x00000001UL

typedef struct {
    CK_VERSION version; /* 1.0 */
    /* The reason text of the calling thread's latest call into the module
     * (before this one), NUL-terminated ASCII/UTF-8, "" if it gave none.
     * Size convention of PKCS#11 §5.2: buf NULL sets *len to the size
     * needed (with the NUL); *len too small is CKR_BUFFER_TOO_SMALL with
     * *len set; on success *len is the length without the NUL. Never
     * holds data, keys, AAD, PINs or passphrases. */
    CK_RV (*C_EnvelopeLastError)(CK_UTF8CHAR_PTR buf, CK_ULONG_PTR len);
} envelope_kms_vendor_list;

#endif
