/*
 * kms_p11_semantics.c - the PKCS#11 contract of envelope-kms-pkcs11.so that
 * the provider's hsm/ backend relies on, checked against a real PyKMIP
 * server (see docs/KMS-BRIDGE.md). Every check can fail; each prints a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kms_p11.h"

static void check_mechanisms(void)
{
    CK_MECHANISM_INFO mi;
    P11(C_GetMechanismInfo(slot0, CKM_AES_GCM, &mi));
    CHECK((mi.flags & (CKF_ENCRYPT | CKF_DECRYPT)) == (CKF_ENCRYPT | CKF_DECRYPT) &&
              !(mi.flags & (CKF_SIGN | CKF_WRAP)) && mi.ulMinKeySize == 16 && mi.ulMaxKeySize == 32,
          "CKM_AES_GCM info: encrypt+decrypt, 16..32 bytes");
    P11(C_GetMechanismInfo(slot0, CKM_AES_KEY_GEN, &mi));
    CHECK((mi.flags & CKF_GENERATE) && mi.ulMinKeySize == 32 && mi.ulMaxKeySize == 32,
          "CKM_AES_KEY_GEN info: AES-256 only");
    EXPECT_RV(C_GetMechanismInfo(slot0, CKM_AES_CBC, &mi), CKR_MECHANISM_INVALID,
              "CKM_AES_CBC is not claimed");
}

static void check_attributes(CK_OBJECT_HANDLE k, const char *label)
{
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_ULONG vlen = 0;
    CK_BBOOL tok = 0, sens = 0, extr = 1, enc = 0, dec = 0;
    char lab[200] = "", id[200] = "";
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
        {CKA_TOKEN, &tok, 1},
        {CKA_SENSITIVE, &sens, 1},
        {CKA_EXTRACTABLE, &extr, 1},
        {CKA_ENCRYPT, &enc, 1},
        {CKA_DECRYPT, &dec, 1},
        {CKA_LABEL, lab, sizeof(lab) - 1},
        {CKA_ID, id, sizeof(id) - 1},
    };
    P11(C_GetAttributeValue(sess, k, a, sizeof(a) / sizeof(a[0])));
    lab[a[8].ulValueLen] = 0;
    id[a[9].ulValueLen] = 0;
    CHECK(cls == CKO_SECRET_KEY && kt == CKK_AES && vlen == 32, "secret AES key, CKA_VALUE_LEN 32");
    CHECK(tok && sens && !extr, "CKA_TOKEN, CKA_SENSITIVE true; CKA_EXTRACTABLE false");
    CHECK(enc && dec, "CKA_ENCRYPT and CKA_DECRYPT true");
    CHECK(strcmp(lab, label) == 0, "CKA_LABEL is the KMIP Name (%s)", lab);
    CHECK(a[9].ulValueLen > 0, "CKA_ID is the KMIP Unique Identifier (%s)", id);
    unsigned char v[64];
    CK_ATTRIBUTE val = {CKA_VALUE, v, sizeof(v)};
    EXPECT_RV(C_GetAttributeValue(sess, k, &val, 1), CKR_ATTRIBUTE_SENSITIVE, "CKA_VALUE");
    CHECK(val.ulValueLen == CK_UNAVAILABLE_INFORMATION, "CKA_VALUE length unavailable");
    CK_OBJECT_HANDLE again = 0;
    CHECK(find(CKA_ID, id, &again) == 1 && again == k, "find by CKA_ID gives the same handle");
    CHECK(find(CKA_LABEL, "no-such-key-here", NULL) == 0, "unknown label: no object");
    CHECK(find(CKA_ID, "no-such-uid-4711", NULL) == 0, "unknown CKA_ID: no object");
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t2[] = {{CKA_LABEL, (void *)label, strlen(label)},
                         {CKA_CLASS, &priv, sizeof(priv)}};
    CK_OBJECT_HANDLE hs[4];
    CK_ULONG n = 9;
    P11(C_FindObjectsInit(sess, t2, 2));
    P11(C_FindObjects(sess, hs, 4, &n));
    P11(C_FindObjectsFinal(sess));
    CHECK(n == 0, "label + CKO_PRIVATE_KEY: no object");
}

static void check_params(CK_OBJECT_HANDLE k)
{
    unsigned char iv[16] = {0};
    CK_GCM_PARAMS g = gcm(iv, "ctx");
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    g.ulIvLen = 16;
    EXPECT_RV(C_EncryptInit(sess, &m, k), CKR_MECHANISM_PARAM_INVALID, "16-byte IV refused");
    g.ulIvLen = 12;
    g.ulTagBits = 96;
    EXPECT_RV(C_EncryptInit(sess, &m, k), CKR_MECHANISM_PARAM_INVALID, "96-bit tag refused");
    g.ulTagBits = 128;
    m.ulParameterLen = sizeof(g) - sizeof(CK_ULONG);
    EXPECT_RV(C_EncryptInit(sess, &m, k), CKR_MECHANISM_PARAM_INVALID,
              "short CK_GCM_PARAMS refused");
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, 16};
    EXPECT_RV(C_EncryptInit(sess, &cbc, k), CKR_MECHANISM_INVALID, "CBC refused");
    m.ulParameterLen = sizeof(g);
    EXPECT_RV(C_EncryptInit(sess, &m, 0x7fff), CKR_KEY_HANDLE_INVALID, "bad key handle");
    unsigned char out[64];
    CK_ULONG ol = sizeof(out);
    EXPECT_RV(C_Encrypt(sess, iv, 1, out, &ol), CKR_OPERATION_NOT_INITIALIZED,
              "C_Encrypt without init");
    EXPECT_RV(C_EncryptUpdate(sess, iv, 1, out, &ol), CKR_FUNCTION_NOT_SUPPORTED,
              "C_EncryptUpdate");
}

static void check_roundtrip(CK_OBJECT_HANDLE k)
{
    unsigned char dek[32], iv[12], blob[64], blob2[64], back[64];
    RAND_bytes(dek, sizeof(dek));
    RAND_bytes(iv, sizeof(iv));
    CK_GCM_PARAMS g = gcm(iv, "tenant=a,purpose=test");
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    CK_ULONG bl = 0;
    P11(C_EncryptInit(sess, &m, k));
    P11(C_Encrypt(sess, dek, 32, NULL, &bl));
    CHECK(bl == 48, "size query: 32 + 16 = %lu", (unsigned long)bl);
    bl = 20;
    EXPECT_RV(C_Encrypt(sess, dek, 32, blob, &bl), CKR_BUFFER_TOO_SMALL, "small buffer");
    CHECK(bl == 48, "CKR_BUFFER_TOO_SMALL reports 48");
    bl = sizeof(blob);
    EXPECT_RV(C_Encrypt(sess, dek, 32, blob, &bl), CKR_OK,
              "encrypt after the size query (op still active)");
    CHECK(bl == 48, "ciphertext || tag is 48 bytes");
    EXPECT_RV(C_Encrypt(sess, dek, 32, blob, &bl), CKR_OPERATION_NOT_INITIALIZED,
              "operation ended");

    CK_ULONG bl2 = sizeof(blob2);
    P11(C_EncryptInit(sess, &m, k));
    P11(C_Encrypt(sess, dek, 32, blob2, &bl2));
    CHECK(bl2 == bl && memcmp(blob, blob2, bl) == 0,
          "same IV + AAD + data gives the same output (the caller's IV is used)");

    CK_ULONG pl = 0;
    P11(C_DecryptInit(sess, &m, k));
    P11(C_Decrypt(sess, blob, bl, NULL, &pl));
    CHECK(pl == 32, "decrypt size query: 32");
    pl = sizeof(back);
    P11(C_Decrypt(sess, blob, bl, back, &pl));
    CHECK(pl == 32 && memcmp(back, dek, 32) == 0, "decrypt returns the DEK");

    const char *cases[] = {"wrong AAD", "flipped tag bit", "flipped ciphertext bit", "other IV"};
    for (int c = 0; c < 4; c++) {
        unsigned char t[64], iv2[12];
        memcpy(t, blob, bl);
        memcpy(iv2, iv, 12);
        const char *aad = "tenant=a,purpose=test";
        if (c == 0)
            aad = "tenant=b,purpose=test";
        if (c == 1)
            t[bl - 1] ^= 1;
        if (c == 2)
            t[0] ^= 0x80;
        if (c == 3)
            iv2[11] ^= 1;
        memset(back, 0xAA, sizeof(back));
        pl = sizeof(back);
        CK_RV rv = unwrap(k, aad, iv2, t, bl, back, &pl);
        int untouched = 1;
        for (size_t i = 0; i < sizeof(back); i++)
            untouched &= back[i] == 0xAA;
        CHECK(rv == CKR_ENCRYPTED_DATA_INVALID && untouched,
              "%s -> CKR_ENCRYPTED_DATA_INVALID, output untouched (got %s)", cases[c], rvname(rv));
    }
    pl = sizeof(back);
    CHECK(unwrap(k, "tenant=a,purpose=test", iv, blob, 15, back, &pl) ==
              CKR_ENCRYPTED_DATA_LEN_RANGE,
          "15-byte input -> CKR_ENCRYPTED_DATA_LEN_RANGE");

    /* No AAD at all, and empty plaintext, still carry a real tag. */
    bl = sizeof(blob);
    CHECK(wrap(k, NULL, iv, dek, 32, blob, &bl) == CKR_OK && bl == 48, "wrap without AAD");
    pl = sizeof(back);
    CHECK(unwrap(k, NULL, iv, blob, bl, back, &pl) == CKR_OK && pl == 32 && !memcmp(back, dek, 32),
          "unwrap without AAD");
    pl = sizeof(back);
    CHECK(unwrap(k, "x", iv, blob, bl, back, &pl) == CKR_ENCRYPTED_DATA_INVALID,
          "AAD added at unwrap -> CKR_ENCRYPTED_DATA_INVALID");
}

