/*
 * kms_config.c - NCONF-based config reader, see kms_config.h.
 */
#include "kms_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/conf.h>
#include <openssl/err.h>

#include "errors.h"

/* NCONF reports lines only for syntax errors; for a bad value we find the
 * line ourselves: the last "key =" inside "[section]" (NCONF keeps the last
 * assignment too). 0 when not found. */
static long line_of(const char *path, const char *section, const char *key)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    char buf[4096], cur[128] = "default";
    long n = 0, found = 0;
    size_t klen = strlen(key);
    while (fgets(buf, sizeof(buf), f) != NULL) {
        n++;
        char *p = buf;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '[') {
            char *e = strchr(p, ']');
            if (e != NULL) {
                char *s = p + 1;
                while (isspace((unsigned char)*s))
                    s++;
                while (e > s && isspace((unsigned char)e[-1]))
                    e--;
                snprintf(cur, sizeof(cur), "%.*s", (int)(e - s), s);
            }
            continue;
        }
        if (strcmp(cur, section) == 0 && strncmp(p, key, klen) == 0) {
            char *q = p + klen;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=')
                found = n;
        }
    }
    fclose(f);
    return found;
}

static int fail(char *err, size_t errlen, const char *path, const char *section, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(char *err, size_t errlen, const char *path, const char *section, const char *key,
                const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    long line = key ? line_of(path, section, key) : 0;
    if (line > 0)
        snprintf(err, errlen, "%s line %ld: [%s] %s: %s", path, line, section, key, what);
    else if (key)
        snprintf(err, errlen, "%s: [%s] %s: %s", path, section, key, what);
    else
        snprintf(err, errlen, "%s: [%s]: %s", path, section, what);
    return 0;
}

int kms_config_parse_endpoint(const char *s, size_t n, kms_endpoint_cfg *ep)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    const char *host = s, *colon;
    size_t hlen;
    if (n && *s == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb == NULL || (size_t)(rb - s) + 1 >= n || rb[1] != ':')
            return 0;
        host = s + 1;
        hlen = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        if (colon == NULL)
            return 0;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen) != NULL) /* bare IPv6 needs brackets */
            return 0;
    }
    size_t plen = n - (size_t)(colon + 1 - s);
    if (hlen == 0 || hlen >= sizeof(ep->host) || plen == 0 || plen > 5)
        return 0;
    unsigned long port = 0;
    for (size_t i = 0; i < plen; i++) {
        if (!isdigit((unsigned char)colon[1 + i]))
            return 0;
        port = port * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (port == 0 || port > 65535)
        return 0;
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)host[i]) || host[i] == ',')
            return 0;
    memcpy(ep->host, host, hlen);
    ep->host[hlen] = 0;
    snprintf(ep->port, sizeof(ep->port), "%lu", port);
    return 1;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != 0 || x < lo || x > hi)
        return 0;
    *out = (int)x;
    return 1;
}

static int copy_value(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap)
        return 0;
    memcpy(dst, v, n + 1);
    return 1;
}

/* The client key authenticates us to the KMS: like ssh, refuse a key file
 * that group or others may read or write. */
