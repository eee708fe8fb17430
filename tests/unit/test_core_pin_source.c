/* Unit tests for core/pin_source.c: secrets from pin sources, and their
 * fingerprints. */
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
#include <openssl/err.h>
#include <openssl/evp.h>

#include "errors.h"
#include "pin_source.h"
#include "secmem.h"

static char dir[] = "/tmp/envelope-pin.XXXXXX";

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void write_file(const char *name, const char *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
}

static int reason_of_last(void)
{
    int r = ERR_GET_REASON(ERR_peek_last_error());
    ERR_clear_error();
    return r;
}

static void file_source(void **state)
{
    char src[300], *pin = NULL;
    size_t len = 0;
    write_file("pin1", "1234\n", 5);
    snprintf(src, sizeof(src), "file:%s/pin1", dir);
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len), ENVCORE_R_OK);
    assert_string_equal(pin, "1234"); /* one trailing newline removed */
    assert_int_equal(len, 4);
    envelope_secmem_free(pin);
    snprintf(src, sizeof(src), "%s/pin1", dir); /* bare absolute path */
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len), ENVCORE_R_OK);
    envelope_secmem_free(pin);
}

static void env_source(void **state)
{
    char *pin = NULL;
    size_t len = 0;
    setenv("ENVELOPE_TEST_PIN", "s3cret", 1);
    assert_int_equal(envcore_pin_read("env:ENVELOPE_TEST_PIN", "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_OK);
    assert_string_equal(pin, "s3cret");
    envelope_secmem_free(pin);
    unsetenv("ENVELOPE_TEST_PIN");
    assert_int_equal(envcore_pin_read("env:ENVELOPE_TEST_PIN", "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_PIN_MISSING);
    assert_null(pin);
    assert_int_equal(reason_of_last(), ENVCORE_R_PIN_MISSING);
}

static void bad_sources(void **state)
{
    char src[300], *pin = NULL;
    size_t len = 0;
    snprintf(src, sizeof(src), "file:%s/none", dir);
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_PIN_MISSING);
    char big[ENVCORE_MAX_PIN + 10];
    memset(big, '7', sizeof(big));
    write_file("big", big, sizeof(big));
    snprintf(src, sizeof(src), "file:%s/big", dir);
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_PIN_MISSING);
    assert_int_equal(envcore_pin_read("http://example/pin", "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_BAD_CONFIG);
    assert_null(pin);
    /* a NUL inside a PIN would cut it short: refused; a TPM auth value may be binary */
    write_file("nul",
               "12\0"
               "34",
               5);
    snprintf(src, sizeof(src), "file:%s/nul", dir);
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_PIN_MISSING);
    assert_int_equal(envcore_pin_read(src, "TPM auth value", 0, &pin, &len), ENVCORE_R_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(pin,
                        "12\0"
                        "34",
                        5);
    envelope_secmem_free(pin);
    ERR_clear_error();
}

/* A PIN file group or others can reach is refused, naming the fix; so is
 * what is not a file. */
static void private_files_only(void **state)
{
    char src[320], path[300], *pin = NULL;
    size_t len = 0;
    write_file("pin-open", "1234", 4);
    snprintf(path, sizeof(path), "%s/pin-open", dir);
    snprintf(src, sizeof(src), "file:%s", path);
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                         ENVCORE_R_PIN_MISSING);
        assert_null(pin);
        const char *data = NULL;
        int flags = 0;
        ERR_peek_last_error_data(&data, &flags);
        assert_non_null(strstr(data, "chmod 600"));
        assert_non_null(strstr(data, path));
        assert_int_equal(reason_of_last(), ENVCORE_R_PIN_MISSING);
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len), ENVCORE_R_OK);
    assert_string_equal(pin, "1234");
    envelope_secmem_free(pin);
    snprintf(src, sizeof(src), "file:%s", dir); /* a directory */
    assert_int_equal(envcore_pin_read(src, "PIN", ENVCORE_PIN_TEXT, &pin, &len),
                     ENVCORE_R_PIN_MISSING);
    assert_int_equal(reason_of_last(), ENVCORE_R_PIN_MISSING);
}

static void fingerprints(void **state)
{
    unsigned char a[32], b[32], c[32], plain[32];
    unsigned int n = 0;
    assert_true(envcore_secret_fingerprint("1234", 4, a));
    assert_true(envcore_secret_fingerprint("1234", 4, b));
    assert_true(envcore_secret_fingerprint("1235", 4, c));
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    /* keyed: not the unsalted SHA-256 a heap or core dump would reveal */
    assert_true(EVP_Digest("1234", 4, plain, &n, EVP_sha256(), NULL));
    assert_memory_not_equal(a, plain, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_source),  cmocka_unit_test(env_source),
        cmocka_unit_test(bad_sources),  cmocka_unit_test(private_files_only),
        cmocka_unit_test(fingerprints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
