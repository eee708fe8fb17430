/*
 * envkey.c - the provider's key object: reference counted, immutable once
 * built, so one key may be shared by many EVP_PKEYs and threads.
 */
#include "envkey.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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
    if (k != NULL)
        __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
    return k;
}

void envkey_free(envkey *k)
{
    if (k == NULL || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (k->ops != NULL && k->ops->free != NULL)
        k->ops->free(k->be);
    EVP_PKEY_free(k->pub);
    free(k->uri);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}
