/*
 * test_aws_sigv4.c - aws_sigv4.h against the AWS SigV4 signing test suite
 * (aws-c-auth tests/aws-signing-test-suite/v4), read in place from the
 * folder given as argv[1] (the CMake cache variable
 * ENVELOPE_AWS_SIGV4_VECTORS). Every case folder is one cmocka test; each
 * checks, byte for byte, the canonical request, the string to sign, the
 * signature and the signed request (Authorization header) of the header
 * form, and the same four of the presigned (query) form. A missing folder
 * is a skip (exit 77) that names the path; an empty one is a failure.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "aws_sigv4.h"

#define MAX_CASES 128

typedef struct {
    char dir[4352];
    char name[256];
} sigv4_case;

static char *read_all(const char *dir, const char *file, size_t *len)
{
    char path[4608];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_error("cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* request.txt: "METHOD SP target SP HTTP/1.1", header lines (a line that
 * starts with whitespace continues the previous value), blank line, body. */
typedef struct {
    char method[16];
    char path[1024];
    char query[1024];
    aws_sigv4_header hdr[AWS_SIGV4_MAX_HEADERS];
    char names[AWS_SIGV4_MAX_HEADERS][128];
    char values[AWS_SIGV4_MAX_HEADERS][2048]; /* with folded lines */
    size_t n;
    const char *raw_headers; /* the header lines as in the file */
    size_t raw_headers_len;
    const char *body;
    size_t body_len;
} parsed_request;

