/*
 * settings.c - the provider's settings as backends read them (backend.h):
 * name/value pairs copied from the openssl.cnf section, looked up by name.
 */
#include "settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"

struct envcore_settings {
    size_t n, cap;
    struct {
        char *name, *value;
    } * e;
};

envcore_settings *envcore_settings_new(void)
{
    return calloc(1, sizeof(envcore_settings));
}

int envcore_settings_put(envcore_settings *s, const char *name, const char *value)
{
    if (value == NULL || *value == '\0')
        return 1; /* unset and empty are the same: absent */
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        void *e = realloc(s->e, cap * sizeof(*s->e));
        if (e == NULL)
            return 0;
        s->e = e;
        s->cap = cap;
    }
    if ((s->e[s->n].name = strdup(name)) == NULL || (s->e[s->n].value = strdup(value)) == NULL) {
        free(s->e[s->n].name);
        return 0;
    }
    s->n++;
    return 1;
}

void envcore_settings_free(envcore_settings *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].name);
        free(s->e[i].value);
    }
    free(s->e);
    free(s);
}

const char *envcore_setting(const envcore_settings *s, const char *name)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0)
            return s->e[i].value;
    return NULL;
}

int envcore_setting_bool(const envcore_settings *s, const char *name, int dflt, int *out)
{
    const char *v = envcore_setting(s, name);
    if (v == NULL) {
        *out = dflt;
        return ENVCORE_R_OK;
    }
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
        !strcasecmp(v, "on")) {
        *out = 1;
        return ENVCORE_R_OK;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
        !strcasecmp(v, "off")) {
        *out = 0;
        return ENVCORE_R_OK;
    }
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.64s: expected yes or no", name, v);
    return ENVCORE_R_BAD_CONFIG;
}