static CK_OBJECT_HANDLE keygen(const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE k = 0;
    P11(C_GenerateKey(sess, &m, t, 1, &k));
    return k;
}

/* Handles are never reused: an operation initialised on a key that is then
 * destroyed must not run under the next key given that table entry, and a
 * closed session's handle must not name the next session. */
static void check_handles(void)
{
    unsigned char iv[12] = {3}, dek[32] = {4}, out[64];
    CK_ULONG ol = sizeof(out);
    char la[40], lb[40];
    snprintf(la, sizeof(la), "reuse-a-%d", (int)getpid());
    snprintf(lb, sizeof(lb), "reuse-b-%d", (int)getpid());
    CK_SESSION_HANDLE s2;
    P11(C_OpenSession(slot0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s2));
    CK_OBJECT_HANDLE ka = keygen(la);
    /* The parameters live on the heap and are gone before C_Encrypt:
     * PKCS#11 does not require them to outlive C_EncryptInit. */
    CK_GCM_PARAMS *g = malloc(sizeof(*g));
    *g = gcm(iv, "handles");
    CK_MECHANISM m = {CKM_AES_GCM, g, sizeof(*g)};
    P11(C_EncryptInit(s2, &m, ka));
    free(g);
    P11(C_DestroyObject(sess, ka));
    CK_OBJECT_HANDLE kb = keygen(lb);
    CHECK(kb != ka, "a destroyed key's handle is not given to the next key");
    EXPECT_RV(C_Encrypt(s2, dek, 32, out, &ol), CKR_KEY_HANDLE_INVALID,
              "encrypt initialised on a destroyed key (a new key exists)");
    CK_GCM_PARAMS g2 = gcm(iv, "handles");
    CK_MECHANISM m2 = {CKM_AES_GCM, &g2, sizeof(g2)};
    EXPECT_RV(C_EncryptInit(sess, &m2, ka), CKR_KEY_HANDLE_INVALID, "the destroyed key's handle");
    ol = sizeof(out);
    CHECK(wrap(kb, "handles", iv, dek, 32, out, &ol) == CKR_OK,
          "the new key works by its own handle");
    P11(C_DestroyObject(sess, kb));
    P11(C_CloseSession(s2));
    CK_SESSION_HANDLE s3;
    P11(C_OpenSession(slot0, CKF_SERIAL_SESSION, NULL, NULL, &s3));
    CHECK(s3 != s2, "a closed session's handle is not given to the next session");
    CK_SESSION_INFO si;
    EXPECT_RV(C_GetSessionInfo(s2, &si), CKR_SESSION_HANDLE_INVALID, "the closed session's handle");
    P11(C_CloseSession(s3));
    /* A template value of nonzero length without a buffer. */
    CK_ATTRIBUTE bad = {CKA_LABEL, NULL, 5};
    EXPECT_RV(C_FindObjectsInit(sess, &bad, 1), CKR_ARGUMENTS_BAD,
              "FindObjectsInit: pValue NULL, length 5");
    CK_ATTRIBUTE bad2[] = {{CKA_CLASS, NULL, 0}, {CKA_KEY_TYPE, NULL, sizeof(CK_KEY_TYPE)}};
    EXPECT_RV(C_FindObjectsInit(sess, bad2, 2), CKR_ARGUMENTS_BAD,
              "FindObjectsInit: CKA_KEY_TYPE NULL");
}

