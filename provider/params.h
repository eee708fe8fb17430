/* params.h - reading the ctx params every operation shares. */
#ifndef ENVPROV_PARAMS_H
#define ENVPROV_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/params.h>

#include "wrap.h"

/* If params carry ENVELOPE_PKEY_PARAM_AAD, copy it into aad (capacity
 * ENVELOPE_MAX_AAD) and set *len and *set (set may be NULL). On a bad or
 * oversized value nothing is changed, an error is raised and 0 returned. */
int envprov_param_aad(const OSSL_PARAM params[], unsigned char *aad, size_t *len, int *set);

/* If params carry ENVELOPE_PKEY_PARAM_CACHE_TTL (milliseconds, an
 * unsigned integer) or ENVELOPE_PKEY_PARAM_ALLOW_RETIRED (int), store them
 * in *o; 0 on a bad value (raised). */
int envprov_param_call_opts(const OSSL_PARAM params[], envprov_call_opts *o);

/* 1 if p is a UTF-8 string param equal to want (bounded by data_size). */
int envprov_param_is(const OSSL_PARAM *p, const char *want);

#endif
