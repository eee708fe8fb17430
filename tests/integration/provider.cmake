# Provider integration tests: real SoftHSM2, real openssl and pkcs11-tool.
add_executable(provider_evp ${CMAKE_CURRENT_LIST_DIR}/provider_evp.c)
target_include_directories(provider_evp PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(provider_evp PRIVATE PkgConfig::OPENSSL envelope_warnings pthread)

set(provider_cases providers-list cms-oaep cms-default cms-v15-refused pkeyutl-aes pkeyutl-rsa
  interop extractable wrong-pin seal-open-refused evp-kem-aes evp-kem-rsa evp-seal-open
  evp-not-found evp-token-absent evp-bad-uri evp-fork evp-threads evp-default-unchanged
  evp-teardown)
foreach(c ${provider_cases})
  add_test(NAME provider.${c} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_test.sh ${c})
  set_tests_properties(provider.${c} PROPERTIES
    ENVIRONMENT "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>;ENV_EVP_BIN=$<TARGET_FILE:provider_evp>;${ENVELOPE_TEST_ENV}"
    TIMEOUT 600)
endforeach()
