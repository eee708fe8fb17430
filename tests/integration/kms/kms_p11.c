/*
 * kms_p11.c - a small PKCS#11 consumer that drives envelope-kms-pkcs11.so
 * through its C_* function list, for the kms_*.sh integration tests
 * (pkcs11-tool 0.23 cannot pass GCM parameters, so AEAD is tested here).
 *
 *   kms_p11 MODULE find LABEL          print CKA_ID; exit 3 if not found
 *   kms_p11 MODULE findid ID           find by CKA_ID, print CKA_LABEL; exit 3 if none
 *   kms_p11 MODULE keygen LABEL        C_GenerateKey CKM_AES_KEY_GEN, print CKA_ID
 *   kms_p11 MODULE destroy LABEL       C_DestroyObject
 *   kms_p11 MODULE wrap LABEL AAD      stdin plaintext -> stdout hex(iv | ct | tag)
 *   kms_p11 MODULE unwrap LABEL AAD    stdin hex blob -> stdout plaintext
 *   kms_p11 MODULE semantics LABEL     the PKCS#11 contract the provider relies on
 *   kms_p11 MODULE fork LABEL          fork() rules of PKCS#11 §5.4
 *   kms_p11 MODULE relogin PIN LABEL   encrypted client key: after C_Logout the
 *                                      passphrase is needed again
 *   kms_p11 MODULE keygen-many PREFIX N  N keys PREFIX-0 .. PREFIX-(N-1), one process
 *   kms_p11 MODULE count -             number of objects an empty template finds
 *   kms_p11 MODULE loop LABEL N MS     N wrap+unwrap round trips, MS ms apart, one
 *                                      process (restart/failover tests); a line each;
 *                                      stops early once the file $KMS_LOOP_STOP exists
 *
 * Failures print "rv=CKR_..." (hex too) on stderr; exit 2 on a PKCS#11 error,
 * 1 on a failed check. The module reads $ENVELOPE_KMS_CONF, or the path in
 * $KMS_P11_INIT_PATH passed as C_Initialize pReserved.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kms_p11.h"

CK_FUNCTION_LIST *p11;
CK_SESSION_HANDLE sess;
CK_SLOT_ID slot0;
int failures;

const char *rvname(CK_RV rv)
{
    switch (rv) {
        /* a name table reads best as a table */
        /* clang-format off */
#define N(x) case x: return #x;
        N(CKR_OK) N(CKR_GENERAL_ERROR) N(CKR_FUNCTION_FAILED) N(CKR_ARGUMENTS_BAD)
        N(CKR_DEVICE_ERROR) N(CKR_DEVICE_REMOVED) N(CKR_ENCRYPTED_DATA_INVALID)
        N(CKR_ENCRYPTED_DATA_LEN_RANGE) N(CKR_KEY_HANDLE_INVALID) N(CKR_OBJECT_HANDLE_INVALID)
        N(CKR_KEY_FUNCTION_NOT_PERMITTED) N(CKR_USER_NOT_LOGGED_IN) N(CKR_BUFFER_TOO_SMALL)
        N(CKR_MECHANISM_INVALID) N(CKR_MECHANISM_PARAM_INVALID) N(CKR_OPERATION_NOT_INITIALIZED)
        N(CKR_ATTRIBUTE_SENSITIVE) N(CKR_ATTRIBUTE_VALUE_INVALID) N(CKR_ATTRIBUTE_READ_ONLY)
        N(CKR_SESSION_READ_ONLY) N(CKR_FUNCTION_NOT_SUPPORTED) N(CKR_USER_ALREADY_LOGGED_IN)
        N(CKR_TEMPLATE_INCOMPLETE) N(CKR_OPERATION_ACTIVE) N(CKR_DATA_LEN_RANGE)
        N(CKR_CRYPTOKI_ALREADY_INITIALIZED) N(CKR_ATTRIBUTE_TYPE_INVALID)
        N(CKR_PIN_INCORRECT) N(CKR_SESSION_HANDLE_INVALID) N(CKR_CRYPTOKI_NOT_INITIALIZED)
        N(CKR_FUNCTION_NOT_PARALLEL) N(CKR_USER_TYPE_INVALID) N(CKR_CANT_LOCK)
