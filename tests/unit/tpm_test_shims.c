/*
 * tpm_test_shims.c - TEST SHIM, not a fake TPM: the few provider functions
 * the TPM backend calls (envprov_raise, envprov_debug, envkey_new/up/free),
 * so that envelope_tpm can be tested against a real swtpm without building
 * the provider. Linked only into test programs. envprov_raise records the
 * last reason (tests assert on it) and puts it on OpenSSL's error queue
 * like the provider does.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "backend.h"
#include "errors.h"
#include "tpm_test_shims.h"

static _Thread_local int last_reason;
static _Thread_local char last_message[512];

int tpm_test_last_reason(void)
{
    return last_reason;
}

const char *tpm_test_last_message(void)
{
    return last_message;
}

void tpm_test_reset_reason(void)
{
    last_reason = 0;
    last_message[0] = '\0';
    ERR_clear_error();
}

void envprov_raise(int reason, const char *file, int line, const char *func, const char *fmt,
                   ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    va_end(ap);
    last_reason = reason;
    ERR_new();
    ERR_set_debug(file, line, func);
    ERR_set_error(ERR_LIB_USER, reason, "%s", last_message);
    if (getenv("ENVELOPE_DEBUG") != NULL)
        fprintf(stderr, "raise %d: %s\n", reason, last_message);
}

int envprov_debug_enabled(void)
{
    return getenv("ENVELOPE_DEBUG") != NULL;
}

void envprov_debug(const char *fmt, ...)
{
    va_list ap;

    if (!envprov_debug_enabled())
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

envkey *envkey_new(envkey_kind kind, const envkey_backend_ops *ops, void *be)
{
    envkey *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->refs = 1;
    k->kind = kind;
    k->ops = ops;
    k->be = be;
    return k;
}

envkey *envkey_up(envkey *k)
{
    atomic_fetch_add((_Atomic int *)&k->refs, 1);
    return k;
}

void envkey_free(envkey *k)
{
    if (k == NULL || atomic_fetch_sub((_Atomic int *)&k->refs, 1) != 1)
        return;
    if (k->ops != NULL && k->ops->free != NULL)
        k->ops->free(k->be);
    free(k->uri);
    EVP_PKEY_free(k->pub);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}
