/*
 * aws_creds_remote.c - the credential sources that answer over HTTP:
 * web identity (STS AssumeRoleWithWebIdentity), the container endpoint and
 * EC2 instance metadata with IMDSv2 (aws_creds.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_json.h"
#include "aws_str.h"
#include "errors.h"
#include "secmem.h"

#define IMDS_TIMEOUT_MS 1000 /* the SDKs' default: off EC2 this is a dead address */

int aws_parse_iso8601(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0))
        return 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    *out = t;
    return 1;
}

static aws_creds *creds_from_object(json_object *c, const char *token_key, aws_cred_source src,
                                    char *err, size_t errlen)
{
    const char *akid = aws_json_str(c, "AccessKeyId", NULL);
    const char *secret = aws_json_str(c, "SecretAccessKey", NULL);
    const char *token = aws_json_str(c, token_key, NULL);
    json_object *exp = aws_json_path(c, "Expiration", NULL);
    time_t expires = 0;
    if (akid == NULL || secret == NULL || token == NULL || exp == NULL) {
        snprintf(err, errlen, "%s: the answer lacks AccessKeyId, SecretAccessKey, %s or Expiration",
                 aws_cred_source_name(src), token_key);
        return NULL;
    }
    /* STS's JSON form gives epoch seconds, the metadata endpoints ISO 8601. */
    if (json_object_get_type(exp) == json_type_double || json_object_get_type(exp) == json_type_int)
        expires = (time_t)json_object_get_int64(exp);
    else if (json_object_get_type(exp) != json_type_string ||
             !aws_parse_iso8601(json_object_get_string(exp), &expires))
        expires = 0;
    if (expires <= 0) {
        snprintf(err, errlen, "%s: Expiration is not a time", aws_cred_source_name(src));
        return NULL;
    }
    aws_creds *out = aws_creds_new(akid, secret, token, expires, src);
    if (out == NULL)
        snprintf(err, errlen, "%s: a credential in the answer is malformed or too long",
                 aws_cred_source_name(src));
    return out;
}

aws_creds *aws_creds_from_json(const char *json, size_t n, aws_cred_source src, char *err,
                               size_t errlen)
{
    json_object *o = aws_json_parse(json, n);
    if (o == NULL) {
        snprintf(err, errlen, "%s: the answer is not JSON", aws_cred_source_name(src));
        return NULL;
    }
    const char *code = aws_json_str(o, "Code", NULL); /* IMDS says "Success" */
    aws_creds *c = NULL;
    if (code != NULL && strcmp(code, "Success") != 0)
        snprintf(err, errlen, "%s: the endpoint answered Code \"%.64s\"", aws_cred_source_name(src),
                 code);
    else
        c = creds_from_object(o, "Token", src, err, errlen);
    aws_json_wipe_put(o);
    return c;
}

/* A small secret file (a web identity or authorization token), trimmed of
 * a final newline, into secret memory. */