static int parse_request(char *text, size_t len, parsed_request *pr)
{
    memset(pr, 0, sizeof(*pr));
    char *eol = strchr(text, '\n');
    char *line_end = eol != NULL ? eol : text + len;
    char *sp1 = memchr(text, ' ', (size_t)(line_end - text));
    const char *proto = " HTTP/1.1";
    if (sp1 == NULL || (size_t)(line_end - sp1) < strlen(proto) ||
        memcmp(line_end - strlen(proto), proto, strlen(proto)) != 0)
        return 0;
    snprintf(pr->method, sizeof(pr->method), "%.*s", (int)(sp1 - text), text);
    char *target = sp1 + 1;
    size_t tlen = (size_t)(line_end - strlen(proto) - target);
    char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;
    snprintf(pr->path, sizeof(pr->path), "%.*s", (int)plen, target);
    if (q != NULL)
        snprintf(pr->query, sizeof(pr->query), "%.*s", (int)(tlen - plen - 1), q + 1);
    char *p = eol != NULL ? eol + 1 : text + len;
    pr->raw_headers = p;
    while (p < text + len && *p != '\n') {
        char *e = strchr(p, '\n');
        char *le = e != NULL ? e : text + len;
        size_t ln = (size_t)(le - p);
        if ((*p == ' ' || *p == '\t') && pr->n > 0) {
            char *v = pr->values[pr->n - 1];
            size_t old = strlen(v);
            if (old + 1 + ln >= sizeof(pr->values[0]))
                return 0;
            v[old] = '\n';
            memcpy(v + old + 1, p, ln);
            v[old + 1 + ln] = '\0';
        } else {
            char *colon = memchr(p, ':', ln);
            if (colon == NULL || pr->n == AWS_SIGV4_MAX_HEADERS ||
                (size_t)(colon - p) >= sizeof(pr->names[0]) ||
                (size_t)(le - colon - 1) >= sizeof(pr->values[0]))
                return 0;
            snprintf(pr->names[pr->n], sizeof(pr->names[0]), "%.*s", (int)(colon - p), p);
            snprintf(pr->values[pr->n], sizeof(pr->values[0]), "%.*s", (int)(le - colon - 1),
                     colon + 1);
            pr->n++;
        }
        p = e != NULL ? e + 1 : text + len;
    }
    pr->raw_headers_len = (size_t)(p - pr->raw_headers);
    if (p < text + len) { /* the blank line */
        pr->body = p + 1;
        pr->body_len = (size_t)(text + len - (p + 1));
    }
    for (size_t i = 0; i < pr->n; i++) {
        pr->hdr[i].name = pr->names[i];
        pr->hdr[i].value = pr->values[i];
    }
    return 1;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int jbool(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static void expect_file(const char *dir, const char *file, const char *got, size_t got_len)
{
    size_t len;
    char *want = read_all(dir, file, &len);
    assert_non_null(want);
    int same = len == got_len && memcmp(want, got, len) == 0;
    if (!same)
        print_error("%s/%s differs\n--- expected (%zu bytes)\n%s\n--- got (%zu bytes)\n%.*s\n", dir,
                    file, len, want, got_len, (int)got_len, got);
    free(want);
    assert_true(same);
}

static void run_case(void **state)
{
    const sigv4_case *c = *state;
    size_t ctx_len = 0, req_len = 0;
    char *ctx_text = read_all(c->dir, "context.json", &ctx_len);
    char *req_text = read_all(c->dir, "request.txt", &req_len);
    assert_non_null(ctx_text);
    assert_non_null(req_text);
    json_object *ctx = json_tokener_parse(ctx_text);
    assert_non_null(ctx);
    json_object *cred = NULL;
    assert_true(json_object_object_get_ex(ctx, "credentials", &cred));
    static parsed_request pr; /* about 100 KiB */
    assert_true(parse_request(req_text, req_len, &pr));

    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *ts = jstr(ctx, "timestamp");
    assert_non_null(ts);
    assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm));
    json_object *exp;
    assert_true(json_object_object_get_ex(ctx, "expiration_in_seconds", &exp));

    aws_sigv4_creds creds = {jstr(cred, "access_key_id"), jstr(cred, "secret_access_key"),
                             jstr(cred, "token")};
    aws_sigv4_input in = {
        .method = pr.method,
        .path = pr.path,
        .query = pr.query,
        .headers = pr.hdr,
        .n_headers = pr.n,
        .body = (const unsigned char *)pr.body,
        .body_len = pr.body_len,
        .region = jstr(ctx, "region"),
        .service = jstr(ctx, "service"),
        .when = timegm(&tm),
        .normalize_path = jbool(ctx, "normalize"),
        .sign_body = jbool(ctx, "sign_body"),
        .omit_session_token = jbool(ctx, "omit_session_token"),
        .expires = json_object_get_int64(exp),
    };
    const char *target_end = strstr(req_text, " HTTP/1.1\n");
    assert_non_null(target_end);

    for (int presign = 0; presign <= 1; presign++) {
        const char *form = presign ? "query" : "header";
        char file[64];
        aws_sigv4_result r;
        aws_sigv4_result_init(&r);
        in.presign = presign;
        if (!aws_sigv4_sign(&in, &creds, &r))
            fail_msg("%s (%s form): %s", c->name, form, r.error);
        snprintf(file, sizeof(file), "%s-canonical-request.txt", form);
        expect_file(c->dir, file, r.canonical_request.p, r.canonical_request.len);
        snprintf(file, sizeof(file), "%s-string-to-sign.txt", form);
        expect_file(c->dir, file, r.string_to_sign.p, r.string_to_sign.len);
        snprintf(file, sizeof(file), "%s-signature.txt", form);
        expect_file(c->dir, file, r.signature, strlen(r.signature));

        /* The signed request as sent: our headers after the caller's. */
        aws_str sent;
        aws_str_init(&sent, 0);
        if (presign) {
            aws_str_adds(&sent, pr.method);
            aws_str_addc(&sent, ' ');
            aws_str_adds(&sent, pr.path);
            aws_str_addc(&sent, '?');
            aws_str_add(&sent, r.query.p, r.query.len);
            aws_str_adds(&sent, " HTTP/1.1\n");
        } else { /* the request line as in the file */
            aws_str_add(&sent, req_text, (size_t)(target_end - req_text) + strlen(" HTTP/1.1\n"));
        }
        aws_str_add(&sent, pr.raw_headers, pr.raw_headers_len);
        if (!presign) {
            if (creds.session_token != NULL) {
                aws_str_adds(&sent, "X-Amz-Security-Token:");
                aws_str_adds(&sent, creds.session_token);
                aws_str_addc(&sent, '\n');
            }
            aws_str_adds(&sent, "X-Amz-Date:");
            aws_str_adds(&sent, r.amz_date);
            aws_str_addc(&sent, '\n');
            if (in.sign_body) {
                aws_str_adds(&sent, "x-amz-content-sha256:");
                aws_str_adds(&sent, r.payload_hash);
                aws_str_addc(&sent, '\n');
            }
            aws_str_adds(&sent, "Authorization:");
            aws_str_add(&sent, r.authorization.p, r.authorization.len);
            aws_str_addc(&sent, '\n');
        }
        aws_str_addc(&sent, '\n');
        aws_str_add(&sent, pr.body, pr.body_len);
        assert_true(aws_str_ok(&sent));
        snprintf(file, sizeof(file), "%s-signed-request.txt", form);
        expect_file(c->dir, file, sent.p, sent.len);
        aws_str_free(&sent);
        aws_sigv4_result_free(&r);
    }
    json_object_put(ctx);
    free(ctx_text);
    free(req_text);
}

