/*
 * test_lib_vectors.c - libenvelope against the committed known-answer
 * vectors (tests/vectors/vectors.txt), the same file the independent Python
 * decoder checks: both must give the same verdict and plaintext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope/envelope.h"

static uint8_t *unhex(const char *s, size_t *n)
{
    size_t l = strlen(s);
    uint8_t *b = malloc(l / 2 + 1);
    for (size_t i = 0; i + 1 < l; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1)
            fail_msg("bad hex");
        b[i / 2] = (uint8_t)v;
    }
    *n = l / 2;
    return b;
}

static char name[128], keks[256], plaintext_hex[1 << 17], message_hex[1 << 18], expect[64];

static void check_one(envelope_lib *lib, const char *dir, int *count)
{
    envelope_kek *k[4] = {0};
    size_t nk = 0;
    envelope_err e;
    char *save = NULL;
    for (char *t = strtok_r(keks, " ", &save); t && nk < 4; t = strtok_r(NULL, " ", &save)) {
        char path[1024];
        snprintf(path, sizeof(path), "file:%s/%s", dir, t);
        assert_int_equal(envelope_kek_open(lib, path, &k[nk++], &e), ENVELOPE_OK);
    }
    size_t plen, mlen, olen = 0;
    uint8_t *pt = unhex(plaintext_hex, &plen), *msg = unhex(message_hex, &mlen), *out = NULL;
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = k,
                               .nkeks = nk,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_status s = envelope_open(lib, &o, msg, mlen, &out, &olen, NULL, &e);
    const char *got = envelope_status_name(s);
    if (strcmp(got, "ENVELOPE_OK") == 0)
        got = "ok";
    if (strcmp(got, expect) != 0)
        fail_msg("vector %s: expected %s, got %s (%s)", name, expect, got, e.message);
    if (s == ENVELOPE_OK) {
        assert_int_equal(olen, plen);
        assert_true(plen == 0 || memcmp(out, pt, plen) == 0);
        envelope_buffer_free(out, olen);
    } else {
        assert_null(out);
    }
    free(pt);
    free(msg);
    for (size_t i = 0; i < nk; i++)
        envelope_kek_free(k[i]);
    (*count)++;
}

static void test_vectors(void **state)
{
    (void)state;
    const char *dir = getenv("ENVELOPE_VECTORS");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/vectors.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    envelope_lib *lib = NULL;
    envelope_err e;
    assert_int_equal(envelope_lib_new(NULL, NULL, &lib, &e), ENVELOPE_OK);
    char *line = NULL;
    size_t cap = 0;
    int count = 0, have = 0;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#')
            continue;
        if (line[0] == '\0') {
            if (have)
                check_one(lib, dir, &count);
            have = 0;
            continue;
        }
        char *v = strstr(line, ": ");
        const char *val = v ? v + 2 : "";
        if (strncmp(line, "name:", 5) == 0)
            snprintf(name, sizeof(name), "%s", val), have = 1;
        else if (strncmp(line, "keks:", 5) == 0)
            snprintf(keks, sizeof(keks), "%s", val);
        else if (strncmp(line, "plaintext:", 10) == 0)
            snprintf(plaintext_hex, sizeof(plaintext_hex), "%s", val);
        else if (strncmp(line, "message:", 8) == 0)
            snprintf(message_hex, sizeof(message_hex), "%s", val);
        else if (strncmp(line, "expect:", 7) == 0)
            snprintf(expect, sizeof(expect), "%s", val);
    }
    if (have)
        check_one(lib, dir, &count);
    free(line);
    fclose(f);
    envelope_lib_free(lib);
    assert_true(count >= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
