/* Unit tests for hsm/hsm_pin.c: reading PINs from pin sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "hsm_internal.h"
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
    write_file("pin1", "1234\n", 5);
    snprintf(src, sizeof(src), "file:%s/pin1", dir);
    assert_int_equal(hsm_pin_read(src, &pin), ENVPROV_R_OK);
    assert_string_equal(pin, "1234"); /* one trailing newline removed */
    envelope_secmem_free(pin);
    snprintf(src, sizeof(src), "%s/pin1", dir); /* bare absolute path */
    assert_int_equal(hsm_pin_read(src, &pin), ENVPROV_R_OK);
    envelope_secmem_free(pin);
}

static void env_source(void **state)
{
    char *pin = NULL;
    setenv("ENVELOPE_TEST_PIN", "s3cret", 1);
    assert_int_equal(hsm_pin_read("env:ENVELOPE_TEST_PIN", &pin), ENVPROV_R_OK);
    assert_string_equal(pin, "s3cret");
    envelope_secmem_free(pin);
    unsetenv("ENVELOPE_TEST_PIN");
    assert_int_equal(hsm_pin_read("env:ENVELOPE_TEST_PIN", &pin), ENVPROV_R_PIN_MISSING);
    assert_null(pin);
    assert_int_equal(reason_of_last(), ENVPROV_R_PIN_MISSING);
}

static void bad_sources(void **state)
{
    char src[300], *pin = NULL;
    snprintf(src, sizeof(src), "file:%s/none", dir);
    assert_int_equal(hsm_pin_read(src, &pin), ENVPROV_R_PIN_MISSING);
    char big[HSM_MAX_PIN + 10];
    memset(big, '7', sizeof(big));
    write_file("big", big, sizeof(big));
    snprintf(src, sizeof(src), "file:%s/big", dir);
    assert_int_equal(hsm_pin_read(src, &pin), ENVPROV_R_PIN_MISSING);
    assert_int_equal(hsm_pin_read("http://example/pin", &pin), ENVPROV_R_BAD_CONFIG);
    assert_null(pin);
    ERR_clear_error();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_source),
        cmocka_unit_test(env_source),
        cmocka_unit_test(bad_sources),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
