/*
 * unwrap.c - finding the DEK of a message. KEK references in a message are
 * untrusted (docs/SECURITY.md): with caller-named KEKs only those are tried
 * (an EDK is a candidate for a KEK whose key id it records); otherwise only
 * references env_uri_check_untrusted accepts are opened, and the provider
 * is told they come from a message, so it opens only keys its
 * configuration lets a message name (pkcs11-tokens, tpm2-handles).
 *
 * An unwrapped DEK must also pass the key commitment: a DEK that unwraps
 * but does not commit to the header means two recipients would read two
 * different plaintexts, so it fails the message instead of trying the next
 * EDK (docs/FORMAT.md §5.3).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "envelope/provider.h"
#include "internal.h"

static int same_id(const envelope_kek *k, const env_edk *e)
{
    return e->key_id_len == k->key_id_len &&
           (e->key_id_len == 0 || memcmp(e->key_id, k->key_id, e->key_id_len) == 0);
}

/*
 * When every EDK fails, the answer is the failure the caller can act on,
 * but only failures of KEKs the caller named or the configuration holds
 * count: a message cannot turn "authentication failed" into "backend
 * unavailable, retry" by naming a token that does not exist. References a
 * message may not name are skipped (and only reported when nothing else
 * was there to try).
 */
static int rank(envelope_status s)
{
    switch (s) {
    case ENVELOPE_ERR_BACKEND: return 6;
    case ENVELOPE_ERR_CONFIG: return 5; /* the operator must fix something: say what */
    case ENVELOPE_ERR_POLICY: return 4;
    case ENVELOPE_ERR_AUTH: return 3;
    default: return 1;
    }
}

/*
 * A failure of a key a message named (the provider opened it: its token or
 * handle is configured) counts as "refused by policy" only when the key's
 * home decided it: its PIN, its PCR policy, the KMS's access policy. What
 * a message's bytes bring about by themselves (an unsafe object on a
 * listed token, which no encryptor would have used; a wrap form the
 * configuration refuses) is a message that does not authenticate.
 */
static envelope_status weigh_message_failure(envelope_status s)
{
    if (s != ENVELOPE_ERR_POLICY)
        return s;
    switch (env_last_provider_reason()) {
    case ENVELOPE_PROV_R_PIN_MISSING:
    case ENVELOPE_PROV_R_PIN_INCORRECT:
    case ENVELOPE_PROV_R_PIN_LOCKED:
    case ENVELOPE_PROV_R_PCR_POLICY_NOT_SATISFIED:
    case ENVELOPE_PROV_R_KEK_RETIRED:       /* the operator's rotation policy, not the message */
    case ENVELOPE_PROV_R_AUDIT_UNAVAILABLE: /* the operator's audit policy */
    case ENVELOPE_PROV_R_UNWRAP_ALARM:      /* the operator's rate limit */
    case ENVELOPE_PROV_R_ACCESS_DENIED: return s;
    default: return ENVELOPE_ERR_AUTH;
    }
}

/* 1 if an EDK of h tried before, with the same reference bytes, failed. */
static int seen_failing_ref(const env_header *h, size_t i, const unsigned char *failing)
{
    for (size_t j = 0; j < h->edk_count; j++)
        if (j != i && failing[j] && h->edks[j].uri_len == h->edks[i].uri_len &&
            memcmp(h->edks[j].uri, h->edks[i].uri, h->edks[i].uri_len) == 0)
            return 1;
    return 0;
}

static envelope_status try_edk(env_crypto *c, const envelope_kek *k, const env_header *h,
                               const env_edk *e, envelope_err *err)
{
    uint8_t aad[32];
    ENV_GUARD(env_wrap_aad(c->lib, h->suite, h->ctx_enc, h->ctx_enc_len, e->kind, e->uri,
                           e->uri_len, e->key_id, e->key_id_len, aad, err));
    return env_kek_unwrap(k, e->kind, aad, e->wrapped, e->wrapped_len, c->s->dek, err);
}

