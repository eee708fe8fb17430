# AWS KMS through kms-bridge: the loopback AWS test server
# (tests/integration/aws/harness.sh), checked by boto3 and driven through
# envelope-kms-pkcs11.so. Label "aws" on every test that starts the server.
set(AWS_IT_ENV "AWS_HARNESS=${ENVELOPE_TEST_ROOT}/integration/aws/harness.sh")
add_test(NAME kms.aws.boto3-fidelity
  COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/aws_boto3_fidelity.sh)
set_tests_properties(kms.aws.boto3-fidelity PROPERTIES ENVIRONMENT "${AWS_IT_ENV}" TIMEOUT 300
  LABELS "kms;aws;integration")
if(TARGET envelope_provider AND TARGET envelope_cli)
  list(APPEND AWS_IT_ENV "KMS_MODULE=$<TARGET_FILE:envelope_kms_pkcs11>"
    "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>" "ENVELOPE_CLI=$<TARGET_FILE:envelope_cli>"
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
