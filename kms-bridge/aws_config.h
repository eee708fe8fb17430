/*
 * aws_config.h - the settings of a slot with `protocol = aws-kms` in the
 * module's config file (kms_config.h reads the file; docs/KMS-BRIDGE.md
 * "AWS KMS" is the reference):
 *
 *   [aws]
 *   protocol = aws-kms
 *   label = aws                        # token label, URI token=
 *   region = eu-west-1                 # required
 *   endpoint = https://kms-fips.eu-west-1.amazonaws.com   # optional
 *   profile = payments                 # optional: the shared files' profile
 *   keys = alias/payments, arn:aws:kms:eu-west-1:111122223333:key/...   # optional
 *   timeout-ms = 5000                  # per call, retries included
 *   ca-file = /etc/envelope/aws-ca.pem # optional: trust only this CA bundle
 *
 * Proxies come from the environment (HTTPS_PROXY, NO_PROXY), read by
 * libcurl. Nothing here is secret: credentials come from the chain
 * (aws_creds.h), never from this file.
 */
#ifndef AWS_CONFIG_H
#define AWS_CONFIG_H

#include <stddef.h>

#define AWS_MAX_KEYS 64
#define AWS_KEY_ID_MAX 2048 /* KMS KeyId: 1..2048 bytes (ARN, alias ARN, id, alias/) */
#define AWS_REGION_MAX 32
#define AWS_URL_MAX 512
#define AWS_PROFILE_MAX 128
#define AWS_KEYS_TEXT_MAX 8192 /* all of `keys` */

typedef struct {
    char region[AWS_REGION_MAX + 1];
    char endpoint[AWS_URL_MAX + 1]; /* https://host[:port]; default from region */
    char profile[AWS_PROFILE_MAX + 1];
    /* `keys`, NUL-separated: key i at keys + key_off[i]; none: ListAliases.
     * Kept inline so the slot's settings copy by value. */
    char keys[AWS_KEYS_TEXT_MAX];
    size_t key_off[AWS_MAX_KEYS];
    size_t n_keys;
    char ca_file[4096];
} aws_slot_cfg;

/* 1 if region is a plausible AWS region name (lowercase letters, digits,
 * '-'; 1..32 bytes), so it can go into a host name and a SigV4 scope. */
int aws_region_ok(const char *region);
/* Parses the value of `keys` into cfg (1 on success, 0 with a reason). */
int aws_config_keys(aws_slot_cfg *cfg, const char *value, char *why, size_t whylen);
/* Checks `endpoint`: https:// (http:// only to a loopback address, for test
 * servers), a host, an optional port, no path, query, user or fragment. */
int aws_config_endpoint(const char *value, char *why, size_t whylen);
/* The endpoint the slot talks to (configured, or the region's). */
void aws_config_default_endpoint(aws_slot_cfg *cfg);
static inline const char *aws_config_key(const aws_slot_cfg *cfg, size_t i)
{
    return cfg->keys + cfg->key_off[i];
}

#endif