/* Bad input: a clear error, no signature, nothing secret in the text. */
static void test_refusals(void **state)
{
    (void)state;
    char secret[AWS_SIGV4_SECRET_MAX + 2];
    memset(secret, 'S', sizeof(secret) - 1);
    secret[sizeof(secret) - 1] = '\0';
    aws_sigv4_header host = {"Host", "kms.us-east-1.amazonaws.com"};
    aws_sigv4_creds creds = {"AKIDEXAMPLE", secret, NULL};
    aws_sigv4_input in = {.method = "POST",
                          .path = "/",
                          .headers = &host,
                          .n_headers = 1,
                          .region = "us-east-1",
                          .service = "kms",
                          .when = 1440938160};
    aws_sigv4_result r;
    aws_sigv4_result_init(&r);
    assert_false(aws_sigv4_sign(&in, &creds, &r));
    assert_non_null(strstr(r.error, "secret"));
    assert_null(strstr(r.error, "SSSS"));
    aws_sigv4_result_free(&r);

    aws_sigv4_header many[AWS_SIGV4_MAX_HEADERS + 1];
    char names[AWS_SIGV4_MAX_HEADERS + 1][16];
    for (size_t i = 0; i < AWS_SIGV4_MAX_HEADERS + 1; i++) {
        snprintf(names[i], sizeof(names[i]), "h%zu", i);
        many[i].name = names[i];
        many[i].value = "v";
    }
    creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    in.headers = many;
    in.n_headers = AWS_SIGV4_MAX_HEADERS + 1;
    aws_sigv4_result_init(&r);
    assert_false(aws_sigv4_sign(&in, &creds, &r));
    assert_non_null(strstr(r.error, "too many headers"));
    aws_sigv4_result_free(&r);

    /* an empty header name */
    aws_sigv4_header empty = {"", "v"};
    in.headers = &empty;
    in.n_headers = 1;
    aws_sigv4_result_init(&r);
    assert_false(aws_sigv4_sign(&in, &creds, &r));
    aws_sigv4_result_free(&r);
}

static int case_cmp(const void *a, const void *b)
{
    return strcmp(((const sigv4_case *)a)->name, ((const sigv4_case *)b)->name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS-DIR (the folder holding v4/)\n", argv[0]);
        return 2;
    }
    char v4[4096];
    snprintf(v4, sizeof(v4), "%s/v4", argv[1]);
    DIR *d = opendir(v4);
    if (d == NULL) {
        printf("SKIP: the SigV4 test suite is not at %s (set the CMake cache variable "
               "ENVELOPE_AWS_SIGV4_VECTORS to the folder holding v4/)\n",
               v4);
        return 77;
    }
    static sigv4_case cases[MAX_CASES];
    static struct CMUnitTest tests[MAX_CASES + 1];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == MAX_CASES) {
            fprintf(stderr, "more than %d cases in %s\n", MAX_CASES, v4);
            closedir(d);
            return 1;
        }
        if (strlen(e->d_name) >= sizeof(cases[n].name) ||
            strlen(v4) + 1 + strlen(e->d_name) >= sizeof(cases[n].dir)) {
            fprintf(stderr, "case name too long in %s\n", v4);
            closedir(d);
            return 1;
        }
        memcpy(cases[n].name, e->d_name, strlen(e->d_name) + 1);
        memcpy(cases[n].dir, v4, strlen(v4));
        cases[n].dir[strlen(v4)] = '/';
        memcpy(cases[n].dir + strlen(v4) + 1, e->d_name, strlen(e->d_name) + 1);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no SigV4 cases in %s: the folder is there but empty\n", v4);
        return 1;
    }
    qsort(cases, n, sizeof(cases[0]), case_cmp);
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    tests[n].name = "refusals";
    tests[n].test_func = test_refusals;
    printf("SigV4 suite: %zu cases from %s\n", n, v4);
    return _cmocka_run_group_tests("aws_sigv4", tests, n + 1, NULL, NULL);
}
