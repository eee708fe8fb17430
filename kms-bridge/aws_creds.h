/*
 * aws_creds.h - AWS credentials and the chain that finds them, in the
 * order of the AWS SDKs (docs/KMS-BRIDGE.md "Credentials"):
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) then
 *      AWS_CONFIG_FILE (~/.aws/config), profile = the slot's `profile`, else
 *      AWS_PROFILE, else "default"
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2)
 *      or _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   5. EC2 instance metadata, IMDSv2 only (token PUT, then GET), unless
 *      AWS_EC2_METADATA_DISABLED=true
 *
 * The first source that is configured answers: if it is configured but
 * fails (a file without the profile's keys, STS refusing), the chain stops
 * there with that source's error instead of silently using the next one.
 * Endpoints for tests and private networks: AWS_ENDPOINT_URL_STS,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT. Variables are read with
 * secure_getenv (none in a setuid program).
 *
 * Secrets (the secret key, the session token, the web identity token) live
 * in envelope_secmem memory and are wiped when freed; errors never quote
 * them.
 */
#ifndef AWS_CREDS_H
#define AWS_CREDS_H

#include <stddef.h>
#include <time.h>

#define AWS_AKID_MAX 128
#define AWS_TOKEN_MAX 8192
#define AWS_CREDS_FILE_MAX (1u << 20)

typedef enum {
    AWS_SRC_NONE = 0,
    AWS_SRC_ENV,
    AWS_SRC_FILES,
    AWS_SRC_WEB_IDENTITY,
    AWS_SRC_CONTAINER,
    AWS_SRC_IMDS,
} aws_cred_source;

typedef struct aws_creds {
    int refs; /* under the holder's lock (aws_refresh.c) */
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL: long-term keys */
    time_t expires;      /* 0: do not expire */
    time_t fetched;
    aws_cred_source source;
} aws_creds;

typedef struct {
    const char *profile; /* NULL or "": AWS_PROFILE, else "default" */
    const char *region;  /* for STS */
    const char *ca_file; /* for STS over https */
    long timeout_ms;
} aws_chain_opts;

/* Copies the strings into secret memory; token may be NULL. NULL on bad
 * lengths or no memory. */
aws_creds *aws_creds_new(const char *akid, const char *secret, const char *token, time_t expires,
                         aws_cred_source source);
void aws_creds_free(aws_creds *c);
const char *aws_cred_source_name(aws_cred_source s);

/* Each source: 1 found (*out set), 0 not configured, -1 configured but
 * failed (reason in err). */
int aws_creds_from_env(aws_creds **out, char *err, size_t errlen);
int aws_creds_from_files(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen);
int aws_creds_from_web_identity(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen);
int aws_creds_from_container(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen);
int aws_creds_from_imds(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen);

/* The whole chain: the first configured source's answer, or NULL with a
 * reason naming every source tried. */
aws_creds *aws_chain_resolve(const aws_chain_opts *o, char *err, size_t errlen);

/* Parses the credential JSON of the container and IMDS endpoints
 * ({"AccessKeyId", "SecretAccessKey", "Token", "Expiration": ISO 8601}). */
aws_creds *aws_creds_from_json(const char *json, size_t n, aws_cred_source src, char *err,
                               size_t errlen);
/* "2015-08-30T12:36:00Z" (fractions and a +00:00 offset accepted) -> time_t. */
int aws_parse_iso8601(const char *s, time_t *out);

#endif
