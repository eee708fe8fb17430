/*
 * test_kms_config.c - the bridge's config file: keys, defaults, and errors
 * that name the file, line, section and key; key-file permission check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kms_config.h"

static char dir[256], ca[300], cert[300], key[300], conf[300];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "%s/kmsconf.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/client.pem", dir);
    snprintf(key, sizeof(key), "%s/client.key", dir);
    snprintf(conf, sizeof(conf), "%s/kms.conf", dir);
    write_file(ca, "ca\n", 0644);
    write_file(cert, "cert\n", 0644);
    write_file(key, "key\n", 0600);
    return 0;
}

static int teardown(void **state)
{
    unlink(ca);
    unlink(cert);
    unlink(key);
    unlink(conf);
    rmdir(dir);
    return 0;
}

/* Writes a config: the standard file with `extra` appended to [kms] and
 * `endpoints` substituted. */
static void write_conf(const char *endpoints, const char *extra)
{
    static char text[16384];
    snprintf(text, sizeof(text),
             "# test config\n"     /* 1 */
             "slots = kms\n"       /* 2 */
             "\n"                  /* 3 */
             "[kms]\n"             /* 4 */
             "label = kms\n"       /* 5 */
             "endpoints = %s\n"    /* 6 */
             "ca-file = %s\n"      /* 7 */
             "cert-file = %s\n"    /* 8 */
             "key-file = %s\n"     /* 9 */
             "timeout-ms = 5000\n" /* 10 */
             "%s",
             endpoints, ca, cert, key, extra);
    write_file(conf, text, 0644);
}

static void load_fails(const char *want1, const char *want2)
{
    kms_config cfg;
    char err[2048];
    assert_false(kms_config_load(conf, &cfg, err, sizeof(err)));
    if (strstr(err, want1) == NULL || (want2 && strstr(err, want2) == NULL))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, want1, want2 ? want2 : "");
}

static void test_valid(void **state)
{
    write_conf("127.0.0.1:5696, [::1]:5697 ,kms.example.com:15696", "pool-size = 3\n");
    kms_config cfg;
    char err[2048] = "";
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    assert_int_equal(cfg.n_slots, 1);
    const kms_slot_cfg *s = &cfg.slot[0];
    assert_string_equal(s->label, "kms");
    assert_int_equal(s->n_ep, 3);
    assert_string_equal(s->ep[0].host, "127.0.0.1");
    assert_string_equal(s->ep[0].port, "5696");
    assert_string_equal(s->ep[1].host, "::1");
    assert_string_equal(s->ep[2].host, "kms.example.com");
    assert_string_equal(s->ep[2].port, "15696");
    assert_int_equal(s->timeout_ms, 5000);
    assert_int_equal(s->pool_size, 3);
    assert_int_equal(s->retries, 2); /* default */
    assert_string_equal(s->key_file, key);
}

static void test_key_file_permissions(void **state)
{
    write_conf("127.0.0.1:5696", "");
    assert_int_equal(chmod(key, 0640), 0);
    load_fails("line 9: [kms] key-file", "chmod 600");
    assert_int_equal(chmod(key, 0604), 0);
    load_fails("key-file", "group/others");
    assert_int_equal(chmod(key, 0600), 0);
    kms_config cfg;
    char err[2048];
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    assert_int_equal(chmod(key, 0400), 0);
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    assert_int_equal(chmod(key, 0600), 0);
}

