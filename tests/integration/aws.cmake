# AWS KMS through kms-bridge: the loopback AWS test server
# (tests/integration/aws/harness.sh), checked by boto3 and driven through
# envelope-kms-pkcs11.so. Label "aws" on every test that starts the server.
add_executable(aws_probe aws/aws_probe.c)
target_include_directories(aws_probe PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(aws_probe PRIVATE PkgConfig::P11KIT ${CMAKE_DL_LIBS} envelope_warnings)
set(AWS_IT_ENV "AWS_HARNESS=${ENVELOPE_TEST_ROOT}/integration/aws/harness.sh"
  "AWS_PROBE=$<TARGET_FILE:aws_probe>" "KMS_MODULE=$<TARGET_FILE:envelope_kms_pkcs11>")
add_test(NAME kms.aws.boto3-fidelity
  COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_boto3_fidelity.sh)
set_tests_properties(kms.aws.boto3-fidelity PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
  LABELS "kms;aws;integration")
if(TARGET envelope_provider AND TARGET envelope_cli)
  list(APPEND AWS_IT_ENV "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>" "ENVELOPE_CLI=$<TARGET_FILE:envelope_cli>"
    "EDK_TOOL=${ENVELOPE_TEST_ROOT}/integration/edk_tool.py" ${ENVELOPE_TEST_ENV})
  add_test(NAME cli.aws.kek COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_cli.sh)
  set_tests_properties(cli.aws.kek PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
    LABELS "cli;kms;aws;integration")
endif()
if(TARGET envelope_provider)
  add_test(NAME kms.aws.pkcs11-tool COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_pkcs11.sh)
  set_tests_properties(kms.aws.pkcs11-tool PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
    LABELS "kms;provider;aws;integration")
endif()
if(TARGET envelope_provider AND TARGET envelope_cli)
  add_test(NAME provider.mixed.aws-and-hsm COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_mixed.sh)
  set_tests_properties(provider.mixed.aws-and-hsm PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
    LABELS "provider;kms;aws;softhsm;integration")
  add_test(NAME kms.aws.credentials COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_credentials.sh)
  set_tests_properties(kms.aws.credentials PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
    LABELS "kms;aws;integration")
endif()
if(TARGET envelope_provider AND TARGET envelope_cli AND TARGET kms_p11)
  add_test(NAME kms.mixed.kmip-and-aws COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_kmip_slots.sh)
  set_tests_properties(kms.mixed.kmip-and-aws PROPERTIES
    ENVIRONMENT "${AWS_IT_ENV};KMS_P11=$<TARGET_FILE:kms_p11>;KMS_HARNESS=${ENVELOPE_TEST_ROOT}/integration/kms/harness.sh"
    TIMEOUT 300 LABELS "kms;aws;pykmip;provider;integration")
endif()
