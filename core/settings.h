/*
 * settings.h - the provider's openssl.cnf settings, for the provider and
 * its backends (backend.h declares the lookup backends use).
 */
#ifndef ENVELOPE_CORE_SETTINGS_H
#define ENVELOPE_CORE_SETTINGS_H

#include "backend.h"

envcore_settings *envcore_settings_new(void);
/* Copies both; an empty value is "unset". 0 on allocation failure. */
int envcore_settings_put(envcore_settings *s, const char *name, const char *value);
void envcore_settings_free(envcore_settings *s);
/* yes/true/on/1 or no/false/off/0; unset: dflt. ENVCORE_R_BAD_CONFIG
 * (raised, naming the setting and the value) for anything else. */
int envcore_setting_bool(const envcore_settings *s, const char *name, int dflt, int *out);

#endif
