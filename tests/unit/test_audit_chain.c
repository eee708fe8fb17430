/*
 * test_audit_chain.c - the provider's audit writer (provider/audit*.c) and
 * the CLI's chain check (cli/audit_verify.c) together, without a device:
 * lines as the writer makes them, one chain across writers sharing a file
 * (two instances, and a forked child), hostile references and program
 * bytes escaped, PIN attributes stripped, the first broken line named for an
 * edit, a deletion, a swap and a torn last line, a full ring with
 * audit-overflow = drop counted in a line, an unwritable sink latched, and
 * a log rotated by rename followed, and audit-key shared by two writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "audit.h"
#include "audit_cli.h"
#include "audit_line.h"
#include "provider.h"
#include "settings.h"

static char dir[] = "/tmp/envaudit-unit.XXXXXX";
static char logpath[256];

static const envkey_backend_ops fake_ops = {.name = "pkcs11"};

typedef struct {
    envprov_ctx pc;
    envkey k;
    OSSL_PROVIDER *dflt;
} fixture;

static void setup_fx(fixture *f, const char *const *settings)
{
    memset(f, 0, sizeof(*f));
    f->pc.swctx = OSSL_LIB_CTX_new();
    assert_non_null(f->pc.swctx);
    f->dflt = OSSL_PROVIDER_load(f->pc.swctx, "default");
    assert_non_null(f->dflt);
    f->pc.settings = envcore_settings_new();
    for (const char *const *s = settings; s != NULL && s[0] != NULL; s += 2)
        assert_true(envcore_settings_put(f->pc.settings, s[0], s[1]));
    f->k.ops = &fake_ops;
    f->k.uri = (char *)"pkcs11:token=prod;object=kek-1";
}

static void teardown_fx(fixture *f)
{
    envprov_audit_free(f->pc.audit);
    envcore_settings_free(f->pc.settings);
    OSSL_PROVIDER_unload(f->dflt);
    OSSL_LIB_CTX_free(f->pc.swctx);
}

static void events(fixture *f, int n, const char *aad)
{
    for (int i = 0; i < n; i++) {
        envprov_audit_span sp;
        envprov_audit_begin(f->pc.audit, &sp);
        envprov_audit_event(f->pc.audit, &sp, ENVPROV_AUDIT_OP_UNWRAP, &f->k,
                            (const unsigned char *)aad, strlen(aad),
                            i % 3 == 2 ? ENVCORE_R_AUTHENTICATION_FAILED : ENVCORE_R_OK,
                            ENVPROV_AUDIT_CACHE_HIT, 0, 0, 0);
    }
}

/* Runs the verifier over a file: 0 if every line holds, else the number of
 * the first broken line; *nlines the lines read. */
