/*
 * aws_creds.c - the credential object, the environment and the shared
 * files, and the chain (aws_creds.h). The remote sources are in
 * aws_creds_remote.c.
 */
#include "aws_creds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "secmem.h"

const char *aws_cred_source_name(aws_cred_source s)
{
    switch (s) {
    case AWS_SRC_ENV: return "environment";
    case AWS_SRC_FILES: return "shared credentials/config files";
    case AWS_SRC_WEB_IDENTITY: return "web identity (STS AssumeRoleWithWebIdentity)";
    case AWS_SRC_CONTAINER: return "container credentials endpoint";
    case AWS_SRC_IMDS: return "EC2 instance metadata (IMDSv2)";
    case AWS_SRC_NONE: break;
    }
    return "none";
}

static char *secret_copy(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return NULL;
    return envelope_secmem_strdup(s);
}

aws_creds *aws_creds_new(const char *akid, const char *secret, const char *token, time_t expires,
                         aws_cred_source source)
{
    aws_creds *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->expires = expires;
    c->fetched = time(NULL);
    c->source = source;
    c->access_key_id = secret_copy(akid, AWS_AKID_MAX);
    c->secret_access_key = secret_copy(secret, 128);
    if (token != NULL && token[0] != '\0')
        c->session_token = secret_copy(token, AWS_TOKEN_MAX);
    if (c->access_key_id == NULL || c->secret_access_key == NULL ||
        (token != NULL && token[0] != '\0' && c->session_token == NULL)) {
        aws_creds_free(c);
        return NULL;
    }
    for (const char *p = c->access_key_id; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p)) { /* it goes into headers and logs */
            aws_creds_free(c);
            return NULL;
        }
    return c;
}

void aws_creds_free(aws_creds *c)
{
    if (c == NULL)
        return;
    envelope_secmem_free(c->access_key_id);
    envelope_secmem_free(c->secret_access_key);
    envelope_secmem_free(c->session_token);
    free(c);
}

int aws_creds_from_env(aws_creds **out, char *err, size_t errlen)
{
    const char *akid = secure_getenv("AWS_ACCESS_KEY_ID");
    const char *secret = secure_getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = secure_getenv("AWS_SESSION_TOKEN");
    if ((akid == NULL || akid[0] == '\0') && (secret == NULL || secret[0] == '\0'))
        return 0;
    if (akid == NULL || akid[0] == '\0' || secret == NULL || secret[0] == '\0') {
        snprintf(err, errlen,
                 "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
        return -1;
    }
    *out = aws_creds_new(akid, secret, token, 0, AWS_SRC_ENV);
    if (*out == NULL) {
        snprintf(err, errlen,
                 "environment: AWS_ACCESS_KEY_ID (1..%d letters and digits), "
                 "AWS_SECRET_ACCESS_KEY (1..128 bytes) or AWS_SESSION_TOKEN (up to %d bytes) "
                 "is malformed",
                 AWS_AKID_MAX, AWS_TOKEN_MAX);
        return -1;
    }
    return 1;
}

/* ---- shared files (INI) ---- */

typedef struct {
    char *akid, *secret, *token; /* secmem */
} ini_found;

static void ini_found_free(ini_found *f)
{
    envelope_secmem_free(f->akid);
    envelope_secmem_free(f->secret);
    envelope_secmem_free(f->token);
    memset(f, 0, sizeof(*f));
}

static char *trim(char *s, char *e)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return s;
}

/* Reads path into secret memory (it holds keys). 1 read, 0 absent, -1 error. */
static int read_secret_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, ENVCORE_ERRNO_TEXT(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AWS_CREDS_FILE_MAX) {
        snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
                 AWS_CREDS_FILE_MAX);
        close(fd);
        return -1;
    }
    *buf = envelope_secmem_alloc((size_t)st.st_size + 1);
    if (*buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    (*buf)[n] = '\0';
    *len = n;
    return 1;
}

/* Finds [section] (config file: [profile NAME], or [default]) and its
 * aws_access_key_id / aws_secret_access_key / aws_session_token. Returns 1
 * if the section exists. */
