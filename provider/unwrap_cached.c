/*
 * unwrap_cached.c - every unwrap of the provider goes through the unwrap
 * cache (dek_cache.h) unless the key or the call says otherwise.
 *
 * The entry's name is SHA-256 over the KEK's identity (its reference, its
 * key id, and its home's identity: a token's manufacturer, model and
 * serial), the AAD and the blob, each length-prefixed. A hit needs exactly
 * the blob and AAD that once unwrapped under exactly that key: the cache
 * never answers for another KEK, another context or another message. What
 * it does trade away (a DEK stays usable for up to cache-ttl after its KEK
 * is disabled or its home goes down) is stated in docs/SECURITY.md.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <syslog.h>
#include <unistd.h>

#include "alarm.h"
#include "audit.h"
#include "breaker.h"
#include "dek_cache.h"
#include "kek_alias.h"
#include "kem_reuse.h"
#include "wrap.h"

typedef struct {
    envprov_unwrap_job base;
    envprov_ctx *pc;
    envkey *k;
    const unsigned char *aad, *in;
    size_t aadlen, inlen;
    int owned; /* aad and in are our copies (a clone for a background refresh) */
    int ran;   /* this caller's own call reached the home (a cache miss) */
} unwrap_job;

static int job_run(envprov_unwrap_job *j, unsigned char *out, size_t *outlen, size_t outsize)
{
    unwrap_job *u = (unwrap_job *)j;
    envprov_audit_span sp;
    if (u->owned) /* the cache's background refresh: an unwrap of its own, in the trail */
        envprov_audit_begin(u->pc->audit, &sp);
    u->ran = 1;
    envprov_breaker_ticket ticket;
    int r = envprov_breaker_enter(u->pc->breaker, u->k->uri, &ticket);
    if (r == ENVCORE_R_OK) {
        r = envprov_unwrap_direct(u->pc, u->k, u->aad, u->aadlen, u->in, u->inlen, out, outlen,
                                  outsize);
        envprov_breaker_leave(u->pc->breaker, u->k->uri, &ticket, r);
    }
    if (u->owned)
        envprov_audit_event(u->pc->audit, &sp, ENVPROV_AUDIT_OP_UNWRAP, u->k, u->aad, u->aadlen, r,
                            ENVPROV_AUDIT_CACHE_REFRESH, 0, 0, 0);
    return r;
}

static void job_free(envprov_unwrap_job *j)
{
    unwrap_job *u = (unwrap_job *)j;
    if (!u->owned)
        return;
    envkey_free(u->k);
    free((void *)u->aad);
    free((void *)u->in);
    free(u);
}

static envprov_unwrap_job *job_clone(const envprov_unwrap_job *j)
{
    const unwrap_job *u = (const unwrap_job *)j;
    unwrap_job *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    *c = *u;
    c->owned = 1;
    c->aad = u->aadlen > 0 ? malloc(u->aadlen) : NULL;
    c->in = malloc(u->inlen);
    if ((u->aadlen > 0 && c->aad == NULL) || c->in == NULL) {
        free((void *)c->aad);
        free((void *)c->in);
        free(c);
        return NULL;
    }
    if (u->aadlen > 0)
        memcpy((void *)c->aad, u->aad, u->aadlen);
    memcpy((void *)c->in, u->in, u->inlen);
    c->k = envkey_up(u->k);
    return &c->base;
}

static int add(EVP_MD_CTX *m, const void *p, size_t n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return EVP_DigestUpdate(m, len, sizeof(len)) && (n == 0 || EVP_DigestUpdate(m, p, n));
}

static int entry_name(envprov_ctx *pc, const envkey *k, const unsigned char *aad, size_t aadlen,
                      const unsigned char *in, size_t inlen, unsigned char name[32])
{
    static const char domain[] = "envelope unwrap cache v1";
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int n = 0;
    const char *uri = k->uri != NULL ? k->uri : "";
    int ok = m != NULL && EVP_DigestInit_ex(m, pc->cache_md, NULL) &&
             add(m, domain, sizeof(domain) - 1) && add(m, pc->cache_salt, sizeof(pc->cache_salt)) &&
             add(m, uri, strlen(uri)) && add(m, k->key_id, k->key_id_len) &&
             add(m, k->home_id, k->home_id_len) && add(m, aad, aadlen) && add(m, in, inlen) &&
             EVP_DigestFinal_ex(m, name, &n) && n == 32;
    EVP_MD_CTX_free(m);
    return ok;
}