static uint64_t verify_file(const char *path, uint64_t *nlines, char *why, size_t whysize)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    cli_audit_verifier *v = cli_audit_verifier_new();
    assert_non_null(v);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t n = 0, broken = 0;
    while (broken == 0 && (got = getline(&line, &cap, fp)) != -1) {
        n++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        else {
            broken = n;
            snprintf(why, whysize, "no newline");
            break;
        }
        if (!cli_audit_verify_line(v, line, len, why, whysize))
            broken = n;
    }
    free(line);
    fclose(fp);
    cli_audit_verifier_free(v);
    if (nlines != NULL)
        *nlines = n;
    return broken;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    p[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void write_all(const char *path, const char *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

static const char *file_settings[5];
static char logsetting[300];

static void test_lines_and_chain(void **state)
{
    (void)state;
    unlink(logpath);
    fixture f;
    setup_fx(&f, file_settings);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    assert_non_null(f.pc.audit);
    events(&f, 30, "tenant=acme");
    envprov_audit_free(f.pc.audit);
    f.pc.audit = NULL;
    /* a second writer (another process, as far as the file knows) goes on
     * with the same chain */
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 20, "tenant=globex");
    teardown_fx(&f);

    uint64_t n = 0;
    char why[512] = "";
    assert_int_equal(verify_file(logpath, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 50);
    size_t len;
    char *all = read_all(logpath, &len);
    /* every line JSON, with the fields docs/AUDIT.md lists; one chain */
    char first_chain[40] = "";
    int i = 0;
    for (char *line = strtok(all, "\n"); line != NULL; line = strtok(NULL, "\n"), i++) {
        json_object *o = json_tokener_parse(line);
        assert_non_null(o);
        json_object *m;
        const char *need[] = {"audit",   "time",   "host",    "pid",        "uid",
                              "prog",    "op",     "backend", "kek",        "ctx",
                              "ctx_key", "result", "error",   "latency_us", "cache",
                              "seq",     "chain",  "prev",    "hash"};
        for (size_t j = 0; j < sizeof(need) / sizeof(need[0]); j++)
            assert_true(json_object_object_get_ex(o, need[j], &m));
        assert_true(json_object_object_get_ex(o, "chain", &m));
        if (i == 0) {
            snprintf(first_chain, sizeof(first_chain), "%s", json_object_get_string(m));
            assert_true(json_object_object_get_ex(o, "prev", &m));
            assert_string_equal(json_object_get_string(m),
                                "0000000000000000000000000000000000000000000000000000000000000000");
        } else {
            assert_string_equal(json_object_get_string(m), first_chain);
        }
        assert_true(json_object_object_get_ex(o, "result", &m));
        assert_string_equal(json_object_get_string(m), i % 30 % 3 == 2 ? "error" : "ok");
        json_object_put(o);
    }
    assert_int_equal(i, 50);
    free(all);
}

/* Each kind of tampering is found at the line it names. */
static void test_tampering(void **state)
{
    (void)state;
    size_t len;
    char *orig = read_all(logpath, &len);
    char path[300];
    snprintf(path, sizeof(path), "%s/t.log", dir);
    char why[512];
    /* line starts */
    size_t starts[64], n = 0;
    starts[n++] = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (orig[i] == '\n')
            starts[n++] = i + 1;
    assert_int_equal(n, 50);
    /* an edit of line 10: a digit of its latency */
    char *c = malloc(len + 1);
    memcpy(c, orig, len + 1);
    char *lat = strstr(c + starts[9], "\"latency_us\":");
    assert_non_null(lat);
    lat[13] = lat[13] == '9' ? '8' : (char)(lat[13] + 1);
    write_all(path, c, len);
    assert_int_equal(verify_file(path, NULL, why, sizeof(why)), 10);
    assert_non_null(strstr(why, "edited"));
    /* deleting line 20: found at the line after it (now line 20) */
    memcpy(c, orig, len + 1);
    memmove(c + starts[19], c + starts[20], len - starts[20]);
    write_all(path, c, len - (starts[20] - starts[19]));
    assert_int_equal(verify_file(path, NULL, why, sizeof(why)), 20);
    assert_non_null(strstr(why, "not the hash of line 19"));
    /* swapping lines 3 and 4 */
    memcpy(c, orig, len + 1);
    size_t l3 = starts[3] - starts[2], l4 = starts[4] - starts[3];
    memcpy(c + starts[2], orig + starts[3], l4);
    memcpy(c + starts[2] + l4, orig + starts[2], l3);
    write_all(path, c, len);
    assert_int_equal(verify_file(path, NULL, why, sizeof(why)), 3);
    /* deleting the first line: the chain has no start */
    write_all(path, orig + starts[1], len - starts[1]);
    assert_int_equal(verify_file(path, NULL, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "lines before it are missing"));
    /* a torn last line */
    write_all(path, orig, len - 20);
    assert_int_equal(verify_file(path, NULL, why, sizeof(why)), 50);
    free(c);
    free(orig);
}

/* A writer after a crash that left half a line: the torn line ends, a new
 * chain starts; verify names the torn line. */
static void test_torn_then_new_chain(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/torn.log", dir);
    static const char torn[] = "{\"audit\":\"envelope/1\",\"time\":";
    write_all(path, torn, strlen(torn));
    char setting[320];
    snprintf(setting, sizeof(setting), "file:%s", path);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG, setting, NULL};
    fixture f;
    setup_fx(&f, s);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 3, "x=1");
    teardown_fx(&f);
    char why[512];
    uint64_t n;
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 1);
    assert_int_equal(n, 1);
    size_t len;
    char *all = read_all(path, &len);
    assert_non_null(strstr(all, "\"time\":\n{\"audit\""));
    /* the lines after it hold among themselves */
    char *rest = strchr(all, '\n') + 1;
    write_all(path, rest, len - (size_t)(rest - all));
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 3);
    free(all);
}

/* A forked child writes its own lines into the same chain. */
static void test_fork(void **state)
{
    (void)state;
    char path[300], setting[320];
    snprintf(path, sizeof(path), "%s/fork.log", dir);
    unlink(path);
    snprintf(setting, sizeof(setting), "file:%s", path);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG, setting, NULL};
    fixture f;
    setup_fx(&f, s);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 10, "p=1");
    envprov_audit_flush(f.pc.audit);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        events(&f, 10, "c=1");
        envprov_audit_free(f.pc.audit);
        _exit(0);
    }
    events(&f, 10, "p=2");
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    teardown_fx(&f);
    char why[512];
    uint64_t n;
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 30);
    size_t len;
    char *all = read_all(path, &len);
    char pidkey[40];
    snprintf(pidkey, sizeof(pidkey), "\"pid\":%ld,", (long)pid);
    int child_lines = 0;
    for (char *p = all; (p = strstr(p, pidkey)) != NULL; p++)
        child_lines++;
    assert_int_equal(child_lines, 10);
    free(all);
}