static int check_key_file(const char *path, const char *file, const char *section, char *err,
                          size_t errlen)
{
    struct stat st;
    if (stat(file, &st) != 0)
        return fail(err, errlen, path, section, "key-file", "cannot open %s: %s", file,
                    ENVCORE_ERRNO_TEXT(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, path, section, "key-file", "%s is not a regular file", file);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return fail(err, errlen, path, section, "key-file",
                    "%s is accessible by group/others (mode %04o); run: chmod 600 %s", file,
                    (unsigned)(st.st_mode & 07777), file);
    return 1;
}

static int check_readable(const char *path, const char *section, const char *key, const char *file,
                          char *err, size_t errlen)
{
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return fail(err, errlen, path, section, key, "cannot open %s: %s", file,
                    ENVCORE_ERRNO_TEXT(errno));
    fclose(f);
    return 1;
}

/* A slot with `protocol = aws-kms` (aws_config.h): no TLS client
 * identity, no endpoints list; credentials come from the chain. */
static int load_aws_slot(STACK_OF(CONF_VALUE) *kv, const char *path, const char *section,
                         kms_slot_cfg *s, char *err, size_t errlen)
{
    aws_slot_cfg *a = &s->aws;
    char why[512];
    for (int i = 0; i < sk_CONF_VALUE_num(kv); i++) {
        CONF_VALUE *c = sk_CONF_VALUE_value(kv, i);
        const char *k = c->name, *v = c->value;
        if (strcmp(k, "protocol") == 0) {
            continue;
        } else if (strcmp(k, "label") == 0) {
            if (!copy_value(s->label, sizeof(s->label), v))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_LABEL_MAX);
        } else if (strcmp(k, "region") == 0) {
            if (!aws_region_ok(v))
                return fail(err, errlen, path, section, k,
                            "\"%s\" is not an AWS region name (e.g. eu-west-1)", v);
            memcpy(a->region, v, strlen(v) + 1);
        } else if (strcmp(k, "endpoint") == 0) {
            if (!aws_config_endpoint(v, why, sizeof(why)))
                return fail(err, errlen, path, section, k, "%s", why);
            memcpy(a->endpoint, v, strlen(v) + 1);
        } else if (strcmp(k, "profile") == 0) {
            if (!copy_value(a->profile, sizeof(a->profile), v))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", AWS_PROFILE_MAX);
        } else if (strcmp(k, "keys") == 0) {
            if (!aws_config_keys(a, v, why, sizeof(why)))
                return fail(err, errlen, path, section, k, "%s", why);
        } else if (strcmp(k, "ca-file") == 0) {
            if (!copy_value(a->ca_file, sizeof(a->ca_file), v))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_PATH_MAX - 1);
            if (!check_readable(path, section, k, a->ca_file, err, errlen))
                return 0;
        } else if (strcmp(k, "timeout-ms") == 0) {
            if (!parse_int(v, 1, 600000, &s->timeout_ms))
                return fail(err, errlen, path, section, k, "\"%s\" is not a number in 1..600000",
                            v);
        } else {
            return fail(err, errlen, path, section, k,
                        "unknown key for protocol aws-kms (known: protocol label region endpoint "
                        "profile keys timeout-ms ca-file)");
        }
    }
    if (s->label[0] == 0)
        return fail(err, errlen, path, section, NULL, "missing key \"label\"");
    if (a->region[0] == 0)
        return fail(err, errlen, path, section, NULL, "missing key \"region\" (e.g. eu-west-1)");
    aws_config_default_endpoint(a);
    return 1;
}

static int load_slot(CONF *conf, const char *path, const char *section, kms_slot_cfg *s, char *err,
                     size_t errlen)
{
    STACK_OF(CONF_VALUE) *kv = NCONF_get_section(conf, section);
    if (kv == NULL)
        return fail(err, errlen, path, "default", "slots", "no section [%s]", section);
    memset(s, 0, sizeof(*s));
    snprintf(s->section, sizeof(s->section), "%s", section);
    s->timeout_ms = 5000;
    s->pool_size = 4;
    s->retries = 2;
    const char *proto = NCONF_get_string(conf, section, "protocol");
    ERR_clear_error(); /* an absent key leaves an error on the queue */
    if (proto != NULL && strcmp(proto, "aws-kms") == 0) {
        s->protocol = KMS_PROTO_AWS_KMS;
        return load_aws_slot(kv, path, section, s, err, errlen);
    }
    if (proto != NULL && strcmp(proto, "kmip") != 0)
        return fail(err, errlen, path, section, "protocol",
                    "\"%s\" is not a protocol (kmip or aws-kms)", proto);
    int have_ep = 0, have_ca = 0, have_cert = 0, have_key = 0;
    for (int i = 0; i < sk_CONF_VALUE_num(kv); i++) {
        CONF_VALUE *c = sk_CONF_VALUE_value(kv, i);
        const char *k = c->name, *v = c->value;
        if (strcmp(k, "label") == 0) {
            if (!copy_value(s->label, sizeof(s->label), v))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_LABEL_MAX);
        } else if (strcmp(k, "endpoints") == 0) {
            const char *p = v;
            s->n_ep = 0;
            while (*p) {
                const char *comma = strchr(p, ',');
                size_t n = comma ? (size_t)(comma - p) : strlen(p);
                if (s->n_ep == KMS_MAX_ENDPOINTS)
                    return fail(err, errlen, path, section, k, "more than %d endpoints",
                                KMS_MAX_ENDPOINTS);
                if (!kms_config_parse_endpoint(p, n, &s->ep[s->n_ep]))
                    return fail(err, errlen, path, section, k,
                                "\"%.*s\" is not host:port (IPv6: [addr]:port)", (int)n, p);
                s->n_ep++;
                p += n + (comma != NULL);
            }
            if (s->n_ep == 0)
                return fail(err, errlen, path, section, k, "no endpoint given");
            have_ep = 1;
            /* An empty or over-long path is a mistake on this line, not a
         * missing key: say so here rather than "all are required". */
        } else if (strcmp(k, "ca-file") == 0) {
            if (!(have_ca = copy_value(s->ca_file, sizeof(s->ca_file), v)))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_PATH_MAX - 1);
        } else if (strcmp(k, "cert-file") == 0) {
            if (!(have_cert = copy_value(s->cert_file, sizeof(s->cert_file), v)))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_PATH_MAX - 1);
        } else if (strcmp(k, "key-file") == 0) {
            if (!(have_key = copy_value(s->key_file, sizeof(s->key_file), v)))
                return fail(err, errlen, path, section, k, "must be 1..%d bytes", KMS_PATH_MAX - 1);
        } else if (strcmp(k, "server-name") == 0) {
            if (!copy_value(s->server_name, sizeof(s->server_name), v))
                return fail(err, errlen, path, section, k, "must be 1..255 bytes");
        } else if (strcmp(k, "timeout-ms") == 0) {
            if (!parse_int(v, 1, 600000, &s->timeout_ms))
                return fail(err, errlen, path, section, k, "\"%s\" is not a number in 1..600000",
                            v);
        } else if (strcmp(k, "pool-size") == 0) {
            if (!parse_int(v, 1, 64, &s->pool_size))
                return fail(err, errlen, path, section, k, "\"%s\" is not a number in 1..64", v);
        } else if (strcmp(k, "protocol") == 0) {
            continue; /* kmip, checked above */
        } else if (strcmp(k, "retries") == 0) {
            if (!parse_int(v, 0, 10, &s->retries))
                return fail(err, errlen, path, section, k, "\"%s\" is not a number in 0..10", v);
        } else {
            return fail(err, errlen, path, section, k,
                        "unknown key (known: protocol label endpoints ca-file cert-file "
                        "key-file server-name timeout-ms pool-size retries)");
        }
    }
    if (s->label[0] == 0)
        return fail(err, errlen, path, section, NULL, "missing key \"label\"");
    if (!have_ep)
        return fail(err, errlen, path, section, NULL, "missing key \"endpoints\"");
    if (!have_ca || !have_cert || !have_key)
        return fail(err, errlen, path, section, NULL,
                    "ca-file, cert-file and key-file are all required (mutual TLS)");
    if (!check_readable(path, section, "ca-file", s->ca_file, err, errlen) ||
        !check_readable(path, section, "cert-file", s->cert_file, err, errlen) ||
        !check_key_file(path, s->key_file, section, err, errlen))
        return 0;
    return 1;
}

