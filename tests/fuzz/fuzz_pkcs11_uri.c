/*
 * fuzz_pkcs11_uri.c - libFuzzer target for what reads pkcs11: URIs: the
 * reference rules of libenvelope (lib/uri.c: strip, printable, scheme, the
 * untrusted-reference check), the attribute reader and matcher (core/
 * uri_match.c: kek aliases, retirement, kek-preference) and the PKCS#11
 * backend's parse on top of p11-kit (hsm/hsm_uri.c) with the token list
 * and token match it feeds (hsm/hsm_tokens.c).
 *
 * Input: "URI\nOTHER\nTOKENS": the URI under test, a second URI to match it
 * against (envcore_uri_names both ways) and a pkcs11-tokens list; missing
 * parts are empty. Nothing opens a module.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "hsm.h"
#include "hsm_internal.h"
#include "internal.h"
#include "uri_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *e = nl != NULL ? nl : end;
    size_t n = (size_t)(e - *p);
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl != NULL ? nl + 1 : end;
    return s;
}

static void lib_rules(const char *uri, size_t len)
{
    envelope_err e;
    char out[ENVELOPE_MAX_KEK_URI + 1], scheme[16];
    if (env_uri_strip(uri, out, sizeof(out), &e) == ENVELOPE_OK) {
        if (strlen(out) > len || strchr(out, '?') != NULL)
            abort(); /* stripping only removes */
        if (env_uri_printable(out, sizeof(out), &e) == ENVELOPE_OK)
            for (const char *c = out; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                    abort(); /* a reference to record is printable ASCII */
    }
    (void)env_uri_message_scheme(uri);
    (void)env_uri_scheme(uri, scheme, sizeof(scheme));
    if (env_uri_check_untrusted((const uint8_t *)uri, len, out, sizeof(out), &e) == ENVELOPE_OK &&
        (strlen(out) != len || strchr(out, '?') != NULL))
        abort(); /* an accepted reference is copied whole and has no query */
}

static void matcher(const char *uri, const char *other)
{
    static const char *const names[] = {"token", "object", "id", "serial", "type", "handle"};
    char v[256];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (envcore_uri_attribute(uri, names[i], v, sizeof(v)) && strlen(v) >= sizeof(v))
            abort();
    (void)envcore_uri_names(uri, other, 0);
    (void)envcore_uri_names(other, uri, 1);
    if (envcore_uri_names(uri, uri, 0) && strchr(uri, ':') == NULL)
        abort(); /* a match needs a scheme */
}

static void backend(const char *uri, const char *tokens)
{
    P11KitUri *p = NULL;
    struct hsm_token_list *l = NULL;
    if (hsm_token_list_parse(tokens[0] ? tokens : NULL, NULL, &l) != ENVCORE_R_OK)
        l = NULL;
    if (hsm_uri_parse(uri, &p) == ENVCORE_R_OK) {
        (void)hsm_uri_names_slot_or_library(p);
        CK_TOKEN_INFO ti;
        memset(&ti, ' ', sizeof(ti));
        memcpy(ti.label, "envelope-fuzz", 13);
        memcpy(ti.manufacturerID, "SoftHSM project", 15);
        memcpy(ti.model, "SoftHSM v2", 10);
        memcpy(ti.serialNumber, "0123456789abcdef", 16);
        (void)p11_kit_uri_match_token_info(p, &ti);
        (void)hsm_token_list_match(l, &ti);
        (void)hsm_token_list_names_absent(l, p, NULL, 0);
        p11_kit_uri_free(p);
    }
    hsm_token_list_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    const uint8_t *p = data, *end = data + size;
    char *uri = part(&p, end), *other = part(&p, end), *tokens = part(&p, end);
    lib_rules(uri, strlen(uri));
    matcher(uri, other);
    backend(uri, tokens);
    free(uri);
    free(other);
    free(tokens);
    ERR_clear_error();
    return 0;
}
