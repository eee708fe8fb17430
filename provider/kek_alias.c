/*
 * kek_alias.c - see kek_alias.h.
 */
#include "kek_alias.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/err.h>

#include "store_common.h"
#include "uri_match.h"

#define ALIAS_NAME_MAX 64
#define ALIAS_URI_MAX 1024

struct alias {
    char name[ALIAS_NAME_MAX + 1];
    char *uris[ENVPROV_MAX_ALIAS_URIS]; /* current, previous..., retired... */
    envprov_alias_role roles[ENVPROV_MAX_ALIAS_URIS];
    size_t n;
};

struct envprov_aliases {
    struct alias a[ENVPROV_MAX_ALIASES];
    size_t n;
};

static int name_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* "kek.NAME[.previous|.retired]": the name's length and the role. */
static size_t parse_key(const char *key, envprov_alias_role *role)
{
    size_t pl = strlen(ENVPROV_ALIAS_PREFIX);
    if (strncmp(key, ENVPROV_ALIAS_PREFIX, pl) != 0)
        return 0;
    const char *name = key + pl;
    size_t n = 0;
    while (name_char((unsigned char)name[n]))
        n++;
    if (n == 0 || n > ALIAS_NAME_MAX)
        return 0;
    if (name[n] == '\0')
        *role = ENVPROV_ROLE_CURRENT;
    else if (strcmp(name + n, ".previous") == 0)
        *role = ENVPROV_ROLE_PREVIOUS;
    else if (strcmp(name + n, ".retired") == 0)
        *role = ENVPROV_ROLE_RETIRED;
    else
        return 0;
    return n;
}

int envprov_alias_key_ok(const char *key)
{
    envprov_alias_role r;
    return parse_key(key, &r) > 0;
}

static struct alias *alias_named(struct envprov_aliases *as, const char *name, size_t len)
{
    for (size_t i = 0; i < as->n; i++)
        if (strlen(as->a[i].name) == len && memcmp(as->a[i].name, name, len) == 0)
            return &as->a[i];
    if (as->n == ENVPROV_MAX_ALIASES)
        return NULL;
    struct alias *a = &as->a[as->n++];
    memcpy(a->name, name, len);
    a->name[len] = '\0';
    return a;
}

static int bad(const char *key, const char *why, const char *detail)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s: %s%s%.200s%s", key, why, detail ? " (\"" : "",
                  detail ? detail : "", detail ? "\")" : "");
    return ENVCORE_R_BAD_CONFIG;
}

/* Adds the comma-separated URIs of one setting to a. */
static int add_uris(envprov_ctx *pc, struct alias *a, const char *key, const char *value,
                    envprov_alias_role role)
{
    const char *p = value;
    size_t added = 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0)
            break;
        if (len > ALIAS_URI_MAX)
            return bad(key, "a URI is longer than 1024 bytes", NULL);
        if (a->n == ENVPROV_MAX_ALIAS_URIS)
            return bad(key, "an alias holds at most 16 keys", NULL);
        char *uri = strndup(p, len);
        if (uri == NULL)
            return bad(key, "out of memory", NULL);
        void *client = NULL;
        if (strncasecmp(uri, ENVPROV_ALIAS_SCHEME ":", strlen(ENVPROV_ALIAS_SCHEME) + 1) == 0) {
            free(uri);
            return bad(key, "an alias names keys, not other aliases", NULL);
        }
        if (envprov_backend_for(pc, uri, &client) == NULL) {
            ERR_clear_error();
            int r = bad(key, "no backend of this build serves", uri);
            free(uri);
            return r;
        }
        a->uris[a->n] = uri;
        a->roles[a->n] = role;
        a->n++;
        added++;
        p += strcspn(p, ",");
    }
    if (added == 0)
        return bad(key, "names no key", NULL);
    if (role == ENVPROV_ROLE_CURRENT && added != 1)
        return bad(key, "the current version is one key (older ones go in .previous)", NULL);
    return ENVCORE_R_OK;
}

int envprov_aliases_build(envprov_ctx *pc, const char *const *keys, const char *const *values,
                          size_t n)
{
    struct envprov_aliases *as = calloc(1, sizeof(*as));
    if (as == NULL)
        return bad("kek.*", "out of memory", NULL);
    pc->aliases = as;
    /* current first, then previous, then retired: the store's order */
    static const envprov_alias_role order[] = {ENVPROV_ROLE_CURRENT, ENVPROV_ROLE_PREVIOUS,
                                               ENVPROV_ROLE_RETIRED};
    for (size_t o = 0; o < 3; o++)
        for (size_t i = 0; i < n; i++) {
            envprov_alias_role role;
            size_t len = parse_key(keys[i], &role);
            if (len == 0)
                return bad(keys[i],
                           "not an alias setting (kek.NAME, kek.NAME.previous, "
                           "kek.NAME.retired)",
                           NULL);
            if (role != order[o] || values[i] == NULL)
                continue;
            struct alias *a = alias_named(as, keys[i] + strlen(ENVPROV_ALIAS_PREFIX), len);
            if (a == NULL)
                return bad(keys[i], "more than 32 aliases", NULL);
            if (role != ENVPROV_ROLE_CURRENT && (a->n == 0 || a->roles[0] != ENVPROV_ROLE_CURRENT))
                return bad(keys[i], "has no current version: set kek.NAME too", NULL);
            int r = add_uris(pc, a, keys[i], values[i], role);
            if (r != ENVCORE_R_OK)
                return r;
        }
    return ENVCORE_R_OK;
}

