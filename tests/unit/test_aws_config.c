/*
 * test_aws_config.c - `protocol = aws-kms` slots in the bridge's config
 * file (aws_config.h), next to a KMIP slot; and the credential chain's
 * local sources (environment, shared files and profiles), the metadata
 * JSON, and the holder's references (aws_creds.h, aws_refresh.h).
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

#include "aws_creds.h"
#include "aws_refresh.h"
#include "kms_config.h"
#include "secmem.h"

static char dir[256], conf[300], credfile[300], cfgfile[300];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/awsconf.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/kms.conf", dir);
    snprintf(credfile, sizeof(credfile), "%s/credentials", dir);
    snprintf(cfgfile, sizeof(cfgfile), "%s/config", dir);
    /* No source of the machine running the tests may leak in. */
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_PROFILE",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_ARN",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("AWS_SHARED_CREDENTIALS_FILE", credfile, 1);
    setenv("AWS_CONFIG_FILE", cfgfile, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf);
    unlink(credfile);
    unlink(cfgfile);
    rmdir(dir);
    return 0;
}

static void write_aws_conf(const char *extra)
{
    char text[16384];
    snprintf(text, sizeof(text),
             "slots = aws\n" /* 1 */
             "[aws]\n"       /* 2 */
             "protocol = aws-kms\n"
             "label = aws\n"
             "%s",
             extra);
    write_file(conf, text);
}

static void aws_fails(const char *extra, const char *want)
{
    kms_config cfg;
    char err[2048];
    write_aws_conf(extra);
    assert_false(kms_config_load(conf, &cfg, err, sizeof(err)));
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void test_aws_slot(void **state)
{
    (void)state;
    kms_config cfg;
    char err[2048];
    write_aws_conf("region = eu-west-1\n"
                   "keys = alias/payments , arn:aws:kms:eu-west-1:111122223333:key/"
                   "1234abcd-12ab-34cd-56ef-1234567890ab,alias/archive\n"
                   "profile = payments\n"
                   "timeout-ms = 2500\n");
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    const kms_slot_cfg *s = &cfg.slot[0];
    assert_int_equal(s->protocol, KMS_PROTO_AWS_KMS);
    assert_string_equal(s->aws.region, "eu-west-1");
    assert_string_equal(s->aws.endpoint, "https://kms.eu-west-1.amazonaws.com");
    assert_string_equal(s->aws.profile, "payments");
    assert_int_equal(s->timeout_ms, 2500);
    assert_int_equal(s->aws.n_keys, 3);
    assert_string_equal(aws_config_key(&s->aws, 0), "alias/payments");
    assert_string_equal(
        aws_config_key(&s->aws, 1),
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_string_equal(aws_config_key(&s->aws, 2), "alias/archive");

    write_aws_conf("region = us-east-1\nendpoint = https://kms-fips.us-east-1.amazonaws.com/\n");
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    assert_string_equal(cfg.slot[0].aws.endpoint, "https://kms-fips.us-east-1.amazonaws.com");
    assert_int_equal(cfg.slot[0].aws.n_keys, 0); /* ListAliases */
    write_aws_conf("region = us-east-1\nendpoint = http://127.0.0.1:8443\n");
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
    write_aws_conf("region = us-east-1\nendpoint = https://[::1]:8443\n");
    assert_true(kms_config_load(conf, &cfg, err, sizeof(err)));
}

static void test_aws_refusals(void **state)
{
    (void)state;
    aws_fails("", "missing key \"region\"");
    aws_fails("region = EU_WEST\n", "is not an AWS region name");
    aws_fails("region = eu-west-1.evil.com\n", "is not an AWS region name");
    aws_fails("region = eu-west-1\nendpoint = ftp://x\n", "is not an https:// URL");
    aws_fails("region = eu-west-1\nendpoint = http://kms.example.com\n",
              "plain http:// only to a loopback");
    aws_fails("region = eu-west-1\nendpoint = https://kms.example.com/path\n", "no path");
    aws_fails("region = eu-west-1\nendpoint = https://user@kms.example.com\n", "no path");
    aws_fails("region = eu-west-1\nkeys = alias/a b\n", "is not a KMS key id");
    aws_fails("region = eu-west-1\nkeys = ,\n", "no key given");
    aws_fails("region = eu-west-1\ncert-file = /x\n", "unknown key for protocol aws-kms");
    aws_fails("region = eu-west-1\ntimeout-ms = 0\n", "1..600000");
    aws_fails("region = eu-west-1\nca-file = /nonexistent/ca.pem\n", "cannot open");
    /* the error names the file, line, section and key */
    aws_fails("region = eu-west-1\nendpoint = ftp://x\n", "line 6: [aws] endpoint");
    write_file(conf, "slots = s\n[s]\nprotocol = smtp\nlabel = s\n");
    kms_config cfg;
    char err[2048];
    assert_false(kms_config_load(conf, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a protocol (kmip or aws-kms)"));
}

/* ---- credentials ---- */

static void test_env(void **state)
{
    (void)state;
    aws_creds *c = NULL;
    char err[512];
    assert_int_equal(aws_creds_from_env(&c, err, sizeof(err)), 0);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    assert_int_equal(aws_creds_from_env(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "must be set together"));
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_int_equal(aws_creds_from_env(&c, err, sizeof(err)), 1);
    assert_string_equal(c->access_key_id, "AKIDEXAMPLE");
    assert_string_equal(c->session_token, "tok");
    assert_true(envelope_secmem_locked(c->secret_access_key));
    assert_true(envelope_secmem_locked(c->session_token));
    aws_creds_free(c);
    setenv("AWS_ACCESS_KEY_ID", "AKID\r\nX-Evil: 1", 1); /* would inject a header */
    assert_int_equal(aws_creds_from_env(&c, err, sizeof(err)), -1);
    assert_null(strstr(err, "wJalr"));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static void test_files(void **state)
{
    (void)state;
    aws_creds *c = NULL;
    char err[512];
    aws_chain_opts o = {NULL, "eu-west-1", NULL, 1000};
    unlink(credfile);
    unlink(cfgfile);
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), 0); /* no files */
    write_file(credfile, "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
                         "aws_secret_access_key = c2VjcmV0ZGVmYXVsdA==\n\n"
                         "[payments]\n  aws_access_key_id=AKIDPAY\naws_secret_access_key=s/p+q\n"
                         "aws_session_token = paytoken\n"
                         "[half]\naws_access_key_id = AKIDHALF\n");
    write_file(cfgfile, "[default]\nregion = eu-west-1\n[profile cfgonly]\n"
                        "aws_access_key_id = AKIDCFG\naws_secret_access_key = cfgsecret\n"
                        "[cfgonly]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = x\n");
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), 1);
    assert_string_equal(c->access_key_id, "AKIDDEFAULT");
    assert_null(c->session_token);
    aws_creds_free(c);
    setenv("AWS_PROFILE", "payments", 1);
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), 1);
    assert_string_equal(c->access_key_id, "AKIDPAY");
    assert_string_equal(c->secret_access_key, "s/p+q");
    assert_string_equal(c->session_token, "paytoken");
    aws_creds_free(c);
    o.profile = "cfgonly"; /* the slot's profile wins over AWS_PROFILE */
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), 1);
    assert_string_equal(c->access_key_id, "AKIDCFG"); /* [profile cfgonly], not [cfgonly] */
    aws_creds_free(c);
    o.profile = "half";
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "only one of"));
    o.profile = "nosuch";
    assert_int_equal(aws_creds_from_files(&o, &c, err, sizeof(err)), 0);
    unsetenv("AWS_PROFILE");

    /* the chain: the environment first, then the files */
    o.profile = NULL;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    c = aws_chain_resolve(&o, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->source, AWS_SRC_ENV);
    aws_creds_free(c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    c = aws_chain_resolve(&o, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->source, AWS_SRC_FILES);
    aws_creds_free(c);
    o.profile = "nosuch";
    assert_null(aws_chain_resolve(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "no AWS credentials"));
}

