/*
 * provider_wycheproof.c LIST MODE - Wycheproof RSA decryption vectors through
 * the provider: EVP_PKEY_decrypt on each test key's pkcs11: URI (keys
 * imported into SoftHSM2 by wycheproof_rsa_import.py, which writes LIST).
 *
 * MODE "decrypt": a valid vector gives exactly its message; an invalid one
 * fails, writes nothing into the output buffer, and every invalid vector of
 * a padding fails with the same reason and the same message (the key's
 * label aside): a caller, or an attacker watching one, cannot tell which
 * check failed (Bleichenbacher, Manger). MODE "v15-refused" (the provider
 * configured with rsa-pkcs1-v15 = no): every PKCS#1 v1.5 vector, valid or
 * not, is refused by policy and writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "envelope/provider.h"
#include "it_check.h"

#define OUT_MAX 512
#define FILL 0xA5

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = strcmp(h, "-") == 0 ? 0 : strlen(h) / 2;
    if (n > cap)
        FAIL("hex field longer than %zu bytes", cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            FAIL("bad hex");
        out[i] = (unsigned char)v;
    }
    return n;
}

/* The first error on the queue as "reason|message" (the key's label
 * replaced by KEY), then the queue cleared. */
static void first_error(const char *label, char *buf, size_t size, int *reason)
{
    const char *data = NULL, *file, *func;
    int line, flags;
    unsigned long e = ERR_get_error_all(&file, &line, &func, &data, &flags);
    *reason = ERR_GET_REASON(e);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", (flags & ERR_TXT_STRING) && data ? data : "");
    char *at = strstr(msg, label);
    if (at != NULL) {
        size_t ll = strlen(label);
        memmove(at + 3, at + ll, strlen(at + ll) + 1);
        memcpy(at, "KEY", 3);
    }
    snprintf(buf, size, "%s %d|%s", e ? ERR_lib_error_string(e) : "(empty queue)", *reason, msg);
    ERR_clear_error();
}

struct tally {
    const char *padding;
    int valid_ok, valid_refused_label, invalid_refused;
    char invalid_error[640];
};

int main(int argc, char **argv)
{
    if (argc != 3)
        FAIL("usage: provider_wycheproof LIST decrypt|v15-refused");
    int v15_refused = strcmp(argv[2], "v15-refused") == 0;
    FILE *f = fopen(argv[1], "r");
    CHECK(f != NULL);
    static char line[8192];
    char uri[256] = "";
    EVP_PKEY *pk = NULL;
    struct tally t[2] = {{.padding = "oaep-sha1"}, {.padding = "pkcs1"}};
    int failures = 0, n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *fld[8];
        int nf = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *p = strtok_r(line, "\t", &save); p != NULL && nf < 8;
             p = strtok_r(NULL, "\t", &save))
            fld[nf++] = p;
        if (nf != 8)
            FAIL("malformed line %d of %s", n + 1, argv[1]);
        n++;
        const char *label = strstr(fld[0], "object=") + 7;
        char key_label[64];
        snprintf(key_label, sizeof(key_label), "%.*s", (int)strcspn(label, ";"), label);
        if (strcmp(uri, fld[0]) != 0) {
            EVP_PKEY_free(pk);
            snprintf(uri, sizeof(uri), "%s", fld[0]);
            if ((pk = it_store_load(uri)) == NULL)
                FAIL("cannot load %s", uri);
        }
        int oaep = strcmp(fld[1], "oaep-sha1") == 0;
        struct tally *ty = &t[oaep ? 0 : 1];
        int valid = strcmp(fld[3], "valid") == 0;
        unsigned char ct[OUT_MAX], msg[OUT_MAX], lab[OUT_MAX], out[OUT_MAX];
        size_t ctlen = unhex(fld[4], ct, sizeof(ct)), msglen = unhex(fld[5], msg, sizeof(msg));
        size_t lablen = unhex(fld[6], lab, sizeof(lab)), outlen = sizeof(out);
        memset(out, FILL, sizeof(out));
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        int set = c != NULL && EVP_PKEY_decrypt_init(c) > 0 &&
                  EVP_PKEY_CTX_set_rsa_padding(c, oaep ? RSA_PKCS1_OAEP_PADDING
                                                       : RSA_PKCS1_PADDING) > 0;
        if (set && oaep)
            set = EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha1()) > 0 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha1()) > 0 &&
                  (lablen == 0 || EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_memdup(lab, lablen),
                                                                   (int)lablen) > 0);
        if (!set)
            FAIL("tcId %s: setting up the decryption failed", fld[2]);
        int ok = EVP_PKEY_decrypt(c, out, &outlen, ct, ctlen) > 0;
        EVP_PKEY_CTX_free(c);
        int untouched = 1;
        for (size_t i = 0; i < sizeof(out); i++)
            untouched &= out[i] == FILL;
        char err[640] = "";
        int reason = 0;
        if (!ok)
            first_error(key_label, err, sizeof(err), &reason);
        if (v15_refused && !oaep) {
            if (ok || reason != ENVELOPE_PROV_R_POLICY_REFUSED || !untouched) {
                fprintf(stderr, "FAIL pkcs1 tcId %s (%s): %s with rsa-pkcs1-v15 = no: %s\n", fld[2],
                        fld[3], ok ? "decrypted" : "not refused by policy", err);
                failures++;
            } else
                ty->invalid_refused++;
            continue;
        }
        if (valid && ok && outlen == msglen && memcmp(out, msg, msglen) == 0) {
            ty->valid_ok++;
        } else if (valid && !ok && lablen > 0 &&
                   reason == ENVELOPE_PROV_R_MECHANISM_NOT_SUPPORTED && untouched) {
            /* SoftHSM2 2.6 does OAEP without a label only: the provider
             * must say the token cannot, never answer something else */
            ty->valid_refused_label++;
        } else if (valid) {
            fprintf(stderr, "FAIL %s tcId %s (valid, %s): %s\n", fld[1], fld[2], fld[7],
                    ok ? "decrypted to another message" : err);
            failures++;
        } else if (ok || !untouched) {
            fprintf(stderr, "FAIL %s tcId %s (invalid, %s): %s\n", fld[1], fld[2], fld[7],
                    ok ? "decrypted" : "failed but wrote into the output buffer");
            failures++;
        } else if (ty->invalid_error[0] == '\0' || strcmp(ty->invalid_error, err) == 0) {
            snprintf(ty->invalid_error, sizeof(ty->invalid_error), "%s", err);
            ty->invalid_refused++;
        } else {
            fprintf(stderr,
                    "FAIL %s tcId %s (invalid, %s): a distinguishable error:\n  %s\n"
                    "  where the others said\n  %s\n",
                    fld[1], fld[2], fld[7], err, ty->invalid_error);
            failures++;
        }
    }
    fclose(f);
    EVP_PKEY_free(pk);
    for (int i = 0; i < 2; i++)
        printf("%s: %d valid vectors decrypted exactly, %d valid ones with a label refused as "
               "not supported by the token, %d %s; one error for every invalid one: %s\n",
               t[i].padding, t[i].valid_ok, t[i].valid_refused_label, t[i].invalid_refused,
               v15_refused && i == 1 ? "refused by policy" : "invalid vectors refused",
               t[i].invalid_error[0] ? t[i].invalid_error : "-");
    if (n == 0)
        FAIL("no vector in %s", argv[1]);
    if (failures)
        FAIL("%d of %d vectors failed", failures, n);
    return 0;
}