void envprov_aliases_free(envprov_ctx *pc)
{
    struct envprov_aliases *as = pc->aliases;
    if (as == NULL)
        return;
    for (size_t i = 0; i < as->n; i++)
        for (size_t j = 0; j < as->a[i].n; j++)
            free(as->a[i].uris[j]);
    free(as);
    pc->aliases = NULL;
}

envprov_alias_role envprov_alias_role_of(const envprov_ctx *pc, const envkey *k, const char **alias)
{
    const struct envprov_aliases *as = pc->aliases;
    envprov_alias_role role = ENVPROV_ROLE_NONE;
    if (alias != NULL)
        *alias = NULL;
    /* every entry that names the key counts, and the most restrictive
     * wins: retired over previous over current */
    for (size_t i = 0; as != NULL && k->uri != NULL && i < as->n; i++)
        for (size_t j = 0; j < as->a[i].n; j++)
            if (as->a[i].roles[j] > role && envcore_uri_names(as->a[i].uris[j], k->uri, 0)) {
                role = as->a[i].roles[j];
                if (alias != NULL)
                    *alias = as->a[i].name;
            }
    return role;
}

size_t envprov_alias_uris(const envprov_ctx *pc, const char *name, const char **uris, size_t max)
{
    const struct envprov_aliases *as = pc->aliases;
    for (size_t i = 0; as != NULL && i < as->n; i++)
        if (strcmp(as->a[i].name, name) == 0) {
            size_t n = as->a[i].n < max ? as->a[i].n : max;
            for (size_t j = 0; j < n; j++)
                uris[j] = as->a[i].uris[j];
            return n;
        }
    return 0;
}

/* ---- the "alias:" STORE ------------------------------------------------ */

static int alias_find(envprov_ctx *pc, const char *uri, int from_message, envprov_store *s)
{
    if (from_message) {
        /* a message records the key it used, never a name for it */
        ENVCORE_RAISE(ENVCORE_R_REFERENCE_NOT_ALLOWED,
                      "a message may not name an alias (\"%.100s\")", uri);
        return ENVCORE_R_REFERENCE_NOT_ALLOWED;
    }
    const char *name = uri + strlen(ENVPROV_ALIAS_SCHEME) + 1;
    const char *uris[ENVPROV_MAX_ALIAS_URIS];
    size_t n = strlen(name) <= ALIAS_NAME_MAX
                   ? envprov_alias_uris(pc, name, uris, ENVPROV_MAX_ALIAS_URIS)
                   : 0;
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_OBJECT_NOT_FOUND,
                      "no alias \"%.64s\": define kek.%.64s = URI in the envelope provider's "
                      "openssl.cnf section",
                      name, name);
        return ENVCORE_R_OBJECT_NOT_FOUND;
    }
    for (size_t i = 0; i < n; i++) {
        void *client = NULL;
        const envcore_backend *be = envprov_backend_for(pc, uris[i], &client);
        int r = be != NULL ? be->open(client, uris[i], 0, envprov_store_add, s) : ENVCORE_R_BAD_URI;
        if (r != ENVCORE_R_OK && i == 0)
            return r; /* the current version must be there */
        if (r != ENVCORE_R_OK) {
            /* an old version may be gone from its home: the rest still serve */
            envcore_debug("alias %s: %s not opened (reason %d)", name, uris[i], r);
            ERR_clear_error();
        }
    }
    return ENVCORE_R_OK;
}

static void *alias_store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    size_t sl = strlen(ENVPROV_ALIAS_SCHEME);
    if (uri == NULL || strncasecmp(uri, ENVPROV_ALIAS_SCHEME ":", sl + 1) != 0 ||
        !envprov_config_ok(pc))
        return NULL;
    const char *name = uri + sl + 1;
    size_t len = 0;
    while (name_char((unsigned char)name[len]))
        len++;
    if (len == 0 || name[len] != '\0') {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI, "an alias URI is alias:NAME (NAME of letters, digits, "
                                         "'-' and '_')");
        return NULL;
    }
    return envprov_store_new(pc, uri, alias_find);
}

const OSSL_DISPATCH envprov_alias_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))alias_store_open},
    ENVPROV_STORE_COMMON_DISPATCH,
    {0, NULL},
};
