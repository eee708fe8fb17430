/*
 * tpm_handles.c - tpm2-handles: which persistent keys a pin source is for.
 *
 * A failed authorisation of a DA-protected key counts towards the TPM's
 * lockout (TPM 2.0 Part 1 §19.8), for every key on the TPM. So the
 * configured tpm2-pin-source is offered only to the handles listed here,
 * and those are the only TPM keys a reference read from a message may name
 * (docs/TPM.md, "Auth values and handles").
 *
 *   tpm2-handles = ENTRY[, ENTRY]...
 *   ENTRY = 0x81XXXXXX                         uses tpm2-pin-source (if any)
 *         | tpm2:handle=0x81XXXXXX[;pin-source=SRC]
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tpm_int.h"

#define ENVTPM_MAX_HANDLE_ENTRIES 64
#define ENVTPM_MAX_ENTRY 1024

struct envtpm_handle_list {
    size_t n;
    struct {
        uint32_t handle;
        char *pin_source; /* the entry's own, else the default; may be NULL */
    } e[ENVTPM_MAX_HANDLE_ENTRIES];
};

static int bad(const char *entry, const char *why)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "tpm2-handles: entry \"%.80s\": %s", entry, why);
    return ENVCORE_R_BAD_CONFIG;
}

static int parse_entry(struct envtpm_handle_list *l, const char *entry, const char *dflt)
{
    char uri[ENVTPM_MAX_ENTRY + 16];
    envtpm_uri u;
    int r;

    snprintf(uri, sizeof(uri), "%s%s",
             strncmp(entry, "tpm2:", 5) == 0 ? "" : "tpm2:handle=", entry);
    /* envtpm_uri_parse raises its own BAD_URI; say which setting it was */
    ERR_set_mark();
    r = envtpm_uri_parse(uri, &u);
    if (r != ENVCORE_R_OK) {
        ERR_pop_to_mark();
        return bad(entry, "not a persistent handle (0x81000000-0x817fffff) or a "
                          "tpm2:handle=...;pin-source=... URI");
    }
    ERR_clear_last_mark();
    if (!u.has_handle || u.file != NULL || u.pcrs != NULL) {
        envtpm_uri_clear(&u);
        return bad(entry, "an entry names a persistent handle only (no file=, no pcrs=: a "
                          "key's PCR policy belongs in its own URI)");
    }
    if (u.handle == ENVTPM_SRK_HANDLE) {
        envtpm_uri_clear(&u);
        return bad(entry, "0x81000001 is the SRK, not a KEK");
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].handle == u.handle) {
            envtpm_uri_clear(&u);
            return bad(entry, "listed twice");
        }
    const char *src = u.pin_source != NULL ? u.pin_source : dflt;
    l->e[l->n].handle = u.handle;
    l->e[l->n].pin_source = src != NULL ? strdup(src) : NULL;
    envtpm_uri_clear(&u);
    if (src != NULL && l->e[l->n].pin_source == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    l->n++;
    return ENVCORE_R_OK;
}

int envtpm_handle_list_parse(const char *conf, const char *default_pin_source,
                             struct envtpm_handle_list **out)
{
    struct envtpm_handle_list *l = calloc(1, sizeof(*l));
    const char *p = conf != NULL ? conf : "";
    int r = ENVCORE_R_OK;

    *out = NULL;
    if (l == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    while (*p != '\0' && r == ENVCORE_R_OK) {
        size_t len = strcspn(p, ","), a = 0, z = len;
        char entry[ENVTPM_MAX_ENTRY + 1];

        while (a < z && isspace((unsigned char)p[a]))
            a++;
        while (z > a && isspace((unsigned char)p[z - 1]))
            z--;
        if (z - a > ENVTPM_MAX_ENTRY) {
            r = bad(p, "longer than 1024 bytes");
            break;
        }
        memcpy(entry, p + a, z - a);
        entry[z - a] = '\0';
        if (entry[0] == '\0')
            r = bad(conf, "an empty entry (two commas, or a trailing one)");
        else if (l->n == ENVTPM_MAX_HANDLE_ENTRIES)
            r = bad(entry, "more than 64 handles listed");
        else
            r = parse_entry(l, entry, default_pin_source);
        p += len;
        if (*p == ',' && *++p == '\0' && r == ENVCORE_R_OK)
            r = bad(conf, "a trailing comma");
    }
    if (r != ENVCORE_R_OK) {
        envtpm_handle_list_free(l);
        return r;
    }
    *out = l;
    return ENVCORE_R_OK;
}

void envtpm_handle_list_free(struct envtpm_handle_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].pin_source);
    free(l);
}

int envtpm_handle_listed(const struct envtpm_handle_list *l, uint32_t handle,
                         const char **pin_source)
{
    *pin_source = NULL;
    for (size_t i = 0; l != NULL && i < l->n; i++)
        if (l->e[i].handle == handle) {
            *pin_source = l->e[i].pin_source;
            return 1;
        }
    return 0;
}
