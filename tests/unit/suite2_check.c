/*
 * suite2_check.c FILE - checks every suite 2 vector in FILE with
 * libenvelope (format: tests/vectors/README.md). Run on the committed
 * tests/vectors/suite2.txt (made by gen_suite2.c) and on a file the
 * independent Python decoder writes at test time
 * (envelope_decode.py suite2-write), so that each side reads the other's.
 * KEK files are named relative to FILE's folder. Prints one PASS/FAIL line
 * per vector; exit status 0 only if all passed.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite2.h"

#define MAXV 32

typedef struct {
    char name[128], keks[256], context[1024], expect[64];
    uint8_t *f[MAXV];
    size_t flen[MAXV];
    char fname[MAXV][32];
    size_t nf;
} vec;

static envelope_lib *lib;
static envelope_record_ctx *rc;
static char folder[4096];

static const uint8_t *get(const vec *v, const char *name, size_t *len)
{
    for (size_t i = 0; i < v->nf; i++)
        if (strcmp(v->fname[i], name) == 0) {
            *len = v->flen[i];
            return v->f[i];
        }
    *len = 0;
    return NULL;
}

static int unhex(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2)
        return 0;
    *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned x;
        if (sscanf(s + 2 * i, "%2x", &x) != 1) {
            free(*out);
            *out = NULL;
            return 0;
        }
        (*out)[i] = (uint8_t)x;
    }
    *len = n / 2;
    return 1;
}

static const char *kat(const vec *v)
{
    size_t dl, kl, ml, cl, il, k1l, nl, al, pl, rl;
    const uint8_t *dek = get(v, "dek", &dl), *k = get(v, "K", &kl), *m = get(v, "M", &ml),
                  *c = get(v, "C", &cl), *id = get(v, "dek_id", &il), *k1 = get(v, "K1", &k1l),
                  *n = get(v, "nonce", &nl), *ad = get(v, "ad", &al),
                  *pt = get(v, "plaintext", &pl), *rec = get(v, "record", &rl);
    uint8_t okm[96], out[4096];
    envelope_err e;
    if (dl != 32 || kl != 32 || ml != 32 || cl != 32 || il != 16 || k1l != 16 || nl != 24 ||
        rl != pl + 63 || pl > sizeof(out) - 63)
        return "malformed-vector";
    size_t cxl;
    const uint8_t *cx = get(v, "context_bytes", &cxl);
    if (cx == NULL || env_kb_okm(lib, dek, cx, cxl, okm, &e) != ENVELOPE_OK)
        return "okm-failed";
    if (memcmp(okm, k, 32) != 0 || memcmp(okm + 32, m, 32) != 0 || memcmp(okm + 64, c, 32) != 0 ||
        memcmp(c, id, 16) != 0)
        return "derivation-differs";
    size_t bl, tl;
    const uint8_t *body = get(v, "kb_body", &bl), *want = get(v, "kb_tag", &tl);
    uint8_t tag[16];
    if (body == NULL || tl != 16 || env_kb_tag(lib, m, body, bl, tag, &e) != ENVELOPE_OK ||
        memcmp(tag, want, 16) != 0)
        return "kb-tag-differs";
    envelope_keyblock *kb = NULL;
    if (env_kb_from_key(lib, k, id, &kb, &e) != ENVELOPE_OK)
        return "keyblock-failed";
    const char *res = "ok";
    size_t got = 0;
    memcpy(out, rec, 47);
    if (memcmp(kb->s->k1, k1, 16) != 0)
        res = "k1-differs";
    else if (env_xaes_seal(rc, kb, n, rec, 23, ad, al, pt, pl, out + 47, out + 47 + pl, &e) !=
                 ENVELOPE_OK ||
             memcmp(out, rec, rl) != 0)
        res = "record-differs";
    else if (envelope_record_open(rc, kb, ad, al, rec, rl, out, sizeof(out), &got, &e) !=
             ENVELOPE_OK)
        res = envelope_status_name(e.code);
    else if (got != pl || memcmp(out, pt, pl) != 0)
        res = "ok-but-wrong-plaintext";
    envelope_keyblock_free(kb);
    return res;
}

static const char *check(const vec *v)
{
    if (get(v, "dek", &(size_t){0}) != NULL)
        return kat(v);
    envelope_kek *keks[4];
    size_t nk = 0;
    char names[256];
    envelope_err e;
    snprintf(names, sizeof(names), "%s", v->keks);
    for (char *save = NULL, *t = strtok_r(names, " ", &save); t && nk < 4;
         t = strtok_r(NULL, " ", &save)) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", folder, t);
        if (envelope_kek_open(lib, path, &keks[nk], &e) != ENVELOPE_OK)
            return "kek-open-failed";
        nk++;
    }
    size_t kbl, al, pl, rl;
    const uint8_t *kbb = get(v, "keyblock", &kbl), *ad = get(v, "ad", &al),
                  *pt = get(v, "plaintext", &pl), *rec = get(v, "record", &rl);
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = keks,
                               .nkeks = nk,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_keyblock *kb = NULL;
    static uint8_t out[1 << 16];
    size_t got = 0;
    const char *res = "ok";
    envelope_status s = envelope_keyblock_load(lib, &o, kbb ? kbb : (const uint8_t *)"", kbl, &kb,
                                               &e);
    if (s == ENVELOPE_OK)
        s = envelope_record_open(rc, kb, ad, al, rec ? rec : (const uint8_t *)"", rl, out,
                                 sizeof(out), &got, &e);
    if (s != ENVELOPE_OK) {
        res = envelope_status_name(s);
    } else if (got != pl || (pl && memcmp(out, pt, pl) != 0)) {
        res = "ok-but-wrong-plaintext";
    } else {
        /* the context, as "k=v" pairs in canonical order */
        char ctx[1024] = "";
        const envelope_context *c = envelope_keyblock_context(kb);
        for (size_t i = 0; i < envelope_context_count(c); i++)
            snprintf(ctx + strlen(ctx), sizeof(ctx) - strlen(ctx), "%s%s=%s", i ? " " : "",
                     envelope_context_key(c, i), envelope_context_value(c, i));
        if (strcmp(ctx, v->context) != 0)
            res = "ok-but-other-context";
    }
    envelope_keyblock_free(kb);
    for (size_t i = 0; i < nk; i++)
        envelope_kek_free(keks[i]);
    return res;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fprintf(stderr, "usage: suite2_check FILE\n"), 2;
    FILE *f = fopen(argv[1], "r");
    if (f == NULL)
        return perror(argv[1]), 2;
    char *dup = strdup(argv[1]);
    snprintf(folder, sizeof(folder), "%s", dirname(dup));
    free(dup);
    envelope_err e;
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK ||
        envelope_record_ctx_new(lib, &rc, &e) != ENVELOPE_OK)
        return fprintf(stderr, "%s\n", e.message), 2;
    static char line[1 << 18];
    vec v;
    memset(&v, 0, sizeof(v));
    int total = 0, fails = 0, more = 1;
    while (more) {
        more = fgets(line, sizeof(line), f) != NULL;
        line[strcspn(line, "\n")] = '\0';
        if (more && line[0] == '#')
            continue;
        if (!more || line[0] == '\0') {
            if (v.name[0] != '\0') {
                const char *got = check(&v);
                int ok = strcmp(got, v.expect) == 0;
                printf("%s %s: expected %s, got %s\n", ok ? "PASS" : "FAIL", v.name, v.expect, got);
                total++;
                fails += !ok;
            }
            for (size_t i = 0; i < v.nf; i++)
                free(v.f[i]);
            memset(&v, 0, sizeof(v));
            continue;
        }
        char *colon = strstr(line, ": ");
        char *val = colon ? colon + 2 : line + strlen(line);
        if (colon == NULL && line[strlen(line) - 1] == ':')
            colon = line + strlen(line) - 1;
        if (colon == NULL)
            continue;
        *colon = '\0';
        if (strcmp(line, "name") == 0)
            snprintf(v.name, sizeof(v.name), "%s", val);
        else if (strcmp(line, "keks") == 0)
            snprintf(v.keks, sizeof(v.keks), "%s", val);
        else if (strcmp(line, "context") == 0)
            snprintf(v.context, sizeof(v.context), "%s", val);
        else if (strcmp(line, "expect") == 0)
            snprintf(v.expect, sizeof(v.expect), "%s", val);
        else if (v.nf < MAXV && unhex(val, &v.f[v.nf], &v.flen[v.nf])) {
            if (snprintf(v.fname[v.nf], sizeof(v.fname[0]), "%s", line) >= (int)sizeof(v.fname[0]))
                continue; /* a field name this long is no field of the vectors */
            v.nf++;
        }
    }
    fclose(f);
    printf("%d/%d vectors passed\n", total - fails, total);
    envelope_record_ctx_free(rc);
    envelope_lib_free(lib);
    return total > 0 && fails == 0 ? 0 : 1;
}