#undef N
        /* clang-format on */
    }
    return "CKR_?";
}

void die_rv(const char *what, CK_RV rv)
{
    fprintf(stderr, "%s: rv=%s (0x%lx)\n", what, rvname(rv), (unsigned long)rv);
    exit(2);
}

static void load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (gfl == NULL || gfl(&p11) != CKR_OK) {
        fprintf(stderr, "no C_GetFunctionList in %s\n", path);
        exit(2);
    }
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    const char *initpath = getenv("KMS_P11_INIT_PATH");
    args.pReserved = (void *)initpath;
    P11(C_Initialize(initpath ? &args : NULL));
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    P11(C_GetSlotList(CK_TRUE, slots, &n));
    if (n < 1)
        die_rv("no slot", CKR_GENERAL_ERROR);
    slot0 = slots[0];
    P11(C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess));
}

/* Returns the number of matches (0..8) for a label or an id. */
CK_ULONG find(CK_ATTRIBUTE_TYPE type, const char *value, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t = {type, (void *)value, strlen(value)};
    CK_OBJECT_HANDLE hs[8];
    CK_ULONG n = 0;
    P11(C_FindObjectsInit(sess, &t, 1));
    P11(C_FindObjects(sess, hs, 8, &n));
    P11(C_FindObjectsFinal(sess));
    if (n > 0 && out)
        *out = hs[0];
    return n;
}

static CK_OBJECT_HANDLE need_key(const char *label)
{
    CK_OBJECT_HANDLE k;
    if (find(CKA_LABEL, label, &k) == 0) {
        fprintf(stderr, "key \"%s\": object not found\n", label);
        exit(3);
    }
    return k;
}

static void print_attr(CK_OBJECT_HANDLE k, CK_ATTRIBUTE_TYPE type)
{
    char buf[256];
    CK_ATTRIBUTE a = {type, buf, sizeof(buf) - 1};
    P11(C_GetAttributeValue(sess, k, &a, 1));
    printf("%.*s\n", (int)a.ulValueLen, buf);
}

CK_GCM_PARAMS gcm(unsigned char *iv, const char *aad)
{
    CK_GCM_PARAMS g = {.pIv = iv,
                       .ulIvLen = 12,
                       .ulIvBits = 96,
                       .pAAD = (CK_BYTE_PTR)aad,
                       .ulAADLen = aad ? strlen(aad) : 0,
                       .ulTagBits = 128};
    return g;
}

CK_RV wrap(CK_OBJECT_HANDLE k, const char *aad, unsigned char iv[12], const unsigned char *in,
           CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen)
{
    CK_GCM_PARAMS g = gcm(iv, aad);
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    CK_RV rv = p11->C_EncryptInit(sess, &m, k);
    return rv != CKR_OK ? rv : p11->C_Encrypt(sess, (CK_BYTE_PTR)in, inlen, out, outlen);
}

CK_RV unwrap(CK_OBJECT_HANDLE k, const char *aad, unsigned char iv[12], const unsigned char *in,
             CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen)
{
    CK_GCM_PARAMS g = gcm(iv, aad);
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    CK_RV rv = p11->C_DecryptInit(sess, &m, k);
    return rv != CKR_OK ? rv : p11->C_Decrypt(sess, (CK_BYTE_PTR)in, inlen, out, outlen);
}

static size_t read_stdin(unsigned char *buf, size_t cap)
{
    size_t n = fread(buf, 1, cap, stdin);
    if (!feof(stdin)) {
        fprintf(stderr, "input too large\n");
        exit(2);
    }
    return n;
}

static int cmd_wrap(const char *label, const char *aad)
{
    CK_OBJECT_HANDLE k = need_key(label);
    unsigned char in[4096], iv[12], out[4096 + 16];
    size_t n = read_stdin(in, sizeof(in));
    CK_ULONG olen = sizeof(out);
    RAND_bytes(iv, sizeof(iv));
    CK_RV rv = wrap(k, aad, iv, in, n, out, &olen);
    if (rv != CKR_OK)
        die_rv("wrap", rv);
    for (size_t i = 0; i < 12; i++)
        printf("%02x", iv[i]);
    for (CK_ULONG i = 0; i < olen; i++)
        printf("%02x", out[i]);
    printf("\n");
    return 0;
}