/* Hostile bytes in a reference stay inside their JSON string; PIN
 * attributes go; the context never appears, only its keyed hash. */
static void test_hostile_and_secrets(void **state)
{
    (void)state;
    char out[256];
    const char *u = "pkcs11:token=a;object=b?pin-value=1234&module-name=x&pin-source=file:/p";
    audit_strip_uri(u, strlen(u), out, sizeof(out));
    assert_string_equal(out, "pkcs11:token=a;object=b?module-name=x");
    u = "pkcs11:token=a;pin-value=9;object=b";
    audit_strip_uri(u, strlen(u), out, sizeof(out));
    assert_string_equal(out, "pkcs11:token=a;object=b");
    u = "pkcs11:object=b?pin-source=file:/p";
    audit_strip_uri(u, strlen(u), out, sizeof(out));
    assert_string_equal(out, "pkcs11:object=b");

    char path[300], setting[320];
    snprintf(path, sizeof(path), "%s/hostile.log", dir);
    unlink(path);
    snprintf(setting, sizeof(setting), "file:%s", path);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG, setting, NULL};
    fixture f;
    setup_fx(&f, s);
    f.k.uri = (char *)"pkcs11:object=\"},\n{\"op\":\"forged\x1b[2J\xff;token=x?pin-value=Secret99";
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 2, "secret-context-value");
    teardown_fx(&f);
    char why[512];
    uint64_t n;
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 2);
    size_t len;
    char *all = read_all(path, &len);
    assert_null(strstr(all, "Secret99"));
    assert_null(strstr(all, "pin-value"));
    assert_null(strstr(all, "secret-context-value"));
    assert_null(strchr(all, '\x1b'));
    assert_non_null(strstr(all, "\\\"},\\u000a{\\\"op\\\":\\\"forged\\u001b[2J\\u00ff"));
    for (size_t i = 0; i < len; i++)
        assert_true(all[i] == '\n' || (all[i] >= 0x20 && all[i] < 0x7f));
    free(all);
}

/* An unwritable sink: refuse latches and the gate says why; warn passes. */
static void test_sink_failure(void **state)
{
    (void)state;
    char setting[320];
    snprintf(setting, sizeof(setting), "file:%s/missing-dir/a.log", dir);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG, setting, NULL};
    fixture f;
    setup_fx(&f, s);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    assert_int_equal(envprov_audit_gate(f.pc.audit), ENVCORE_R_AUDIT_UNAVAILABLE);
    ERR_clear_error();
    teardown_fx(&f);
    const char *w[] = {ENVPROV_CONF_AUDIT_LOG, setting, ENVPROV_CONF_AUDIT_FAILURE, "warn", NULL};
    setup_fx(&f, w);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    assert_int_equal(envprov_audit_gate(f.pc.audit), ENVCORE_R_OK);
    teardown_fx(&f);
    /* settings it cannot read */
    const char *bad[][4] = {{ENVPROV_CONF_AUDIT_LOG, "/var/log/a.log", NULL, NULL},
                            {ENVPROV_CONF_AUDIT_LOG, setting, ENVPROV_CONF_AUDIT_FSYNC, "often"},
                            {ENVPROV_CONF_AUDIT_FSYNC, "every", NULL, NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setup_fx(&f, bad[i]);
        assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_BAD_CONFIG);
        assert_null(f.pc.audit);
        ERR_clear_error();
        teardown_fx(&f);
    }
}

/* A log rotated by rename (logrotate's default): the writer follows the
 * path, the new file starts a chain of its own, both files verify. */
static void test_rotation(void **state)
{
    (void)state;
    char path[300], old[320], setting[320];
    snprintf(path, sizeof(path), "%s/rot.log", dir);
    snprintf(old, sizeof(old), "%s.1", path);
    unlink(path);
    snprintf(setting, sizeof(setting), "file:%s", path);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG, setting, NULL};
    fixture f;
    setup_fx(&f, s);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 5, "r=1");
    envprov_audit_flush(f.pc.audit);
    assert_int_equal(rename(path, old), 0);
    events(&f, 7, "r=2");
    teardown_fx(&f);
    char why[512];
    uint64_t n;
    assert_int_equal(verify_file(old, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 5);
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 7);
}

/* The "ctx" of one AAD from a process's first line (json member). */
static void first_member(const char *path, const char *name, char *out, size_t outsize)
{
    size_t len;
    char *all = read_all(path, &len);
    char *nl = strchr(all, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_object *o = json_tokener_parse(all), *m;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, name, &m));
    snprintf(out, outsize, "%s", json_object_get_string(m));
    json_object_put(o);
    free(all);
}