int kms_config_load(const char *path, kms_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (path == NULL || *path == 0) {
        snprintf(err, errlen,
                 "no configuration: set ENVELOPE_KMS_CONF to the module's config file");
        return 0;
    }
    CONF *conf = NCONF_new(NULL);
    long eline = 0;
    int ok = 0;
    ERR_set_mark();
    if (conf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (NCONF_load(conf, path, &eline) <= 0) {
        if (eline > 0)
            snprintf(err, errlen, "%s line %ld: syntax error", path, eline);
        else
            snprintf(err, errlen, "%s: cannot read the file", path);
        goto done;
    }
    const char *slots = NCONF_get_string(conf, NULL, "slots");
    if (slots == NULL) {
        fail(err, errlen, path, "default", NULL, "missing key \"slots\" (e.g. slots = kms)");
        goto done;
    }
    const char *p = slots;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == 0)
            break;
        size_t n = strcspn(p, " \t,");
        char name[64];
        if (n >= sizeof(name)) {
            fail(err, errlen, path, "default", "slots", "section name too long");
            goto done;
        }
        if (cfg->n_slots == KMS_MAX_SLOTS) {
            fail(err, errlen, path, "default", "slots", "more than %d slots", KMS_MAX_SLOTS);
            goto done;
        }
        memcpy(name, p, n);
        name[n] = 0;
        if (!load_slot(conf, path, name, &cfg->slot[cfg->n_slots], err, errlen))
            goto done;
        for (size_t i = 0; i < cfg->n_slots; i++)
            if (strcmp(cfg->slot[i].label, cfg->slot[cfg->n_slots].label) == 0) {
                fail(err, errlen, path, name, "label",
                     "label \"%s\" is already used by [%s]: token labels pick the slot",
                     cfg->slot[i].label, cfg->slot[i].section);
                goto done;
            }
        cfg->n_slots++;
        p += n;
    }
    if (cfg->n_slots == 0) {
        fail(err, errlen, path, "default", "slots", "no slot listed");
        goto done;
    }
    ok = 1;
done:
    NCONF_free(conf);
    ERR_pop_to_mark();
    return ok;
}
