# kms-bridge unit tests (cmocka), one file per module.
foreach(t ttlv kmip config text)
  add_executable(test_kms_${t} ${ENVELOPE_TEST_ROOT}/unit/test_kms_${t}.c)
  target_link_libraries(test_kms_${t} PRIVATE envelope_kms_core PkgConfig::CMOCKA envelope_warnings)
  add_test(NAME kms.none.${t} COMMAND test_kms_${t})
  set_tests_properties(kms.none.${t} PROPERTIES LABELS "kms;unit")
endforeach()

# SigV4 against the AWS signing test suite, read in place (never copied).
set(ENVELOPE_AWS_SIGV4_VECTORS "${PROJECT_SOURCE_DIR}/../shared/vectors/aws-sigv4" CACHE PATH
  "Folder holding the AWS SigV4 signing test suite (its v4/ case folders)")
add_executable(test_aws_sigv4 ${ENVELOPE_TEST_ROOT}/unit/test_aws_sigv4.c)
target_link_libraries(test_aws_sigv4 PRIVATE envelope_kms_core PkgConfig::CMOCKA envelope_warnings)
add_test(NAME kms.none.aws-sigv4 COMMAND test_aws_sigv4 ${ENVELOPE_AWS_SIGV4_VECTORS})
set_tests_properties(kms.none.aws-sigv4 PROPERTIES LABELS "kms;unit;aws" SKIP_RETURN_CODE 77)

add_executable(test_aws_config ${ENVELOPE_TEST_ROOT}/unit/test_aws_config.c)
target_link_libraries(test_aws_config PRIVATE envelope_kms_core PkgConfig::CMOCKA envelope_warnings)
add_test(NAME kms.none.aws-config COMMAND test_aws_config)
set_tests_properties(kms.none.aws-config PROPERTIES LABELS "kms;unit;aws")

add_executable(test_aws_kms ${ENVELOPE_TEST_ROOT}/unit/test_aws_kms.c)
target_link_libraries(test_aws_kms PRIVATE envelope_kms_core PkgConfig::CMOCKA envelope_warnings)
add_test(NAME kms.none.aws-kms COMMAND test_aws_kms)
set_tests_properties(kms.none.aws-kms PROPERTIES LABELS "kms;unit;aws")
