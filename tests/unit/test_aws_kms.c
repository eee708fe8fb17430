/*
 * test_aws_kms.c - aws_kms.h without a server: which service errors are
 * retried, and the category each error type maps to (the provider's exit
 * codes follow from these: docs/KMS-BRIDGE.md "AWS KMS errors").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aws_kms.h"

static void test_mapping(void **state)
{
    (void)state;
    assert_int_equal(aws_kms_status_of(400, "AccessDeniedException"), AWS_E_ACCESS);
    assert_int_equal(aws_kms_status_of(403, ""), AWS_E_ACCESS);
    assert_int_equal(aws_kms_status_of(400, "NotFoundException"), AWS_E_NOT_FOUND);
    assert_int_equal(aws_kms_status_of(400, "DisabledException"), AWS_E_KEY_STATE);
    assert_int_equal(aws_kms_status_of(400, "KMSInvalidStateException"), AWS_E_KEY_STATE);
    assert_int_equal(aws_kms_status_of(400, "InvalidCiphertextException"), AWS_E_AUTH);
    assert_int_equal(aws_kms_status_of(400, "IncorrectKeyException"), AWS_E_AUTH);
    assert_int_equal(aws_kms_status_of(400, "ThrottlingException"), AWS_E_UNAVAILABLE);
    assert_int_equal(aws_kms_status_of(500, "KMSInternalException"), AWS_E_UNAVAILABLE);
    assert_int_equal(aws_kms_status_of(503, ""), AWS_E_UNAVAILABLE);
    assert_int_equal(aws_kms_status_of(400, "UnrecognizedClientException"), AWS_E_CREDENTIALS);
    assert_int_equal(aws_kms_status_of(400, "ValidationException"), AWS_E_INPUT);
    assert_int_equal(aws_kms_status_of(400, "SomethingNew"), AWS_E_PROTOCOL);
    assert_true(aws_kms_retryable(400, "ThrottlingException"));
    assert_true(aws_kms_retryable(429, ""));
    assert_true(aws_kms_retryable(502, ""));
    assert_false(aws_kms_retryable(400, "AccessDeniedException"));
    assert_false(aws_kms_retryable(400, "InvalidCiphertextException"));
    assert_string_equal(aws_status_name(AWS_E_ACCESS), "access denied");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mapping)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