static void check_keygen_refusals(const char *label)
{
    CK_ULONG len = 32, shortlen = 16;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE k;
    CK_ATTRIBUTE dup[] = {{CKA_VALUE_LEN, &len, sizeof(len)},
                          {CKA_LABEL, (void *)label, strlen(label)}};
    EXPECT_RV(C_GenerateKey(sess, &m, dup, 2, &k), CKR_ATTRIBUTE_VALUE_INVALID,
              "duplicate label refused");
    CK_ATTRIBUTE aes128[] = {{CKA_VALUE_LEN, &shortlen, sizeof(shortlen)}, {CKA_LABEL, "k128", 4}};
    EXPECT_RV(C_GenerateKey(sess, &m, aes128, 2, &k), CKR_ATTRIBUTE_VALUE_INVALID,
              "AES-128 refused");
    CK_ATTRIBUTE withid[] = {{CKA_LABEL, "kid", 3}, {CKA_ID, "01", 2}};
    EXPECT_RV(C_GenerateKey(sess, &m, withid, 2, &k), CKR_ATTRIBUTE_READ_ONLY,
              "CKA_ID is the KMS's");
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE extr[] = {{CKA_LABEL, "kx", 2}, {CKA_EXTRACTABLE, &t, 1}};
    EXPECT_RV(C_GenerateKey(sess, &m, extr, 2, &k), CKR_ATTRIBUTE_VALUE_INVALID,
              "extractable refused");
    CK_ATTRIBUTE nolabel[] = {{CKA_VALUE_LEN, &len, sizeof(len)}};
    EXPECT_RV(C_GenerateKey(sess, &m, nolabel, 1, &k), CKR_TEMPLATE_INCOMPLETE, "label required");
    CK_SESSION_HANDLE ro;
    P11(C_OpenSession(slot0, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    CK_ATTRIBUTE ok[] = {{CKA_LABEL, "kro", 3}};
    EXPECT_RV(C_GenerateKey(ro, &m, ok, 1, &k), CKR_SESSION_READ_ONLY, "keygen in a R/O session");
    P11(C_CloseSession(ro));
}

/* Application mutex callbacks for the C_Initialize argument checks; never
 * called (the module refuses the arguments first). */
static CK_RV mx_create(CK_VOID_PTR_PTR m)
{
    *m = NULL;
    return CKR_OK;
}
static CK_RV mx_other(CK_VOID_PTR m)
{
    (void)m;
    return CKR_OK;
}

/* PKCS#11 2.40 return codes for the legacy and corner-case entry points. */
static void check_return_codes(void)
{
    EXPECT_RV(C_GetFunctionStatus(sess), CKR_FUNCTION_NOT_PARALLEL, "C_GetFunctionStatus (§5.20)");
    EXPECT_RV(C_CancelFunction(sess), CKR_FUNCTION_NOT_PARALLEL, "C_CancelFunction (§5.20)");
    EXPECT_RV(C_Login(sess, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR) "x", 1),
              CKR_OPERATION_NOT_INITIALIZED, "C_Login(CKU_CONTEXT_SPECIFIC) without an operation");
    CK_SESSION_HANDLE bad = 0x7ffff;
    EXPECT_RV(C_Login(bad, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR) "x", 1),
              CKR_SESSION_HANDLE_INVALID,
              "C_Login(bad session, CKU_CONTEXT_SPECIFIC): the handle first");
    EXPECT_RV(C_Login(bad, CKU_SO, (CK_UTF8CHAR_PTR) "x", 1), CKR_SESSION_HANDLE_INVALID,
              "C_Login(bad session, CKU_SO): the handle first");
    EXPECT_RV(C_Login(bad, 4711, (CK_UTF8CHAR_PTR) "x", 1), CKR_SESSION_HANDLE_INVALID,
              "C_Login(bad session, unknown user type): the handle first");
    EXPECT_RV(C_Login(sess, 4711, (CK_UTF8CHAR_PTR) "x", 1), CKR_USER_TYPE_INVALID,
              "C_Login(unknown user type)");
    /* §5.4: all four mutex functions or none. Checked before "already
     * initialised", so this runs in the initialised module. */
    CK_C_INITIALIZE_ARGS one = {.CreateMutex = mx_create, .flags = CKF_OS_LOCKING_OK};
    EXPECT_RV(C_Initialize(&one), CKR_ARGUMENTS_BAD, "C_Initialize with only CreateMutex");
    CK_C_INITIALIZE_ARGS three = {.DestroyMutex = mx_other,
                                  .LockMutex = mx_other,
                                  .UnlockMutex = mx_other};
    EXPECT_RV(C_Initialize(&three), CKR_ARGUMENTS_BAD, "C_Initialize with three mutex functions");
    CK_C_INITIALIZE_ARGS four = {.CreateMutex = mx_create,
                                 .DestroyMutex = mx_other,
                                 .LockMutex = mx_other,
                                 .UnlockMutex = mx_other};
    EXPECT_RV(C_Initialize(&four), CKR_CANT_LOCK,
              "C_Initialize with four mutex functions, no OS locking");
    four.flags = CKF_OS_LOCKING_OK;
    EXPECT_RV(C_Initialize(&four), CKR_CRYPTOKI_ALREADY_INITIALIZED,
              "C_Initialize with four mutex functions and OS locking");
}