static int cmd_unwrap(const char *label, const char *aad)
{
    CK_OBJECT_HANDLE k = need_key(label);
    char hex[2 * (4096 + 28) + 2];
    unsigned char blob[4096 + 28], out[4096];
    size_t hn = read_stdin((unsigned char *)hex, sizeof(hex) - 1), n = 0;
    while (hn && (hex[hn - 1] == '\n' || hex[hn - 1] == '\r'))
        hn--;
    for (size_t i = 0; i + 1 < hn && n < sizeof(blob); i += 2) {
        unsigned v;
        if (sscanf(hex + i, "%2x", &v) != 1)
            die_rv("bad hex input", CKR_ARGUMENTS_BAD);
        blob[n++] = (unsigned char)v;
    }
    if (n < 12 + 16)
        die_rv("blob too short", CKR_ARGUMENTS_BAD);
    CK_ULONG olen = sizeof(out);
    CK_RV rv = unwrap(k, aad, blob, blob + 12, n - 12, out, &olen);
    if (rv != CKR_OK)
        die_rv("unwrap", rv);
    fwrite(out, 1, olen, stdout);
    return 0;
}

static int cmd_keygen(const char *label)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_VALUE_LEN, &len, sizeof(len)},
                           {CKA_TOKEN, &t, sizeof(t)},
                           {CKA_SENSITIVE, &t, sizeof(t)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE k;
    P11(C_GenerateKey(sess, &m, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &k));
    print_attr(k, CKA_ID);
    return 0;
}

static int cmd_keygen_many(const char *prefix, int n)
{
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    for (int i = 0; i < n; i++) {
        char label[128];
        snprintf(label, sizeof(label), "%s-%d", prefix, i);
        CK_ATTRIBUTE t = {CKA_LABEL, label, strlen(label)};
        CK_OBJECT_HANDLE k;
        P11(C_GenerateKey(sess, &m, &t, 1, &k));
    }
    printf("%d keys\n", n);
    return 0;
}

/* Every object an empty template finds, fetched 10 at a time. */
static int cmd_count(void)
{
    CK_OBJECT_HANDLE hs[10];
    CK_ULONG n = 0, total = 0;
    P11(C_FindObjectsInit(sess, NULL, 0));
    do {
        P11(C_FindObjects(sess, hs, 10, &n));
        total += n;
    } while (n > 0);
    P11(C_FindObjectsFinal(sess));
    printf("%lu\n", (unsigned long)total);
    return 0;
}

/* PKCS#11 §5.4 after fork(): the child gets CKR_CRYPTOKI_NOT_INITIALIZED
 * until it calls C_Initialize itself, then works; the parent's pooled
 * connection is not disturbed by the child. */
static int cmd_fork(const char *label)
{
    CK_OBJECT_HANDLE k = need_key(label);
    unsigned char dek[32] = {7}, iv[12] = {1}, blob[48], back[32];
    CK_ULONG bl = sizeof(blob), pl = sizeof(back);
    if (wrap(k, "fork", iv, dek, 32, blob, &bl) != CKR_OK)
        die_rv("parent wrap", CKR_GENERAL_ERROR);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        CK_RV rv = wrap(k, "fork", iv, dek, 32, blob, &bl);
        if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
            printf("FAIL: child before C_Initialize: %s\n", rvname(rv));
            _exit(1);
        }
        rv = p11->C_Initialize(NULL);
        CK_SESSION_HANDLE s2;
        if (rv == CKR_OK)
            rv = p11->C_OpenSession(slot0, CKF_SERIAL_SESSION, NULL, NULL, &s2);
        if (rv != CKR_OK) {
            printf("FAIL: child re-initialise: %s\n", rvname(rv));
            _exit(1);
        }
        sess = s2;
        CK_OBJECT_HANDLE k2;
        pl = sizeof(back);
        if (find(CKA_LABEL, label, &k2) != 1 ||
            unwrap(k2, "fork", iv, blob, bl, back, &pl) != CKR_OK || memcmp(back, dek, 32) != 0) {
            printf("FAIL: child unwrap after C_Initialize\n");
            _exit(1);
        }
        printf("ok: child: not initialised after fork, works after C_Initialize\n");
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    pl = sizeof(back);
    CK_RV rv = unwrap(k, "fork", iv, blob, bl, back, &pl);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && rv == CKR_OK && memcmp(back, dek, 32) == 0;
    printf("%s: parent after the child: %s\n", ok ? "ok" : "FAIL", rvname(rv));
    return ok ? 0 : 1;
}

