/*
 * lib_wycheproof.c LIST - the Wycheproof AES-GCM and HKDF-SHA-512 vectors
 * (lib_wycheproof.sh turns the JSON files into LIST) through the library's
 * own functions, the ones the message format calls (lib/crypto.c):
 * env_crypto_set_key + env_gcm_seal / env_gcm_open, and env_hkdf_sha512.
 * One env_crypto serves every vector, re-keyed each time, as an opener
 * re-keys its contexts per message.
 *
 * GCM: the library uses AES-256, 96-bit nonces and 128-bit tags only; the
 * vectors with other sizes are counted as not applicable. A valid vector
 * seals to its ciphertext and tag and opens to its message; an invalid one
 * fails to open with ENVELOPE_ERR_AUTH and leaves the output wiped.
 * HKDF: a valid vector gives its OKM; an invalid one (an output over
 * 255 * 64 bytes) is refused with ENVELOPE_ERR_ARGUMENT and nothing
 * written. The library's HMAC takes keys of one block at most (the
 * format's salt is 32 bytes): a longer salt is counted as not applicable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_BYTES 20000

static int failures;

#define BAD(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, "FAIL " __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strcmp(h, "-") == 0 ? 0 : strlen(h) / 2;
    if (n > MAX_BYTES) {
        fprintf(stderr, "a hex field of %zu bytes\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            exit(1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static uint8_t key[MAX_BYTES], iv[MAX_BYTES], aad[MAX_BYTES], msg[MAX_BYTES], ct[MAX_BYTES],
    tag[MAX_BYTES], out[MAX_BYTES], otag[ENV_TAG_LEN];

struct counts {
    int valid, invalid, not_applicable;
};

static void gcm(env_crypto *c, char **f, struct counts *n)
{
    size_t kl = unhex(f[3], key), ivl = unhex(f[4], iv), al = unhex(f[5], aad);
    size_t ml = unhex(f[6], msg), cl = unhex(f[7], ct), tl = unhex(f[8], tag);
    int valid = strcmp(f[2], "valid") == 0;
    envelope_err err;
    if (kl != 32 || ivl != 12 || tl != ENV_TAG_LEN) {
        n->not_applicable++;
        return;
    }
    if (env_crypto_set_key(c, key, &err) != ENVELOPE_OK) {
        BAD("gcm %s: set key: %s", f[1], err.message);
        return;
    }
    if (valid) {
        memset(out, 0, ml);
        if (env_gcm_seal(c, iv, aad, al, msg, ml, out, otag, "test", &err) != ENVELOPE_OK ||
            cl != ml || memcmp(out, ct, ml) != 0 || memcmp(otag, tag, ENV_TAG_LEN) != 0)
            BAD("gcm %s (valid, %s): sealed to another ciphertext or tag", f[1], f[9]);
    }
    memset(out, 0xA5, cl);
    envelope_status s = env_gcm_open(c, iv, aad, al, ct, cl, tag, out, "test", &err);
    if (valid) {
        if (s != ENVELOPE_OK || memcmp(out, msg, ml) != 0)
            BAD("gcm %s (valid, %s): open: %s", f[1], f[9],
                s != ENVELOPE_OK ? err.message : "another message");
        else
            n->valid++;
    } else if (s != ENVELOPE_ERR_AUTH || !all_zero(out, cl)) {
        BAD("gcm %s (invalid, %s): %s", f[1], f[9],
            s == ENVELOPE_OK ? "opened" : "not a wiped ENVELOPE_ERR_AUTH");
    } else {
        n->invalid++;
    }
}

static void hkdf(env_crypto *c, char **f, struct counts *n)
{
    size_t il = unhex(f[3], key), sl = unhex(f[4], iv), nl = unhex(f[5], aad);
    size_t size = strtoul(f[6], NULL, 10), ol = unhex(f[7], msg);
    int valid = strcmp(f[2], "valid") == 0;
    envelope_err err;
    if (sl > 128) {
        n->not_applicable++;
        return;
    }
    if (size > MAX_BYTES)
        size = MAX_BYTES + 1; /* only its refusal is checked */
    memset(out, 0xA5, sizeof(out));
    envelope_status s = env_hkdf_sha512(c, iv, sl, key, il, aad, nl, out, size, &err);
    if (valid) {
        if (s != ENVELOPE_OK || ol != size || memcmp(out, msg, size) != 0)
            BAD("hkdf %s (valid, %s): %s", f[1], f[8],
                s != ENVELOPE_OK ? err.message : "another OKM");
        else
            n->valid++;
    } else if (s != ENVELOPE_ERR_ARGUMENT || out[0] != 0xA5) {
        BAD("hkdf %s (invalid, %s): not refused as an argument error", f[1], f[8]);
    } else {
        n->invalid++;
    }
}

int main(int argc, char **argv)
{
    envelope_lib *lib = NULL;
    envelope_err err;
    env_crypto c;
    if (argc != 2 || envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        env_crypto_init(&c, lib, ENV_KEY_ENC | ENV_KEY_DEC, &err) != ENVELOPE_OK) {
        fprintf(stderr, "usage: lib_wycheproof LIST (or no library: %s)\n", err.message);
        return 1;
    }
    FILE *fp = fopen(argv[1], "r");
    if (fp == NULL)
        return 1;
    static char line[4 * MAX_BYTES];
    struct counts g = {0}, h = {0};
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *f[10], *save = NULL;
        int nf = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *p = strtok_r(line, "\t", &save); p != NULL && nf < 10;
             p = strtok_r(NULL, "\t", &save))
            f[nf++] = p;
        if (nf == 10 && strcmp(f[0], "gcm") == 0)
            gcm(&c, f, &g);
        else if (nf == 9 && strcmp(f[0], "hkdf") == 0)
            hkdf(&c, f, &h);
        else
            BAD("malformed line: %s", line);
    }
    fclose(fp);
    env_crypto_cleanup(&c);
    envelope_lib_free(lib);
    printf(
        "AES-256-GCM (96-bit nonce, 128-bit tag): %d valid sealed and opened exactly, %d invalid "
        "refused (ENVELOPE_ERR_AUTH, output wiped); %d vectors of other sizes not applicable\n",
        g.valid, g.invalid, g.not_applicable);
    printf("HKDF-SHA-512: %d valid exact, %d invalid refused; %d with a salt over 128 bytes not "
           "applicable\n",
           h.valid, h.invalid, h.not_applicable);
    if (g.valid == 0 || h.valid == 0)
        failures++;
    return failures ? 1 : 0;
}