static int ini_scan(char *text, size_t len, const char *want, int config_file, ini_found *f)
{
    int in = 0, seen = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl != NULL ? nl : end;
        char *line = trim(p, le);
        p = nl != NULL ? nl + 1 : end;
        if (*line == '\0' || *line == '#' || *line == ';')
            continue;
        if (*line == '[') {
            char *rb = strchr(line, ']');
            if (rb == NULL) {
                in = 0;
                continue;
            }
            char *name = trim(line + 1, rb);
            if (config_file && strncmp(name, "profile", 7) == 0 && isspace((unsigned char)name[7]))
                name = trim(name + 8, name + strlen(name));
            else if (config_file && strcmp(name, "default") != 0)
                name = ""; /* [sso-session x], [services x]: not profiles */
            in = strcmp(name, want) == 0;
            seen |= in;
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        char *val = trim(eq + 1, line + strlen(line));
        char *key = trim(line, eq);
        char **slot = strcmp(key, "aws_access_key_id") == 0       ? &f->akid
                      : strcmp(key, "aws_secret_access_key") == 0 ? &f->secret
                      : strcmp(key, "aws_session_token") == 0     ? &f->token
                                                                  : NULL;
        if (slot != NULL && *slot == NULL)
            *slot = envelope_secmem_strdup(val);
    }
    return seen;
}

static void home_path(char *out, size_t cap, const char *env, const char *leaf)
{
    const char *v = secure_getenv(env);
    if (v != NULL && v[0] != '\0') {
        snprintf(out, cap, "%s", v);
        return;
    }
    const char *home = secure_getenv("HOME");
    snprintf(out, cap, "%s/.aws/%s", home != NULL ? home : "", leaf);
}

int aws_creds_from_files(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen)
{
    const char *profile = o->profile != NULL && o->profile[0] != '\0' ? o->profile : NULL;
    if (profile == NULL)
        profile = secure_getenv("AWS_PROFILE");
    if (profile == NULL || profile[0] == '\0')
        profile = "default";
    char paths[2][4096];
    home_path(paths[0], sizeof(paths[0]), "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    home_path(paths[1], sizeof(paths[1]), "AWS_CONFIG_FILE", "config");
    ini_found f = {0};
    int seen = 0, rc = 0;
    for (int i = 0; i < 2 && (f.akid == NULL || f.secret == NULL); i++) {
        char *text = NULL;
        size_t len = 0;
        int r = read_secret_file(paths[i], &text, &len, err, errlen);
        if (r < 0) {
            ini_found_free(&f);
            return -1;
        }
        if (r == 0)
            continue;
        ini_found one = {0};
        if (ini_scan(text, len, profile, i == 1, &one)) {
            seen = 1;
            if (one.akid != NULL || one.secret != NULL) { /* a file's keys go together */
                ini_found_free(&f);
                f = one;
            } else {
                ini_found_free(&one);
            }
        }
        envelope_secmem_free(text);
    }
    if (!seen)
        return 0; /* no such profile: not configured here */
    if (f.akid == NULL && f.secret == NULL) {
        ini_found_free(&f);
        return 0; /* a profile without keys (e.g. only a region) */
    }
    if (f.akid == NULL || f.secret == NULL) {
        snprintf(err, errlen,
                 "shared files: profile \"%s\" has only one of aws_access_key_id and "
                 "aws_secret_access_key",
                 profile);
        rc = -1;
    } else if ((*out = aws_creds_new(f.akid, f.secret, f.token, 0, AWS_SRC_FILES)) == NULL) {
        snprintf(err, errlen, "shared files: profile \"%s\": a key is malformed or too long",
                 profile);
        rc = -1;
    } else {
        rc = 1;
    }
    ini_found_free(&f);
    return rc;
}

aws_creds *aws_chain_resolve(const aws_chain_opts *o, char *err, size_t errlen)
{
    aws_creds *c = NULL;
    int r = aws_creds_from_env(&c, err, errlen);
    if (r == 0)
        r = aws_creds_from_files(o, &c, err, errlen);
    if (r == 0)
        r = aws_creds_from_web_identity(o, &c, err, errlen);
    if (r == 0)
        r = aws_creds_from_container(o, &c, err, errlen);
    if (r == 0)
        r = aws_creds_from_imds(o, &c, err, errlen);
    if (r == 0)
        snprintf(err, errlen,
                 "no AWS credentials: none in the environment, the shared files (profile), web "
                 "identity, the container endpoint or instance metadata");
    return r == 1 ? c : NULL;
}
