/* Unit tests for core/secmem.c: the secret allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "secmem.h"

static void alloc_is_zeroed_and_usable(void **state)
{
    unsigned char *p = envelope_secmem_alloc(100);
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0x41, 100);
    envelope_secmem_free(p);
    envelope_secmem_free(NULL); /* NULL-safe */
}

static void locked_when_rlimit_allows(void **state)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
    void *p = envelope_secmem_alloc(32);
    assert_non_null(p);
    if (rl.rlim_cur >= 65536)
        assert_true(envelope_secmem_locked(p));
    envelope_secmem_free(p);
}

static void refuses_zero_and_huge(void **state)
{
    assert_null(envelope_secmem_alloc(0));
    assert_null(envelope_secmem_alloc(SIZE_MAX - 10));
}

static void strdup_copies(void **state)
{
    char *s = envelope_secmem_strdup("1234");
    assert_non_null(s);
    assert_string_equal(s, "1234");
    envelope_secmem_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_is_zeroed_and_usable),
        cmocka_unit_test(locked_when_rlimit_allows),
        cmocka_unit_test(refuses_zero_and_huge),
        cmocka_unit_test(strdup_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
