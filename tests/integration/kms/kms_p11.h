/* kms_p11.h - shared by kms_p11.c and kms_p11_semantics.c (test program). */
#ifndef KMS_P11_TEST_H
#define KMS_P11_TEST_H

#include <stdio.h>
#include <p11-kit/pkcs11.h>

extern CK_FUNCTION_LIST *p11;
extern CK_SESSION_HANDLE sess;
extern CK_SLOT_ID slot0;
extern int failures;

const char *rvname(CK_RV rv);
void die_rv(const char *what, CK_RV rv) __attribute__((noreturn));
CK_ULONG find(CK_ATTRIBUTE_TYPE type, const char *value, CK_OBJECT_HANDLE *out);
CK_GCM_PARAMS gcm(unsigned char *iv, const char *aad);
CK_RV wrap(CK_OBJECT_HANDLE k, const char *aad, unsigned char iv[12], const unsigned char *in,
           CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen);
CK_RV unwrap(CK_OBJECT_HANDLE k, const char *aad, unsigned char iv[12], const unsigned char *in,
             CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen);
int semantics(const char *label);

#define P11(call)                                                                                  \
    do {                                                                                           \
        CK_RV rv_ = p11->call;                                                                     \
        if (rv_ != CKR_OK)                                                                         \
            die_rv(#call, rv_);                                                                    \
    } while (0)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok: " __VA_ARGS__);                                                            \
            printf("\n");                                                                          \
        } else {                                                                                   \
            printf("FAIL: " __VA_ARGS__);                                                          \
            printf("  (%s:%d)\n", __FILE__, __LINE__);                                             \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define EXPECT_RV(call, want, what)                                                                \
    do {                                                                                           \
        CK_RV rv_ = p11->call;                                                                     \
        CHECK(rv_ == (want), "%s -> %s (got %s)", what, rvname(want), rvname(rv_));                \
    } while (0)

#endif
