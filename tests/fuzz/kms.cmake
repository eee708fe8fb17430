# fuzz_ttlv: libFuzzer target for the KMIP TTLV decoder and response parsers.
# Built only with ENVELOPE_WITH_FUZZ (clang); seeds in tests/fuzz/corpus/ttlv/.
# The parser sources are compiled into the target itself so that libFuzzer's
# coverage instrumentation reaches them (the static core library is not
# instrumented).
if(TARGET envelope_kms_core)
  find_package(Threads REQUIRED)
  set(KMS_SRC ${CMAKE_SOURCE_DIR}/kms-bridge)
  add_executable(fuzz_ttlv ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_ttlv.c
    ${KMS_SRC}/ttlv.c ${KMS_SRC}/kmip_resp.c ${KMS_SRC}/kmip_req.c ${KMS_SRC}/kms_log.c
    ${KMS_SRC}/kms_text.c)
  target_include_directories(fuzz_ttlv PRIVATE ${KMS_SRC})
  envelope_fuzz_target(fuzz_ttlv kms)
  target_link_libraries(fuzz_ttlv PRIVATE envelope_core PkgConfig::OPENSSL Threads::Threads envelope_warnings)
endif()

# fuzz_aws_json: the credential and KMS answers of the AWS path (seeds in
# tests/fuzz/corpus/aws_json/).
if(TARGET envelope_kms_core)
  add_executable(fuzz_aws_json ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_aws_json.c
    ${KMS_SRC}/aws_json.c ${KMS_SRC}/aws_creds.c ${KMS_SRC}/aws_creds_remote.c
    ${KMS_SRC}/aws_str.c ${KMS_SRC}/aws_http.c ${KMS_SRC}/aws_kms.c)
  target_include_directories(fuzz_aws_json PRIVATE ${KMS_SRC})
  envelope_fuzz_target(fuzz_aws_json kms)
  target_link_libraries(fuzz_aws_json PRIVATE envelope_kms_core envelope_core PkgConfig::OPENSSL PkgConfig::CURL
    PkgConfig::JSONC Threads::Threads envelope_warnings)
endif()

# fuzz_kms_config: the bridge's config file (kms_config.c, aws_config.c);
# fuzz_aws_creds_file: the AWS shared credentials and config files.
if(TARGET envelope_kms_core)
  add_executable(fuzz_kms_config ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_kms_config.c
    ${KMS_SRC}/kms_config.c ${KMS_SRC}/aws_config.c)
  add_executable(fuzz_aws_creds_file ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_aws_creds_file.c
    ${KMS_SRC}/aws_creds.c)
  foreach(t fuzz_kms_config fuzz_aws_creds_file)
    target_include_directories(${t} PRIVATE ${KMS_SRC})
    target_link_libraries(${t} PRIVATE envelope_kms_core envelope_core PkgConfig::OPENSSL
      PkgConfig::CURL PkgConfig::JSONC Threads::Threads envelope_warnings)
    envelope_fuzz_target(${t} kms)
  endforeach()
endif()