static void test_json(void **state)
{
    (void)state;
    char err[512];
    const char ok[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":"
                      "\"sek\",\"Token\":\"tok\",\"Expiration\":\"2030-01-02T03:04:05Z\"}";
    aws_creds *c = aws_creds_from_json(ok, strlen(ok), AWS_SRC_IMDS, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->expires, 1893553445);
    aws_creds_free(c);
    const char bad[] = "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}";
    assert_null(aws_creds_from_json(bad, strlen(bad), AWS_SRC_IMDS, err, sizeof(err)));
    assert_non_null(strstr(err, "Failure"));
    const char noexp[] = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}";
    assert_null(aws_creds_from_json(noexp, strlen(noexp), AWS_SRC_CONTAINER, err, sizeof(err)));
    const char trailing[] = "{\"AccessKeyId\":\"A\"} x";
    assert_null(
        aws_creds_from_json(trailing, strlen(trailing), AWS_SRC_CONTAINER, err, sizeof(err)));
    time_t t;
    assert_true(aws_parse_iso8601("2015-08-30T12:36:00.123Z", &t));
    assert_int_equal(t, 1440938160);
    assert_true(aws_parse_iso8601("2015-08-30T12:36:00+00:00", &t));
    assert_false(aws_parse_iso8601("2015-08-30T12:36:00+02:00", &t));
    assert_false(aws_parse_iso8601("yesterday", &t));
}

static void test_holder(void **state)
{
    (void)state;
    aws_slot_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.region, sizeof(cfg.region), "eu-west-1");
    snprintf(cfg.profile, sizeof(cfg.profile), "payments");
    aws_cred_holder h;
    aws_cred_holder_init(&h, &cfg, 2000);
    char err[512];
    aws_creds *a = aws_cred_acquire(&h, 2000, err, sizeof(err));
    assert_non_null(a);
    assert_string_equal(a->access_key_id, "AKIDPAY");
    aws_creds *b = aws_cred_acquire(&h, 2000, err, sizeof(err));
    assert_ptr_equal(a, b); /* long-term keys: fetched once */
    assert_int_equal(h.fetches, 1);
    /* invalidated while a call holds it: the call keeps its copy */
    aws_cred_invalidate(&h, a);
    assert_string_equal(a->access_key_id, "AKIDPAY");
    aws_creds *c = aws_cred_acquire(&h, 2000, err, sizeof(err));
    assert_non_null(c);
    assert_ptr_not_equal(c, a);
    assert_int_equal(h.fetches, 2);
    aws_cred_release(&h, a);
    aws_cred_release(&h, b);
    aws_cred_release(&h, c);
    /* a profile that is gone: the chain's error reaches the caller */
    snprintf(cfg.profile, sizeof(cfg.profile), "nosuch");
    aws_cred_holder h2;
    aws_cred_holder_init(&h2, &cfg, 2000);
    assert_null(aws_cred_acquire(&h2, 2000, err, sizeof(err)));
    assert_non_null(strstr(err, "no AWS credentials"));
    aws_refresh_shutdown();
    aws_cred_holder_cleanup(&h);
    aws_cred_holder_cleanup(&h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_slot), cmocka_unit_test(test_aws_refusals),
        cmocka_unit_test(test_env),      cmocka_unit_test(test_files),
        cmocka_unit_test(test_json),     cmocka_unit_test(test_holder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