int semantics(const char *label)
{
    CK_OBJECT_HANDLE k;
    if (find(CKA_LABEL, label, &k) != 1) {
        fprintf(stderr, "key \"%s\": object not found\n", label);
        return 3;
    }
    EXPECT_RV(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR) "ignored", 7), CKR_OK, "C_Login accepted");
    EXPECT_RV(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR) "ignored", 7), CKR_USER_ALREADY_LOGGED_IN,
              "second C_Login");
    EXPECT_RV(C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED, "second C_Initialize");
    check_mechanisms();
    check_return_codes();
    check_attributes(k, label);
    check_params(k);
    check_roundtrip(k);
    check_keygen_refusals(label);
    check_handles();
    EXPECT_RV(C_Logout(sess), CKR_OK, "C_Logout");
    EXPECT_RV(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR) "any", 3), CKR_OK,
              "C_Login again (key not encrypted: nothing to unlock)");
    unsigned char r1[64] = {0}, r2[64] = {0};
    P11(C_GenerateRandom(sess, r1, sizeof(r1)));
    P11(C_GenerateRandom(sess, r2, sizeof(r2)));
    CHECK(memcmp(r1, r2, sizeof(r1)) != 0, "C_GenerateRandom gives fresh bytes");
    printf("semantics: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