int envprov_check_retired(envprov_ctx *pc, const envkey *k, const envprov_call_opts *o)
{
    const char *alias = NULL;
    if (envprov_alias_role_of(pc, k, &alias) == ENVPROV_ROLE_RETIRED) {
        if (!o->allow_retired) {
            ENVCORE_RAISE(ENVCORE_R_KEK_RETIRED,
                          "KEK \"%.200s\" is retired (kek.%s.retired): it unwraps only with the "
                          "override (envelope decrypt --allow-retired, or the ctx param %s), "
                          "which is logged",
                          k->uri, alias, ENVELOPE_PKEY_PARAM_ALLOW_RETIRED);
            return ENVCORE_R_KEK_RETIRED;
        }
        /* the override is an event an operator must be able to see */
        syslog(LOG_AUTHPRIV | LOG_WARNING,
               "envelope: unwrap with retired KEK %.200s (alias %s) allowed by override, pid %ld",
               k->uri, alias, (long)getpid());
        envcore_debug("alias %s: retired KEK %s used by override", alias, k->uri);
    }
    return ENVCORE_R_OK;
}

int envprov_unwrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                   size_t outsize, const envprov_call_opts *o)
{
    unsigned char name[32];
    envprov_audit_span sp;
    envprov_audit_begin(pc->audit, &sp);
    envprov_audit_cache cache = ENVPROV_AUDIT_CACHE_OFF;
    int r = envprov_check_retired(pc, k, o);
    if (r == ENVCORE_R_OK) /* counted before it is made: a refused unwrap reaches nothing */
        r = envprov_alarm_unwrap(pc, k);
    if (r == ENVCORE_R_OK) {
        uint64_t cache_ttl_ms = o->cache_ttl_ms;
        unwrap_job j = {{job_run, job_clone, job_free, 0}, pc, k, aad, in, aadlen, inlen, 0, 0};
        if (pc->cache == NULL || cache_ttl_ms == 0 || k->no_cache || !k->has_private ||
            !entry_name(pc, k, aad, aadlen, in, inlen, name)) {
            r = job_run(&j.base, out, outlen, outsize);
        } else {
            r = envprov_dek_cache_unwrap(pc->cache, name, cache_ttl_ms, &j.base, out, outlen,
                                         outsize);
            cache = j.ran           ? ENVPROV_AUDIT_CACHE_MISS
                    : j.base.joined ? ENVPROV_AUDIT_CACHE_JOIN
                                    : ENVPROV_AUDIT_CACHE_HIT;
        }
    }
    /* no key leaves once the audit sink is known broken (audit-failure = refuse) */
    if (r == ENVCORE_R_OK && (r = envprov_audit_gate(pc->audit)) != ENVCORE_R_OK)
        OPENSSL_cleanse(out, outsize);
    envprov_audit_event(pc->audit, &sp, ENVPROV_AUDIT_OP_UNWRAP, k, aad, aadlen, r, cache, 0, 0, 0);
    return r;
}

int envprov_cache_get_params(envprov_ctx *pc, OSSL_PARAM params[])
{
    envprov_cache_stats st;
    envprov_dek_cache_stats(pc != NULL ? pc->cache : NULL, &st);
    envprov_kem_reuse_stats kr;
    envprov_kem_reuse_get_stats(pc != NULL ? pc->kem_reuse : NULL, &kr);
    const struct {
        const char *name;
        uint64_t v;
    } counters[] = {
        {ENVELOPE_PROV_PARAM_CACHE_HITS, st.hits},
        {ENVELOPE_PROV_PARAM_CACHE_MISSES, st.misses},
        {ENVELOPE_PROV_PARAM_CACHE_JOINS, st.joins},
        {ENVELOPE_PROV_PARAM_CACHE_REFRESHES, st.refreshes},
        {ENVELOPE_PROV_PARAM_CACHE_REFRESH_FAILURES, st.refresh_failures},
        {ENVELOPE_PROV_PARAM_CACHE_EVICTIONS, st.evictions},
        {ENVELOPE_PROV_PARAM_CACHE_EXPIRATIONS, st.expirations},
        {ENVELOPE_PROV_PARAM_CACHE_BACKEND_CALLS, st.backend_calls},
        {ENVELOPE_PROV_PARAM_CACHE_BACKEND_ERRORS, st.backend_errors},
        {ENVELOPE_PROV_PARAM_CACHE_ENTRIES, st.entries},
        {ENVELOPE_PROV_PARAM_KEM_REUSED, kr.reused},
        {ENVELOPE_PROV_PARAM_KEM_REUSE_WINDOWS, kr.windows},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        OSSL_PARAM *p = OSSL_PARAM_locate(params, counters[i].name);
        if (p != NULL && !OSSL_PARAM_set_uint64(p, counters[i].v))
            return 0;
    }
    return 1;
}