/* After C_Logout an encrypted client key is unloaded: a wrong PIN must not
 * log in again, and the key is not usable until the right one does. */
static int cmd_relogin(const char *pin, const char *label)
{
    CK_RV rv;
    int bad = 0;
#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        rv = p11->call;                                                                            \
        if (rv != (want)) {                                                                        \
            printf("FAIL: %s: %s, want %s\n", #call, rvname(rv), rvname(want));                    \
            bad++;                                                                                 \
        } else                                                                                     \
            printf("ok: %s -> %s\n", #call, rvname(rv));                                           \
    } while (0)
    EXPECT(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
    CHECK(find(CKA_LABEL, label, NULL) == 1, "key found after login");
    EXPECT(C_Logout(sess), CKR_OK);
    EXPECT(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR) "wrong", 5), CKR_PIN_INCORRECT);
    CK_ATTRIBUTE t = {CKA_LABEL, (void *)label, strlen(label)};
    EXPECT(C_FindObjectsInit(sess, &t, 1), CKR_USER_NOT_LOGGED_IN);
    EXPECT(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
    CHECK(find(CKA_LABEL, label, NULL) == 1, "key found after logging in again");
#undef EXPECT
    return bad || failures ? 1 : 0;
}

/* pthread_atfork: a child forked while another thread holds the module's
 * lock must still be able to C_Initialize. One thread hammers a call that
 * takes the lock; the main thread forks; each child initialises with an
 * alarm as deadlock detector.
 *
 * The first fork waits until the hammer thread has made a call: a thread
 * that is still starting up allocates (glibc's pthread_getattr_np, called
 * by ASan's thread start, and the module's thread-local block), and the
 * ASan runtime of clang 14 takes no allocator locks around fork(), so a
 * child forked at that moment inherits an allocator lock held by a thread
 * it does not have and hangs in its first malloc/free (seen: "child 0"
 * hung in free() under OpenSSL in C_Initialize). That is the sanitizer's
 * fork-unsafety, not a lock of the module; glibc's malloc is fork-safe.
 * From its first call on, the hammer thread only ever holds the module's
 * own lock, which is what this test is about. */
static volatile int hammer_stop;
static int hammer_running;

static void *hammer(void *arg)
{
    (void)arg;
    CK_SESSION_INFO si;
    while (!hammer_stop) {
        (void)p11->C_GetSessionInfo(sess, &si);
        __atomic_store_n(&hammer_running, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static int cmd_forklock(int n)
{
    pthread_t th;
    if (pthread_create(&th, NULL, hammer, NULL) != 0)
        die_rv("pthread_create", CKR_GENERAL_ERROR);
    while (!__atomic_load_n(&hammer_running, __ATOMIC_ACQUIRE))
        usleep(1000);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* Generous: only a real deadlock takes this long, even under
             * ASan on a loaded machine (a child initialises in ~50 ms). */
            alarm(30);
            CK_RV rv = p11->C_Initialize(NULL);
            _exit(rv == CKR_OK ? 0 : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("FAIL: child %d: %s\n", i,
                   WIFSIGNALED(st) ? "deadlocked (alarm)" : "C_Initialize failed");
            bad = 1;
        }
    }
    hammer_stop = 1;
    pthread_join(th, NULL);
    if (!bad)
        printf("ok: %d children forked under lock contention initialised\n", n);
    return bad;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Each iteration: fresh DEK, IV and AAD; wrap, unwrap, compare. A failed
 * call must fail with a clean code and never yield wrong data. */
static int cmd_loop(const char *label, int n, int ms)
{
    CK_OBJECT_HANDLE k = need_key(label);
    int ok = 0, bad = 0, wrong = 0, last_ok = 0;
    const char *stop = getenv("KMS_LOOP_STOP"); /* a file: stop when it exists */
    for (int i = 0; i < n && !(stop && access(stop, F_OK) == 0); i++) {
        unsigned char dek[32], iv[12], blob[48], back[32];
        char aad[40];
        RAND_bytes(dek, sizeof(dek));
        RAND_bytes(iv, sizeof(iv));
        snprintf(aad, sizeof(aad), "iteration=%d", i);
        CK_ULONG bl = sizeof(blob), pl = sizeof(back);
        double t0 = now_s();
        CK_RV rv = wrap(k, aad, iv, dek, sizeof(dek), blob, &bl);
        if (rv == CKR_OK)
            rv = unwrap(k, aad, iv, blob, bl, back, &pl);
        if (rv == CKR_OK && (pl != sizeof(dek) || memcmp(back, dek, pl) != 0)) {
            printf("iter %d WRONG DATA\n", i);
            wrong++;
            last_ok = 0;
        } else if (rv == CKR_OK) {
            printf("iter %d OK %.1f ms\n", i, (now_s() - t0) * 1e3);
            ok++;
            last_ok = 1;
        } else {
            printf("iter %d FAIL %s %.1f ms\n", i, rvname(rv), (now_s() - t0) * 1e3);
            bad++;
            last_ok = 0;
        }
        fflush(stdout);
        if (ms > 0 && i + 1 < n)
            usleep((useconds_t)ms * 1000);
    }
    printf("summary ok=%d failed=%d wrong=%d last=%s\n", ok, bad, wrong, last_ok ? "ok" : "failed");
    return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(
            stderr,
            "usage: kms_p11 MODULE find|findid|keygen|destroy|wrap|unwrap|semantics|loop ...\n");
        return 2;
    }
    load(argv[1]);
    const char *cmd = argv[2], *arg = argv[3];
    int rc = 0;
    if (strcmp(cmd, "find") == 0) {
        CK_OBJECT_HANDLE k = need_key(arg);
        print_attr(k, CKA_ID);
    } else if (strcmp(cmd, "findid") == 0) {
        CK_OBJECT_HANDLE k;
        if (find(CKA_ID, arg, &k) == 0) {
            fprintf(stderr, "id \"%s\": object not found\n", arg);
            return 3;
        }
        print_attr(k, CKA_LABEL);
    } else if (strcmp(cmd, "keygen") == 0) {
        rc = cmd_keygen(arg);
    } else if (strcmp(cmd, "destroy") == 0) {
        P11(C_DestroyObject(sess, need_key(arg)));
    } else if (strcmp(cmd, "wrap") == 0 && argc >= 5) {
        rc = cmd_wrap(arg, argv[4]);
    } else if (strcmp(cmd, "unwrap") == 0 && argc >= 5) {
        rc = cmd_unwrap(arg, argv[4]);
    } else if (strcmp(cmd, "relogin") == 0 && argc >= 5) {
        rc = cmd_relogin(arg, argv[4]);
    } else if (strcmp(cmd, "forklock") == 0) {
        rc = cmd_forklock(atoi(arg));
    } else if (strcmp(cmd, "fork") == 0) {
        rc = cmd_fork(arg);
    } else if (strcmp(cmd, "semantics") == 0) {
        rc = semantics(arg);
    } else if (strcmp(cmd, "keygen-many") == 0 && argc >= 5) {
        rc = cmd_keygen_many(arg, atoi(argv[4]));
    } else if (strcmp(cmd, "count") == 0) {
        rc = cmd_count();
    } else if (strcmp(cmd, "loop") == 0 && argc >= 6) {
        rc = cmd_loop(arg, atoi(argv[4]), atoi(argv[5]));
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        return 2;
    }
    p11->C_CloseSession(sess);
    p11->C_Finalize(NULL);
    return rc;
}