static char *read_token_file(const char *path, char *err, size_t errlen, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s: %s", what, path, ENVCORE_ERRNO_TEXT(errno));
        return NULL;
    }
    char *buf = envelope_secmem_alloc(AWS_TOKEN_MAX + 2);
    size_t n = 0;
    ssize_t r = 0;
    while (buf != NULL && n < AWS_TOKEN_MAX + 1 &&
           ((r = read(fd, buf + n, AWS_TOKEN_MAX + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    close(fd);
    if (buf == NULL || r < 0 || n > AWS_TOKEN_MAX) {
        snprintf(err, errlen, "%s: %s: unreadable or longer than %d bytes", what, path,
                 AWS_TOKEN_MAX);
        envelope_secmem_free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "%s: %s is empty", what, path);
        envelope_secmem_free(buf);
        return NULL;
    }
    return buf;
}

static void form_param(aws_str *s, const char *k, const char *v)
{
    if (s->len != 0)
        aws_str_addc(s, '&');
    aws_str_adds(s, k);
    aws_str_addc(s, '=');
    aws_str_uri_encode(s, v, strlen(v), 0);
}

int aws_creds_from_web_identity(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen)
{
    const char *file = secure_getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = secure_getenv("AWS_ROLE_ARN");
    if (file == NULL || file[0] == '\0' || role == NULL || role[0] == '\0')
        return 0;
    const char *session = secure_getenv("AWS_ROLE_SESSION_NAME");
    char session_buf[64];
    if (session == NULL || session[0] == '\0') {
        snprintf(session_buf, sizeof(session_buf), "envelope-%ld", (long)getpid());
        session = session_buf;
    }
    const char *ep = secure_getenv("AWS_ENDPOINT_URL_STS");
    char url[600];
    if (ep != NULL && ep[0] != '\0')
        snprintf(url, sizeof(url), "%s", ep);
    else
        snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com/", o->region);
    char *jwt = read_token_file(file, err, errlen, "web identity token file");
    if (jwt == NULL)
        return -1;
    aws_str body;
    aws_str_init(&body, 4 * AWS_TOKEN_MAX);
    form_param(&body, "Action", "AssumeRoleWithWebIdentity");
    form_param(&body, "Version", "2011-06-15");
    form_param(&body, "RoleArn", role);
    form_param(&body, "RoleSessionName", session);
    form_param(&body, "WebIdentityToken", jwt);
    envelope_secmem_free(jwt);
    int rc = -1;
    aws_http *h = aws_http_new();
    aws_http_resp resp;
    aws_http_resp_init(&resp);
    /* STS answers in JSON when asked to (its query protocol's JSON form). */
    aws_http_req req = {.method = "POST",
                        .url = url,
                        .headers = {"Content-Type: application/x-www-form-urlencoded",
                                    "Accept: application/json"},
                        .n_headers = 2,
                        .body = body.p,
                        .body_len = body.len,
                        .timeout_ms = o->timeout_ms,
                        .ca_file = o->ca_file,
                        .allow_http = 0};
    if (!aws_str_ok(&body) || h == NULL) {
        snprintf(err, errlen, "web identity: out of memory or the token is too long");
    } else if (!aws_http_do(h, &req, &resp)) {
        snprintf(err, errlen, "web identity: STS at %s: %s", url, resp.err);
    } else {
        json_object *j = aws_json_parse(resp.body.p, resp.body.len);
        json_object *c = aws_json_path(j, "AssumeRoleWithWebIdentityResponse",
                                       "AssumeRoleWithWebIdentityResult", "Credentials", NULL);
        const char *code = aws_json_str(aws_json_path(j, "Error", NULL), "Code", NULL);
        if (resp.status != 200 || c == NULL)
            snprintf(err, errlen, "web identity: STS answered HTTP %ld%s%.64s", resp.status,
                     code != NULL ? " " : "", code != NULL ? code : "");
        else if ((*out = creds_from_object(c, "SessionToken", AWS_SRC_WEB_IDENTITY, err, errlen)) !=
                 NULL)
            rc = 1;
        aws_json_wipe_put(j);
    }
    aws_http_resp_free(&resp);
    aws_http_free(h);
    aws_str_free(&body);
    return rc;
}

/* GET url with optional headers, JSON credentials in the answer. */
static int fetch_json_creds(const char *url, const char *const *hdrs, size_t nh, long timeout_ms,
                            aws_cred_source src, aws_creds **out, char *err, size_t errlen)
{
    aws_http *h = aws_http_new();
    aws_http_resp resp;
    aws_http_resp_init(&resp);
    aws_http_req req = {
        .method = "GET", .url = url, .timeout_ms = timeout_ms, .allow_http = 1, .no_proxy = 1};
    for (size_t i = 0; i < nh && i < AWS_HTTP_MAX_HEADERS; i++)
        req.headers[req.n_headers++] = hdrs[i];
    int rc = -1;
    if (h == NULL)
        snprintf(err, errlen, "%s: out of memory", aws_cred_source_name(src));
    else if (!aws_http_do(h, &req, &resp))
        snprintf(err, errlen, "%s at %s: %s", aws_cred_source_name(src), url, resp.err);
    else if (resp.status != 200)
        snprintf(err, errlen, "%s at %s: HTTP %ld", aws_cred_source_name(src), url, resp.status);
    else if ((*out = aws_creds_from_json(resp.body.p, resp.body.len, src, err, errlen)) != NULL)
        rc = 1;
    aws_http_resp_free(&resp);
    aws_http_free(h);
    return rc;
}

int aws_creds_from_container(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen)
{
    const char *rel = secure_getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = secure_getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[1024];
    if (rel != NULL && rel[0] != '\0') {
        if (rel[0] != '/' || strlen(rel) > 512) {
            snprintf(err, errlen,
                     "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a "
                     "path of at most 512 bytes");
            return -1;
        }
        snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
    } else if (full != NULL && full[0] != '\0') {
        /* The SDKs' rule: https anywhere, plain http only to loopback or the
         * ECS/EKS link-local agents, so a token never crosses a network. */
        int ok = strlen(full) < sizeof(url) &&
                 (strncmp(full, "https://", 8) == 0 || strncmp(full, "http://127.", 11) == 0 ||
                  strncmp(full, "http://localhost", 16) == 0 ||
                  strncmp(full, "http://[::1]", 12) == 0 ||
                  strncmp(full, "http://169.254.170.2", 20) == 0 ||
                  strncmp(full, "http://169.254.170.23", 21) == 0);
        if (!ok) {
            snprintf(err, errlen,
                     "container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https://, or http:// "
                     "to a loopback or the container agent's address");
            return -1;
        }
        snprintf(url, sizeof(url), "%s", full);
    } else {
        return 0;
    }
    char *auth = NULL;
    const char *tok_file = secure_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = secure_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tok_file != NULL && tok_file[0] != '\0') {
        char *t = read_token_file(tok_file, err, errlen, "container authorization token file");
        if (t == NULL)
            return -1;
        auth = envelope_secmem_alloc(strlen(t) + 32);
        if (auth != NULL)
            snprintf(auth, strlen(t) + 32, "Authorization: %s", t);
        envelope_secmem_free(t);
    } else if (tok != NULL && tok[0] != '\0' && strlen(tok) <= AWS_TOKEN_MAX) {
        auth = envelope_secmem_alloc(strlen(tok) + 32);
        if (auth != NULL)
            snprintf(auth, strlen(tok) + 32, "Authorization: %s", tok);
    }
    if ((tok_file != NULL || tok != NULL) && auth == NULL) {
        snprintf(err, errlen, "container: the authorization token is too long");
        return -1;
    }
    if (auth != NULL && strpbrk(auth, "\r\n") != NULL) {
        snprintf(err, errlen, "container: the authorization token holds a line break");
        envelope_secmem_free(auth);
        return -1;
    }
    const char *hdrs[1] = {auth};
    int rc = fetch_json_creds(url, hdrs, auth != NULL ? 1 : 0, o->timeout_ms, AWS_SRC_CONTAINER,
                              out, err, errlen);
    envelope_secmem_free(auth);
    return rc;
}

int aws_creds_from_imds(const aws_chain_opts *o, aws_creds **out, char *err, size_t errlen)
{
    const char *off = secure_getenv("AWS_EC2_METADATA_DISABLED");
    if (off != NULL && strcasecmp(off, "true") == 0)
        return 0;
    const char *ep = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char base[600];
    snprintf(base, sizeof(base), "%s", ep != NULL && ep[0] != '\0' ? ep : "http://169.254.169.254");
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == '/')
        base[bl - 1] = '\0';
    long timeout = o->timeout_ms < IMDS_TIMEOUT_MS ? o->timeout_ms : IMDS_TIMEOUT_MS;
    char url[1024], tokhdr[160];
    aws_http *h = aws_http_new();
    aws_http_resp resp;
    aws_http_resp_init(&resp);
    int rc = -1;
    /* IMDSv2 (EC2 User Guide, "Use IMDSv2"): a session token by PUT, then
     * every GET carries it. IMDSv1 (GET without a token) is never used. */
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    aws_http_req req = {.method = "PUT",
                        .url = url,
                        .headers = {"X-aws-ec2-metadata-token-ttl-seconds: 21600"},
                        .n_headers = 1,
                        .timeout_ms = timeout,
                        .allow_http = 1,
                        .no_proxy = 1};
    if (h == NULL) {
        snprintf(err, errlen, "instance metadata: out of memory");
        goto out;
    }
    if (!aws_http_do(h, &req, &resp)) {
        rc = 0; /* nothing answers: not on EC2 (or IMDS turned off) */
        goto out;
    }
    if (resp.status != 200 || resp.body.len == 0 || resp.body.len > 100 ||
        strpbrk(resp.body.p, "\r\n") != NULL) {
        snprintf(err, errlen, "instance metadata: the IMDSv2 token PUT answered HTTP %ld",
                 resp.status);
        goto out;
    }
    snprintf(tokhdr, sizeof(tokhdr), "X-aws-ec2-metadata-token: %s", resp.body.p);
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
    aws_http_req get = {.method = "GET",
                        .url = url,
                        .headers = {tokhdr},
                        .n_headers = 1,
                        .timeout_ms = timeout,
                        .allow_http = 1,
                        .no_proxy = 1};
    if (!aws_http_do(h, &get, &resp) || resp.status != 200 || resp.body.len == 0 ||
        resp.body.len > 128) {
        snprintf(err, errlen, "instance metadata: no instance role (HTTP %ld)", resp.status);
        goto out;
    }
    char role[130];
    size_t rl = strcspn(resp.body.p, "\r\n");
    snprintf(role, sizeof(role), "%.*s", (int)rl, resp.body.p);
    for (size_t i = 0; i < rl; i++)
        if (role[i] == '/' || role[i] == '?' || role[i] == '#' || role[i] == '%' ||
            (unsigned char)role[i] <= ' ') {
            snprintf(err, errlen, "instance metadata: the role name is malformed");
            goto out;
        }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
    const char *hdrs[1] = {tokhdr};
    rc = fetch_json_creds(url, hdrs, 1, timeout, AWS_SRC_IMDS, out, err, errlen);
out:
    OPENSSL_cleanse(tokhdr, sizeof(tokhdr));
    aws_http_resp_free(&resp);
    aws_http_free(h);
    return rc;
}
