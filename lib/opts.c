/*
 * opts.c - the public option structs: struct_size checked and the caller's
 * struct copied into one of this library's size, so that a field a later
 * version adds reads as 0 for a caller built against an earlier header
 * (docs/LIBRARY.md, "ABI and versions"); and the decrypt options every
 * decrypting object takes the same way.
 */
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "workers.h"

/* The smallest struct each option type has had: the 0.2 layout, the first
 * with struct_size. A field added later goes after these and is read only
 * if the caller's struct_size covers it. */
#define END_OF(t, f) (offsetof(t, f) + sizeof(((t *)0)->f))
#define ENCRYPT_MIN END_OF(envelope_encrypt_opts, frame_size)
#define DECRYPT_MIN END_OF(envelope_decrypt_opts, flags)
#define REWRAP_MIN END_OF(envelope_rewrap_opts, dry_run)

static envelope_status opts_copy(const void *o, size_t min, size_t max, void *out, const char *what,
                                 const char *init, envelope_err *err)
{
    if (o == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "%s are NULL", what);
    size_t sz = 0;
    memcpy(&sz, o, sizeof(sz)); /* struct_size is every option struct's first member */
    if (sz < min || sz > max)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "%s: struct_size is %zu, this library takes %zu..%zu; start from %s "
                        "(it sets struct_size), and build against the header of the library "
                        "you run with",
                        what, sz, min, max, init);
    memset(out, 0, max);
    memcpy(out, o, sz);
    return ENVELOPE_OK;
}

envelope_status env_encrypt_opts_get(const envelope_encrypt_opts *o, envelope_encrypt_opts *out,
                                     envelope_err *err)
{
    return opts_copy(o, ENCRYPT_MIN, sizeof(*out), out, "encrypt options",
                     "ENVELOPE_ENCRYPT_OPTS_INIT", err);
}

envelope_status env_rewrap_opts_get(const envelope_rewrap_opts *o, envelope_rewrap_opts *out,
                                    envelope_err *err)
{
    return opts_copy(o, REWRAP_MIN, sizeof(*out), out, "rewrap options",
                     "ENVELOPE_REWRAP_OPTS_INIT", err);
}

envelope_status env_decrypt_take(env_decrypt *d, const envelope_decrypt_opts *o, envelope_err *err)
{
    envelope_decrypt_opts oc = {0};
    memset(d, 0, sizeof(*d));
    ENV_GUARD(opts_copy(o, DECRYPT_MIN, sizeof(oc), &oc, "decrypt options",
                        "ENVELOPE_DECRYPT_OPTS_INIT", err));
    if (oc.flags & ~(unsigned)ENVELOPE_DECRYPT_ANY_CONTEXT)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "decrypt options: unknown flags 0x%x",
                        oc.flags & ~(unsigned)ENVELOPE_DECRYPT_ANY_CONTEXT);
    if (oc.expected == NULL && !(oc.flags & ENVELOPE_DECRYPT_ANY_CONTEXT))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "decrypt options: no expected context; give the pairs every message "
                        "must carry, or set ENVELOPE_DECRYPT_ANY_CONTEXT to check none");
    if (oc.nkeks > 0 && oc.keks == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "decrypt options: keks is NULL");
    if (oc.nkeks > ENVELOPE_MAX_EDKS)
        return env_fail(err, ENVELOPE_ERR_KEK_COUNT, "decrypting takes at most %d KEKs (got %zu)",
                        ENVELOPE_MAX_EDKS, oc.nkeks);
    for (size_t i = 0; i < oc.nkeks; i++) {
        if (oc.keks[i] == NULL)
            return env_fail(err, ENVELOPE_ERR_ARGUMENT, "KEK %zu is NULL", i + 1);
        d->keks[i] = oc.keks[i];
    }
    d->nkeks = oc.nkeks;
    if (oc.threads > ENV_MAX_THREADS)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "decrypt options: threads is %zu, at most %d",
                        oc.threads, ENV_MAX_THREADS);
    d->threads = oc.threads;
    if (oc.expected != NULL)
        ENV_GUARD(env_context_dup(oc.expected, &d->expected, err));
    return ENVELOPE_OK;
}

void env_decrypt_cleanup(env_decrypt *d)
{
    envelope_context_free(d->expected);
    memset(d, 0, sizeof(*d));
}
