/*
 * audit_verify.c - the checks of `envelope audit verify` (docs/AUDIT.md,
 * "The chain"), on lines as the provider's writer makes them: every line
 * a JSON object whose last member "hash" is SHA-256 over the line's bytes
 * up to `,"hash":"`, and whose "prev" is the hash of the line before it in
 * its chain ("chain", a random id), or 64 zeros on the line that starts it.
 *
 * So an edited line fails at that line (its own hash), a deleted line at
 * the line after it (whose prev no longer matches), a line moved or copied
 * at its new place. Lines of several chains (syslog exports, where every
 * process has its own chain) may interleave: each is followed on its own.
 * What no chain shows: lines cut off the end of a chain (docs/AUDIT.md
 * says how to anchor the end).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit_cli.h"

#define HASH_SUFFIX 75 /* ,"hash":" + 64 hex + "} */

typedef struct {
    char id[33];
    unsigned char last[32];
    uint64_t last_line;
} chain_state;

struct cli_audit_verifier {
    chain_state *chains;
    size_t n, cap;
    uint64_t lines;
    EVP_MD *md;
};

cli_audit_verifier *cli_audit_verifier_new(void)
{
    cli_audit_verifier *v = calloc(1, sizeof(*v));
    if (v != NULL && (v->md = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL) {
        free(v);
        v = NULL;
    }
    return v;
}

void cli_audit_verifier_free(cli_audit_verifier *v)
{
    if (v == NULL)
        return;
    EVP_MD_free(v->md);
    free(v->chains);
    free(v);
}

uint64_t cli_audit_verifier_chains(const cli_audit_verifier *v)
{
    return v->n;
}

static int is_hex(const char *s, size_t n)
{
    if (s == NULL || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void unhex(const char *h, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = h[2 * i + (size_t)j];
            v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c - '0');
        }
        out[i] = (unsigned char)v;
    }
}

static const char *str_member(json_object *o, const char *k)
{
    json_object *m = NULL;
    if (!json_object_object_get_ex(o, k, &m) || !json_object_is_type(m, json_type_string))
        return NULL;
    return json_object_get_string(m);
}

int cli_audit_verify_line(cli_audit_verifier *v, const char *line, size_t n, char *why,
                          size_t whysize)
{
    v->lines++;
    if (n < HASH_SUFFIX || memcmp(line + n - HASH_SUFFIX, ",\"hash\":\"", 9) != 0 ||
        memcmp(line + n - 2, "\"}", 2) != 0) {
        snprintf(why, whysize, "not an audit line (no \"hash\" member at its end: cut short?)");
        return 0;
    }
    json_tokener *tok = json_tokener_new();
    json_object *o = tok != NULL ? json_tokener_parse_ex(tok, line, (int)n) : NULL;
    int parsed = o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == n && json_object_is_type(o, json_type_object);
    json_tokener_free(tok);
    int ok = 0;
    const char *tag = parsed ? str_member(o, "audit") : NULL;
    const char *hash = parsed ? str_member(o, "hash") : NULL;
    const char *prev = parsed ? str_member(o, "prev") : NULL;
    const char *chain = parsed ? str_member(o, "chain") : NULL;
    unsigned char h[32], want[32];
    unsigned int hn = 0;
    if (!parsed)
        snprintf(why, whysize, "not a JSON object");
    else if (tag == NULL || strcmp(tag, "envelope/1") != 0)
        snprintf(why, whysize, "not an envelope audit line (\"audit\" is not \"envelope/1\")");
    else if (!is_hex(hash, 64) || !is_hex(prev, 64) || !is_hex(chain, 32))
        snprintf(why, whysize, "\"hash\", \"prev\" or \"chain\" missing or malformed");
    else if (!EVP_Digest(line, n - HASH_SUFFIX, h, &hn, v->md, NULL) || hn != 32)
        snprintf(why, whysize, "cannot hash");
    else if (unhex(hash, want, 32), CRYPTO_memcmp(h, want, 32) != 0)
        snprintf(why, whysize, "edited: its hash does not match its content");
    else
        ok = 1;
    if (ok) {
        chain_state *c = NULL;
        for (size_t i = 0; i < v->n; i++)
            if (strcmp(v->chains[i].id, chain) == 0)
                c = &v->chains[i];
        int start = strcmp(prev,
                           "0000000000000000000000000000000000000000000000000000000000000000") == 0;
        unsigned char p[32];
        unhex(prev, p, 32);
        if (start && c != NULL) {
            snprintf(why, whysize, "chain %s starts again (it started before line %llu)", chain,
                     (unsigned long long)c->last_line + 1);
            ok = 0;
        } else if (!start && c == NULL) {
            snprintf(why, whysize,
                     "chain %s does not start here and was not seen before: the lines before "
                     "it are missing",
                     chain);
            ok = 0;
        } else if (!start && CRYPTO_memcmp(p, c->last, 32) != 0) {
            snprintf(why, whysize,
                     "its \"prev\" is not the hash of line %llu, the chain's line before it: a "
                     "line in between was deleted, or line %llu was edited",
                     (unsigned long long)c->last_line, (unsigned long long)c->last_line);
            ok = 0;
        } else {
            if (c == NULL) {
                if (v->n == v->cap) {
                    size_t cap = v->cap ? 2 * v->cap : 16;
                    chain_state *g = realloc(v->chains, cap * sizeof(*g));
                    if (g == NULL) {
                        json_object_put(o);
                        snprintf(why, whysize, "out of memory");
                        return 0;
                    }
                    v->chains = g;
                    v->cap = cap;
                }
                c = &v->chains[v->n++];
                memcpy(c->id, chain, 33);
            }
            memcpy(c->last, h, 32);
            c->last_line = v->lines;
        }
    }
    json_object_put(o);
    return ok;
}
