/*
 * breaker.h - a circuit breaker per key home (docs/PROVIDER.md, "Key homes
 * that are down"): once a home has failed as unreachable slowly (the call
 * took ENVPROV_BREAKER_SLOW_MS or more: a timeout, a hung server) or three
 * times in a row, calls to it fail at once for breaker-window instead of
 * each waiting for its timeout; then one caller is let through to try it
 * (the others still fail fast) and its result closes the breaker or opens
 * it for another window. A single fast failure (a session lost, a
 * connection refused) opens nothing: trying again costs little. A home is named
 * by its URI's scheme and token/serial attributes ("pkcs11:token=kms",
 * "tpm2:"), as the reference of a key or the URI a caller opens gives them.
 */
#ifndef ENVPROV_BREAKER_H
#define ENVPROV_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

#define ENVPROV_CONF_BREAKER_WINDOW "breaker-window"
#define ENVPROV_BREAKER_WINDOW_DEFAULT_MS 5000u
#define ENVPROV_BREAKER_SLOW_MS 500u
#define ENVPROV_BREAKER_FAST_FAILURES 3

typedef struct {
    int probe;         /* the one call a half-open breaker lets through */
    uint64_t start_ms; /* when the call began */
} envprov_breaker_ticket;

typedef struct envprov_breaker envprov_breaker;

envprov_breaker *envprov_breaker_new(uint64_t window_ms); /* 0: NULL, no breaker */
void envprov_breaker_free(envprov_breaker *b);

/* Before a call to the home of uri: ENVCORE_R_OK (go ahead; *ticket says
 * whether this call is the one probe of a half-open breaker), or
 * ENVCORE_R_BACKEND_UNAVAILABLE raised (the home failed within the window). */
int envprov_breaker_enter(envprov_breaker *b, const char *uri, envprov_breaker_ticket *t);
/* After it, with its reason: unreachable reasons open the breaker, anything
 * else (success, a refusal, a bad message) closes it. */
void envprov_breaker_leave(envprov_breaker *b, const char *uri, const envprov_breaker_ticket *t,
                           int reason);

#endif
