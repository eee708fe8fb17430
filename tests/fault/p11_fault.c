/*
 * p11_fault.c - FAULT INJECTOR, for tests only: a PKCS#11 module that
 * forwards every call to a real module (ENVELOPE_FAULT_MODULE, e.g.
 * SoftHSM2) and injects faults the real module cannot produce on demand.
 *
 *   ENVELOPE_FAULT_CALL=C_Decrypt:3:0xB3   the 3rd C_Decrypt returns rv 0xB3
 *                                          (CKR_SESSION_HANDLE_INVALID) instead
 *                                          of running; also :every (each call
 *                                          from the Nth on)
 *   ENVELOPE_FAULT_GCM_IV=token            C_EncryptInit(CKM_AES_GCM) replaces
 *                                          the caller's IV with its own and
 *                                          writes it back into pIv (a cloud HSM)
 *   ENVELOPE_FAULT_GCM_IV=appended         the token uses its own 16-byte IV
 *                                          and appends it after the tag
 *                                          (an HSM in FIPS mode)
 *   ENVELOPE_FAULT_SWAP=LABEL              once an injected fault has fired,
 *                                          C_GetTokenInfo reports the label
 *                                          LABEL and another serial: another
 *                                          token is now in the slot (a card
 *                                          swapped in a reader)
 *
 * Every C_Login is reported on stderr ("p11_fault: C_Login"), so a test can
 * see whether a PIN was offered.
 *
 * Only the functions that inject something are wrapped; every other entry
 * of the function list is the real module's.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST real, ours;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char fail_fn[64];
static unsigned long fail_nth, fail_rv, calls;
static int fail_every;
static int iv_mode;         /* 0 none, 1 token, 2 appended */
static char swap_label[33]; /* ENVELOPE_FAULT_SWAP */
static int swapped;

#define MAX_SESS 256
static struct {
    CK_SESSION_HANDLE s;
    int appended;
    unsigned char iv[16];
} sess[MAX_SESS];

static int should_fail(const char *fn, CK_RV *rv)
{
    if (strcmp(fn, fail_fn) != 0)
        return 0;
    pthread_mutex_lock(&lock);
    unsigned long n = ++calls;
    pthread_mutex_unlock(&lock);
    if (n == fail_nth || (fail_every && n >= fail_nth)) {
        *rv = fail_rv;
        fprintf(stderr, "p11_fault: injecting 0x%lx into %s call %lu\n", fail_rv, fn, n);
        if (swap_label[0] != '\0' && !swapped) {
            swapped = 1;
            fprintf(stderr, "p11_fault: another token (\"%s\") is now in the slot\n", swap_label);
        }
        return 1;
    }
    return 0;
}

#define INJECT(fn)                                                                                 \
    do {                                                                                           \
        CK_RV inj;                                                                                 \
        if (should_fail(#fn, &inj))                                                                \
            return inj;                                                                            \
    } while (0)

static CK_RV f_OpenSession(CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, CK_SESSION_HANDLE *e)
{
    INJECT(C_OpenSession);
    return real.C_OpenSession(a, b, c, d, e);
}

static CK_RV f_Login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR *p, CK_ULONG n)
{
    fprintf(stderr, "p11_fault: C_Login%s\n", swapped ? " (after the swap)" : "");
    INJECT(C_Login);
    return real.C_Login(s, u, p, n);
}

static CK_RV f_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    CK_RV rv = real.C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && swapped) {
        memset(info->label, ' ', sizeof(info->label));
        memcpy(info->label, swap_label, strlen(swap_label));
        memset(info->serialNumber, ' ', sizeof(info->serialNumber));
        memcpy(info->serialNumber, "swapped", 7);
    }
    return rv;
}

static CK_RV f_DecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k)
{
    INJECT(C_DecryptInit);
    return real.C_DecryptInit(s, m, k);
}

static CK_RV f_Decrypt(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG inlen, CK_BYTE *out,
                       CK_ULONG *outlen)
{
    INJECT(C_Decrypt);
    return real.C_Decrypt(s, in, inlen, out, outlen);
}

