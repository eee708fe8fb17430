/*
 * uri_match.h - RFC 7512-style URI attributes ("scheme:a=1;b=%41?q"),
 * read and compared percent-decoded: which key a configured URI names
 * (kek aliases, retirement), which home a reference is on (the breaker,
 * kek-preference). Pure functions; in libenvelope and in the provider.
 */
#ifndef ENVELOPE_CORE_URI_MATCH_H
#define ENVELOPE_CORE_URI_MATCH_H

#include <stddef.h>

/* The value of path attribute `name` of uri (its "token" in
 * pkcs11:token=x;...), percent-decoded into out; 1 if present and it fits. */
int envcore_uri_attribute(const char *uri, const char *name, char *out, size_t outsize);

/* 1 if uri has entry's scheme and, for every path attribute entry names
 * that uri also carries, the same decoded value, and at least one was
 * compared. Attributes uri lacks (a canonical reference has no serial=) are
 * not compared: an entry names more, never fewer, URIs than it says. An
 * entry with nothing to compare ("tpm2:") names every URI of its scheme
 * only when scheme_only_ok. An encoded NUL never matches. */
int envcore_uri_names(const char *entry, const char *uri, int scheme_only_ok);

#endif