static void test_bad_values_name_key_and_line(void **state)
{
    write_conf("127.0.0.1:5696", "timeout-ms = abc\n");
    load_fails("line 11: [kms] timeout-ms", "\"abc\"");
    write_conf("127.0.0.1", "");
    load_fails("line 6: [kms] endpoints", "\"127.0.0.1\"");
    write_conf("127.0.0.1:5696, ::1:5697", "");
    load_fails("[kms] endpoints", "[addr]:port");
    write_conf("127.0.0.1:0", "");
    load_fails("endpoints", NULL);
    write_conf("127.0.0.1:65536", "");
    load_fails("endpoints", NULL);
    write_conf("127.0.0.1:5696", "endpoint = 127.0.0.1:1\n");
    load_fails("line 11: [kms] endpoint", "unknown key");
    write_conf("127.0.0.1:5696", "label = a-label-that-is-longer-than-32-bytes\n");
    load_fails("line 11: [kms] label", "1..32");
    write_conf("127.0.0.1:5696", "pool-size = 0\n");
    load_fails("pool-size", NULL);

    /* An empty or over-long path names its key and line (it used to unset
     * the key silently, and the error then named neither). */
    static const char *const paths[] = {"ca-file", "cert-file", "key-file"};
    static char extra[8192], want[64];
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "line 11: [kms] %s", paths[i]);
        snprintf(extra, sizeof(extra), "%s =\n", paths[i]);
        write_conf("127.0.0.1:5696", extra);
        load_fails(want, "must be 1..4095 bytes");
        int n = snprintf(extra, sizeof(extra), "%s = /", paths[i]);
        memset(extra + n, 'a', 4095);
        snprintf(extra + n + 4095, sizeof(extra) - (size_t)n - 4095, "\n");
        write_conf("127.0.0.1:5696", extra);
        load_fails(want, "must be 1..4095 bytes");
    }
}

static void test_structure_errors(void **state)
{
    kms_config cfg;
    char err[2048];
    write_file(conf, "[kms]\nlabel = kms\n", 0644);
    load_fails("missing key \"slots\"", NULL);
    write_file(conf, "slots = nope\n", 0644);
    load_fails("no section [nope]", NULL);
    write_file(conf, "slots = kms\n[kms\nlabel = x\n", 0644);
    load_fails("line 2: syntax error", NULL);
    char text[2048];
    snprintf(
        text, sizeof(text),
        "slots = a b\n[a]\nlabel = kms\nendpoints = h:1\nca-file = %s\ncert-file = %s\nkey-file = %s\n"
        "[b]\nlabel = kms\nendpoints = h:2\nca-file = %s\ncert-file = %s\nkey-file = %s\n",
        ca, cert, key, ca, cert, key);
    write_file(conf, text, 0644);
    load_fails("line 9: [b] label", "already used by [a]");
    snprintf(text, sizeof(text),
             "slots = a\n[a]\nlabel = kms\nendpoints = h:1\nca-file = %s\nkey-file = %s\n", ca,
             key);
    write_file(conf, text, 0644);
    load_fails("[a]", "mutual TLS");
    snprintf(
        text, sizeof(text),
        "slots = a\n[a]\nlabel = kms\nendpoints = h:1\nca-file = %s/none.pem\ncert-file = %s\nkey-file = %s\n",
        dir, cert, key);
    write_file(conf, text, 0644);
    load_fails("line 5: [a] ca-file", "cannot open");
    assert_false(kms_config_load(NULL, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "ENVELOPE_KMS_CONF"));
    char missing[320];
    snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
    assert_false(kms_config_load(missing, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot read"));
}

static void test_endpoint_parser(void **state)
{
    kms_endpoint_cfg ep;
    assert_true(kms_config_parse_endpoint(" [fe80::1]:443 ", 15, &ep));
    assert_string_equal(ep.host, "fe80::1");
    assert_string_equal(ep.port, "443");
    assert_false(kms_config_parse_endpoint("[::1]", 5, &ep));
    assert_false(kms_config_parse_endpoint("[::1]x443", 9, &ep));
    assert_false(kms_config_parse_endpoint("host:", 5, &ep));
    assert_false(kms_config_parse_endpoint(":443", 4, &ep));
    assert_false(kms_config_parse_endpoint("host:44a", 8, &ep));
    assert_false(kms_config_parse_endpoint("ho st:443", 9, &ep));
    assert_false(kms_config_parse_endpoint("host:123456", 11, &ep));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_key_file_permissions),
        cmocka_unit_test(test_bad_values_name_key_and_line),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_endpoint_parser),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
