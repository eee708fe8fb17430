/*
 * differential_driver.c - libenvelope's verdict on messages, for
 * tests/fuzz/differential.py, which compares it with the Python reference
 * decoder (tests/reference/envelope_decode.py).
 *
 *   differential_driver [--strip-chunk-program] KEK.pem... -- FILE...
 *
 * For every FILE one line: "FILE<TAB>OPEN<TAB>HEADER", where OPEN is
 * envelope_open's verdict with the file KEKs given ("ok" or the status
 * name) and HEADER the key-less reader's (envelope_inspector): "ok" once
 * it has read the header, else the status name. --strip-chunk-program
 * drops the chunk program fuzz_decrypt_stream's inputs start with.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t r; buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            uint8_t *grown = realloc(buf, cap *= 2);
            if (grown == NULL)
                free(buf);
            buf = grown;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *verdict(envelope_status s)
{
    return s == ENVELOPE_OK ? "ok" : envelope_status_name(s);
}

static const char *header_verdict(const uint8_t *m, size_t n)
{
    envelope_inspector *in = NULL;
    envelope_err e;
    if (envelope_inspector_new(&in, &e) != ENVELOPE_OK)
        return "ENVELOPE_ERR_NOMEM";
    envelope_status s = envelope_inspector_update(in, m, n, &e);
    if (s == ENVELOPE_OK && !envelope_inspector_has_header(in))
        s = envelope_inspector_final(in, &e); /* ends inside the header */
    int have = envelope_inspector_has_header(in);
    envelope_inspector_free(in);
    return have ? "ok" : s == ENVELOPE_OK ? "ENVELOPE_ERR_TRUNCATED" : envelope_status_name(s);
}

int main(int argc, char **argv)
{
    int strip = 0, i = 1;
    if (i < argc && strcmp(argv[i], "--strip-chunk-program") == 0)
        strip = 1, i++;
    envelope_lib *lib = NULL;
    envelope_err e;
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK) {
        fprintf(stderr, "differential_driver: %s\n", e.message);
        return 1;
    }
    envelope_kek *keks[8];
    size_t nk = 0;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char uri[4096];
        snprintf(uri, sizeof(uri), "file:%s", argv[i]);
        if (nk == 8 || envelope_kek_open(lib, uri, &keks[nk], &e) != ENVELOPE_OK) {
            fprintf(stderr, "differential_driver: %s: %s\n", argv[i],
                    nk == 8 ? "too many" : e.message);
            return 1;
        }
        nk++;
    }
    for (i++; i < argc; i++) {
        size_t len = 0;
        uint8_t *data = slurp(argv[i], &len);
        if (data == NULL) {
            fprintf(stderr, "differential_driver: cannot read %s\n", argv[i]);
            return 1;
        }
        const uint8_t *m = data;
        size_t n = len;
        if (strip) {
            size_t skip = len > 0 ? 1 + (size_t)(data[0] % 16) : 0;
            if (skip > len) {
                free(data);
                continue; /* not an input the target reads */
            }
            m += skip, n -= skip;
        }
        envelope_decrypt_opts o = {.struct_size = sizeof(o),
                                   .keks = keks,
                                   .nkeks = nk,
                                   .expected = NULL,
                                   .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
        uint8_t *out = NULL;
        size_t olen = 0;
        envelope_status s = envelope_open(lib, &o, m, n, &out, &olen, NULL, &e);
        envelope_buffer_free(out, olen);
        printf("%s\t%s\t%s\n", argv[i], verdict(s), header_verdict(m, n));
        free(data);
    }
    for (size_t k = 0; k < nk; k++)
        envelope_kek_free(keks[k]);
    envelope_lib_free(lib);
    return 0;
}
