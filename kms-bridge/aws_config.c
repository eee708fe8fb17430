/*
 * aws_config.c - the checks on an aws-kms slot's settings (aws_config.h).
 */
#include "aws_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aws_region_ok(const char *region)
{
    size_t n = strlen(region);
    if (n == 0 || n > AWS_REGION_MAX || region[0] == '-' || region[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)region[i]) || isdigit((unsigned char)region[i]) ||
              region[i] == '-'))
            return 0;
    return 1;
}

static int key_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > AWS_KEY_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == ',' || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

int aws_config_keys(aws_slot_cfg *cfg, const char *value, char *why, size_t whylen)
{
    const char *p = value;
    size_t used = 0;
    cfg->n_keys = 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (cfg->n_keys == AWS_MAX_KEYS) {
            snprintf(why, whylen, "more than %d keys", AWS_MAX_KEYS);
            return 0;
        }
        if (!key_id_ok(p, m)) {
            snprintf(why, whylen,
                     "\"%.*s\" is not a KMS key id (alias/NAME, a key id or an ARN: 1..%d "
                     "printable bytes)",
                     (int)(m > 80 ? 80 : m), p, AWS_KEY_ID_MAX);
            return 0;
        }
        if (used + m + 1 > sizeof(cfg->keys)) {
            snprintf(why, whylen, "the key list is longer than %d bytes", AWS_KEYS_TEXT_MAX);
            return 0;
        }
        memcpy(cfg->keys + used, p, m);
        cfg->keys[used + m] = '\0';
        cfg->key_off[cfg->n_keys++] = used;
        used += m + 1;
        p += n;
    }
    if (cfg->n_keys == 0) {
        snprintf(why, whylen, "no key given (leave `keys` out to list the aliases)");
        return 0;
    }
    return 1;
}

static int is_loopback_host(const char *h, size_t n)
{
    return (n == 9 && memcmp(h, "localhost", 9) == 0) || (n >= 4 && memcmp(h, "127.", 4) == 0) ||
           (n == 5 && memcmp(h, "[::1]", 5) == 0);
}

int aws_config_endpoint(const char *value, char *why, size_t whylen)
{
    size_t n = strlen(value);
    const char *host;
    int https = strncmp(value, "https://", 8) == 0;
    if (n > AWS_URL_MAX) {
        snprintf(why, whylen, "longer than %d bytes", AWS_URL_MAX);
        return 0;
    }
    if (https)
        host = value + 8;
    else if (strncmp(value, "http://", 7) == 0)
        host = value + 7;
    else {
        snprintf(why, whylen, "\"%s\" is not an https:// URL", value);
        return 0;
    }
    size_t hn = strcspn(host, "/?#@");
    if (host[hn] == '/' && host[hn + 1] == '\0')
        ; /* a trailing slash is the root path */
    else if (host[hn] != '\0') {
        snprintf(why, whylen, "\"%s\": give scheme, host and port only (no path, query or user)",
                 value);
        return 0;
    }
    size_t name_n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/");
    if (name_n == 0 || name_n > hn) {
        snprintf(why, whylen, "\"%s\" has no host", value);
        return 0;
    }
    for (size_t i = 0; i < hn; i++)
        if ((unsigned char)host[i] <= ' ' || (unsigned char)host[i] >= 0x7f) {
            snprintf(why, whylen, "\"%s\": the host has a space or a control byte", value);
            return 0;
        }
    if (!https && !is_loopback_host(host, name_n)) {
        snprintf(why, whylen, "\"%s\": plain http:// only to a loopback test server", value);
        return 0;
    }
    return 1;
}

void aws_config_default_endpoint(aws_slot_cfg *cfg)
{
    if (cfg->endpoint[0] == '\0')
        snprintf(cfg->endpoint, sizeof(cfg->endpoint), "https://kms.%s.amazonaws.com", cfg->region);
    size_t n = strlen(cfg->endpoint);
    if (n > 0 && cfg->endpoint[n - 1] == '/')
        cfg->endpoint[n - 1] = '\0';
}
