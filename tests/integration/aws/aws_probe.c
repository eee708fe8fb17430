/*
 * aws_probe.c - a small PKCS#11 consumer of envelope-kms-pkcs11.so's
 * aws-kms slot for kms.aws.credentials: one process, ROUNDS round trips
 * (C_Encrypt then C_Decrypt with CKM_ENVELOPE_KMS_AEAD and an AAD) of the
 * key labelled LABEL, SLEEP seconds apart, running CMD (a shell command,
 * e.g. a curl to the test server's controls) between rounds. Shows that
 * credentials are refreshed inside one long-lived process.
 *
 *   aws_probe MODULE LABEL ROUNDS SLEEP [CMD]
 *
 * Prints one line per round; exit 2 on a PKCS#11 error, 1 on a wrong
 * plaintext. The module reads $ENVELOPE_KMS_CONF.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope/kms_pkcs11.h"

static CK_FUNCTION_LIST *p11;

static int check(CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return 1;
    fprintf(stderr, "%s: rv=0x%lx\n", what, (unsigned long)rv);
    return 0;
}

static int round_trip(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int n)
{
    unsigned char dek[32], ct[CK_ENVELOPE_KMS_AEAD_MAX_OUT], back[CK_ENVELOPE_KMS_AEAD_MAX_IN];
    unsigned char aad[] = "aws_probe aad";
    for (size_t i = 0; i < sizeof(dek); i++)
        dek[i] = (unsigned char)(i * 7 + (unsigned)n);
    CK_ENVELOPE_KMS_AEAD_PARAMS p = {aad, sizeof(aad) - 1};
    CK_MECHANISM m = {CKM_ENVELOPE_KMS_AEAD, &p, sizeof(p)};
    CK_ULONG ctn = sizeof(ct), bn = sizeof(back);
    if (!check(p11->C_EncryptInit(s, &m, key), "C_EncryptInit") ||
        !check(p11->C_Encrypt(s, dek, sizeof(dek), ct, &ctn), "C_Encrypt") ||
        !check(p11->C_DecryptInit(s, &m, key), "C_DecryptInit") ||
        !check(p11->C_Decrypt(s, ct, ctn, back, &bn), "C_Decrypt"))
        return 2;
    if (bn != sizeof(dek) || memcmp(back, dek, bn) != 0) {
        fprintf(stderr, "round %d: wrong plaintext\n", n);
        return 1;
    }
    printf("round %d: ok (%lu bytes of ciphertext)\n", n, (unsigned long)ctn);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODULE LABEL ROUNDS SLEEP [CMD]\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = h != NULL ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")
                                         : NULL;
    if (gfl == NULL || gfl(&p11) != CKR_OK) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 2;
    }
    CK_SLOT_ID slot;
    CK_ULONG ns = 1;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    CK_ULONG nk = 0;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, argv[2], strlen(argv[2])}};
    if (!check(p11->C_Initialize(NULL), "C_Initialize") ||
        !check(p11->C_GetSlotList(CK_TRUE, &slot, &ns), "C_GetSlotList") ||
        !check(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), "C_OpenSession") ||
        !check(p11->C_FindObjectsInit(s, t, 2), "C_FindObjectsInit") ||
        !check(p11->C_FindObjects(s, &key, 1, &nk), "C_FindObjects"))
        return 2;
    (void)p11->C_FindObjectsFinal(s);
    if (nk != 1) {
        fprintf(stderr, "no key labelled %s\n", argv[2]);
        return 2;
    }
    int rounds = atoi(argv[3]), pause = atoi(argv[4]), rc = 0;
    for (int i = 0; i < rounds && rc == 0; i++) {
        if (i > 0) {
            sleep((unsigned)pause);
            if (argc > 5 && system(argv[5]) != 0) {
                fprintf(stderr, "the command between rounds failed\n");
                rc = 2;
                break;
            }
        }
        rc = round_trip(s, key, i);
    }
    (void)p11->C_CloseSession(s);
    (void)p11->C_Finalize(NULL);
    return rc;
}