envelope_status env_unwrap_header(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                                  const env_header *h, envelope_err *err)
{
    ENV_GUARD(env_unwrap_dek(c, keks, nkeks, h, err));
    ENV_GUARD(env_crypto_derive(c, h->message_id, err));
    return env_header_verify(c, h, err);
}

envelope_status env_unwrap_dek(env_crypto *c, envelope_kek *const *keks, size_t nkeks,
                               const env_header *h, envelope_err *err)
{
    unsigned char failing[ENVELOPE_MAX_EDKS] = {0};
    envelope_err last = {ENVELOPE_ERR_NO_KEK, ""}; /* worst failure of a usable KEK */
    envelope_err refused = {ENVELOPE_OK, ""};      /* the last reference not opened */
    envelope_err e1;
    size_t tried = 0, order[ENVELOPE_MAX_EDKS];
    env_unwrap_order(c->lib, h, order); /* kek-preference first */
    for (size_t oi = 0; oi < h->edk_count; oi++) {
        size_t i = order[oi];
        const env_edk *e = &h->edks[i];
        envelope_status s;
        if (nkeks > 0) {
            for (size_t j = 0; j < nkeks; j++) {
                if (!same_id(keks[j], e) || keks[j]->kind != e->kind)
                    continue;
                tried++;
                if ((s = try_edk(c, keks[j], h, e, &e1)) == ENVELOPE_OK)
                    goto unwrapped;
                if (rank(s) >= rank(last.code))
                    last = e1;
            }
            continue;
        }
        char uri[ENVELOPE_MAX_KEK_URI + 1];
        envelope_kek *k = NULL;
        /* A reference that failed once is not tried again in this message:
         * a message repeating one EDK sixteen times must not make sixteen
         * logins or TPM authorisations (each may count towards a lockout). */
        if (seen_failing_ref(h, i, failing))
            continue;
        if ((s = env_uri_check_untrusted(e->uri, e->uri_len, uri, sizeof(uri), &e1)) !=
                ENVELOPE_OK ||
            (s = env_kek_open_from_message(c->lib, uri, &k, &e1)) != ENVELOPE_OK) {
            failing[i] = 1;
            if (s == ENVELOPE_ERR_KEK_REF_REFUSED) {
                refused = e1; /* skipped: nothing was offered to any device */
            } else if (s != ENVELOPE_ERR_KEK_NOT_FOUND &&
                       rank(weigh_message_failure(s)) >= rank(last.code)) {
                e1.code = weigh_message_failure(s); /* a configured token or TPM failed */
                last = e1;
            }
            continue;
        }
        if (!same_id(k, e) || k->kind != e->kind) {
            envelope_kek_free(k);
            continue;
        }
        tried++;
        s = try_edk(c, k, h, e, &e1);
        envelope_kek_free(k);
        if (s == ENVELOPE_OK)
            goto unwrapped;
        if (s == ENVELOPE_ERR_POLICY || s == ENVELOPE_ERR_BACKEND)
            failing[i] = 1; /* the key's home said no: the same answer next time */
        if ((s = weigh_message_failure(s)) != e1.code)
            e1.code = s;
        if (rank(s) >= rank(last.code))
            last = e1;
    }
    if (last.code == ENVELOPE_ERR_NO_KEK && tried == 0 && refused.code != ENVELOPE_OK) {
        /* nothing to try but references that may not be opened: say so */
        if (err != NULL)
            *err = refused;
        return refused.code;
    }
    if (tried == 0 && last.code == ENVELOPE_ERR_NO_KEK)
        return env_fail(err, ENVELOPE_ERR_NO_KEK,
                        "none of the message's %zu EDKs is for the KEKs at hand; see which KEKs "
                        "it needs with: envelope inspect",
                        h->edk_count);
    if (last.code == ENVELOPE_ERR_AUTH || last.code == ENVELOPE_ERR_NO_KEK)
        /* One uniform answer: do not say which EDK or check failed. */
        return env_fail(err, ENVELOPE_ERR_AUTH, ENV_AUTH_FAILED);
    if (err != NULL)
        *err = last;
    return last.code;

unwrapped:
    return ENVELOPE_OK;
}