/* audit-key: two writers with one key file agree on a context's hash and
 * name the same key; without it each process has its own; a key file
 * others can read is refused. */
static void test_audit_key(void **state)
{
    (void)state;
    char keyfile[300], a[300], b[300], c[300], sa[320], sb[320], sc[320];
    snprintf(keyfile, sizeof(keyfile), "%s/audit.key", dir);
    write_all(keyfile, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(chmod(keyfile, 0600), 0);
    snprintf(a, sizeof(a), "%s/ka.log", dir);
    snprintf(b, sizeof(b), "%s/kb.log", dir);
    snprintf(c, sizeof(c), "%s/kc.log", dir);
    snprintf(sa, sizeof(sa), "file:%s", a);
    snprintf(sb, sizeof(sb), "file:%s", b);
    snprintf(sc, sizeof(sc), "file:%s", c);
    const char *s1[] = {ENVPROV_CONF_AUDIT_LOG, sa, ENVPROV_CONF_AUDIT_KEY, keyfile, NULL};
    const char *s2[] = {ENVPROV_CONF_AUDIT_LOG, sb, ENVPROV_CONF_AUDIT_KEY, keyfile, NULL};
    const char *s3[] = {ENVPROV_CONF_AUDIT_LOG, sc, NULL};
    const char *const *all[] = {s1, s2, s3};
    for (int i = 0; i < 3; i++) {
        fixture f;
        setup_fx(&f, all[i]);
        assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
        events(&f, 1, "tenant=acme");
        teardown_fx(&f);
    }
    char ca[64], cb[64], cc[64], ka[64], kb[64], kc[64];
    first_member(a, "ctx", ca, sizeof(ca));
    first_member(b, "ctx", cb, sizeof(cb));
    first_member(c, "ctx", cc, sizeof(cc));
    first_member(a, "ctx_key", ka, sizeof(ka));
    first_member(b, "ctx_key", kb, sizeof(kb));
    first_member(c, "ctx_key", kc, sizeof(kc));
    assert_string_equal(ca, cb);
    assert_string_equal(ka, kb);
    assert_string_not_equal(ca, cc);
    assert_string_not_equal(ka, kc);
    assert_int_equal(chmod(keyfile, 0640), 0);
    fixture f;
    setup_fx(&f, s1);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_BAD_CONFIG);
    ERR_clear_error();
    teardown_fx(&f);
}

/* audit-overflow = drop: a burst larger than the ring is counted in a
 * "dropped" line, and the chain still holds. */
static void test_drop_counted(void **state)
{
    (void)state;
    char path[300], setting[320];
    snprintf(path, sizeof(path), "%s/drop.log", dir);
    unlink(path);
    snprintf(setting, sizeof(setting), "file:%s", path);
    const char *s[] = {ENVPROV_CONF_AUDIT_LOG,
                       setting,
                       ENVPROV_CONF_AUDIT_OVERFLOW,
                       "drop",
                       ENVPROV_CONF_AUDIT_FSYNC,
                       "every",
                       NULL};
    fixture f;
    setup_fx(&f, s);
    assert_int_equal(envprov_audit_config(&f.pc), ENVCORE_R_OK);
    events(&f, 200000, "burst=1");
    teardown_fx(&f);
    char why[512];
    uint64_t n;
    assert_int_equal(verify_file(path, &n, why, sizeof(why)), 0);
    size_t len;
    char *all = read_all(path, &len);
    uint64_t dropped = 0;
    static const char key[] = "\"op\":\"dropped\",\"count\":";
    for (char *p = all; (p = strstr(p, key)) != NULL; p++)
        dropped += strtoull(p + strlen(key), NULL, 10);
    uint64_t lines_dropped = 0;
    for (char *p = all; (p = strstr(p, "\"op\":\"dropped\"")) != NULL; p++)
        lines_dropped++;
    /* every event is a line or counted as dropped */
    assert_int_equal(n - lines_dropped + dropped, 200000);
    free(all);
}

int main(void)
{
    assert_non_null(mkdtemp(dir));
    snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
    snprintf(logsetting, sizeof(logsetting), "file:%s", logpath);
    file_settings[0] = ENVPROV_CONF_AUDIT_LOG;
    file_settings[1] = logsetting;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_chain),     cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_torn_then_new_chain), cmocka_unit_test(test_fork),
        cmocka_unit_test(test_hostile_and_secrets), cmocka_unit_test(test_sink_failure),
        cmocka_unit_test(test_drop_counted),        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_audit_key),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        r = r ? r : 1;
    return r;
}