static CK_RV f_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k)
{
    INJECT(C_EncryptInit);
    if (iv_mode == 0 || m == NULL || m->mechanism != CKM_AES_GCM || m->pParameter == NULL)
        return real.C_EncryptInit(s, m, k);
    CK_GCM_PARAMS *g = m->pParameter, mine = *g;
    unsigned char iv[16];
    size_t ivlen = iv_mode == 2 ? 16 : 12;
    if (RAND_bytes(iv, (int)ivlen) != 1)
        return CKR_GENERAL_ERROR;
    mine.pIv = iv;
    mine.ulIvLen = ivlen;
    mine.ulIvBits = ivlen * 8;
    CK_MECHANISM mm = {CKM_AES_GCM, &mine, sizeof(mine)};
    CK_RV rv = real.C_EncryptInit(s, &mm, k);
    if (rv != CKR_OK)
        return rv;
    if (iv_mode == 1) {
        memcpy(g->pIv, iv, g->ulIvLen < ivlen ? g->ulIvLen : ivlen); /* written back */
        return rv;
    }
    pthread_mutex_lock(&lock);
    int slot = -1;
    for (int i = 0; i < MAX_SESS && slot < 0; i++) /* this session's entry first */
        if (sess[i].appended && sess[i].s == s)
            slot = i;
    for (int i = 0; i < MAX_SESS && slot < 0; i++)
        if (!sess[i].appended)
            slot = i;
    if (slot >= 0) {
        sess[slot].s = s;
        sess[slot].appended = 1;
        memcpy(sess[slot].iv, iv, 16);
    }
    pthread_mutex_unlock(&lock);
    if (slot < 0) {
        fprintf(stderr, "p11_fault: session table full\n");
        abort(); /* a broken injector must not pass a test */
    }
    return rv;
}

static CK_RV f_Encrypt(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG inlen, CK_BYTE *out,
                       CK_ULONG *outlen)
{
    INJECT(C_Encrypt);
    int slot = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_SESS; i++)
        if (sess[i].appended && sess[i].s == s)
            slot = i;
    pthread_mutex_unlock(&lock);
    if (slot < 0)
        return real.C_Encrypt(s, in, inlen, out, outlen);
    CK_ULONG cap = *outlen;
    if (out == NULL || cap < inlen + 16 + 16) {
        *outlen = inlen + 16 + 16;
        return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
    }
    CK_RV rv = real.C_Encrypt(s, in, inlen, out, outlen);
    pthread_mutex_lock(&lock);
    if (rv == CKR_OK) {
        memcpy(out + *outlen, sess[slot].iv, 16);
        *outlen += 16;
    }
    sess[slot].appended = 0;
    pthread_mutex_unlock(&lock);
    return rv;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list);

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    static int loaded;
    if (!loaded) {
        const char *path = getenv("ENVELOPE_FAULT_MODULE");
        void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_C_GetFunctionList gfl = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
        CK_FUNCTION_LIST *r = NULL;
        if (gfl == NULL || gfl(&r) != CKR_OK)
            return CKR_GENERAL_ERROR;
        real = *r;
        ours = *r;
        ours.C_OpenSession = f_OpenSession;
        ours.C_Login = f_Login;
        ours.C_GetTokenInfo = f_GetTokenInfo;
        const char *swap = getenv("ENVELOPE_FAULT_SWAP");
        if (swap != NULL)
            snprintf(swap_label, sizeof(swap_label), "%s", swap);
        ours.C_DecryptInit = f_DecryptInit;
        ours.C_Decrypt = f_Decrypt;
        ours.C_EncryptInit = f_EncryptInit;
        ours.C_Encrypt = f_Encrypt;
        const char *spec = getenv("ENVELOPE_FAULT_CALL");
        if (spec != NULL) {
            char every[16] = "";
            if (sscanf(spec, "%63[^:]:%lu:%li:%15s", fail_fn, &fail_nth, (long *)&fail_rv, every) <
                3)
                return CKR_GENERAL_ERROR;
            fail_every = strcmp(every, "every") == 0;
        }
        const char *iv = getenv("ENVELOPE_FAULT_GCM_IV");
        iv_mode = iv == NULL                    ? 0
                  : strcmp(iv, "token") == 0    ? 1
                  : strcmp(iv, "appended") == 0 ? 2
                                                : 0;
        loaded = 1;
    }
    *list = &ours;
    return CKR_OK;
}
