# Provider integration tests: real SoftHSM2, real openssl and pkcs11-tool.
add_executable(provider_evp ${CMAKE_CURRENT_LIST_DIR}/provider_evp.c
  ${CMAKE_CURRENT_LIST_DIR}/register_engines.c)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/register_engines.c PROPERTIES
  COMPILE_OPTIONS "-UOPENSSL_NO_DEPRECATED;-UOPENSSL_API_COMPAT;-Wno-deprecated-declarations")
target_include_directories(provider_evp PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(provider_evp PRIVATE PkgConfig::OPENSSL envelope_warnings pthread)
# Key comparisons (EVP_PKEY_eq, X509_check_private_key) and their error queue.
add_executable(provider_pkey ${CMAKE_CURRENT_LIST_DIR}/provider_pkey.c)
target_link_libraries(provider_pkey PRIVATE PkgConfig::OPENSSL envelope_warnings)

set(provider_cases providers-list cms-oaep cms-default cms-v15-refused pkeyutl-aes pkeyutl-rsa
  interop extractable wrong-pin seal-open-refused evp-kem-aes evp-kem-rsa evp-aead-aes evp-aead-rsa evp-seal-open
  evp-not-found evp-token-absent evp-bad-uri evp-fork evp-threads evp-default-unchanged
  evp-teardown coexist-tpm2-openssl coexist-libp11-engine order-warning uri-pin conf-examples
  pkey-export-refused pkey-aes-kek pkey-eq uri-attributes)
foreach(c ${provider_cases})
  # every case's KEKs are SoftHSM2's; coexist-tpm2-openssl also starts a
  # swtpm for tpm2-openssl (labels name every component a test starts)
  set(_labels "provider;softhsm;integration")
  if(c MATCHES "^coexist-tpm2")
    set(_labels "provider;softhsm;swtpm;integration")
  endif()
  add_test(NAME provider.softhsm.${c} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_test.sh ${c})
  set_tests_properties(provider.softhsm.${c} PROPERTIES LABELS "${_labels}"
    ENVIRONMENT "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>;ENV_EVP_BIN=$<TARGET_FILE:provider_evp>;ENV_PKEY_BIN=$<TARGET_FILE:provider_pkey>;${ENVELOPE_TEST_ENV}"
    TIMEOUT 600)
endforeach()

# FAULT INJECTOR (tests/fault/p11_fault.c): a PKCS#11 module in front of
# SoftHSM2 that fails the Nth call or changes how GCM IVs come back.
add_library(p11_fault MODULE ${ENVELOPE_TEST_ROOT}/fault/p11_fault.c)
set_target_properties(p11_fault PROPERTIES PREFIX "")
target_link_libraries(p11_fault PRIVATE PkgConfig::P11KIT PkgConfig::OPENSSL envelope_warnings ${CMAKE_DL_LIBS})
set(fault_cases iv-token iv-appended session-lost login-lost module-lost device-error device-error-persistent token-removed
  token-swapped)
foreach(c ${fault_cases})
  add_test(NAME provider.softhsm.fault-${c} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_fault.sh ${c})
  set_tests_properties(provider.softhsm.fault-${c} PROPERTIES LABELS "provider;softhsm;integration"
    ENVIRONMENT "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>;ENV_EVP_BIN=$<TARGET_FILE:provider_evp>;ENV_FAULT_MODULE=$<TARGET_FILE:p11_fault>;${ENVELOPE_TEST_ENV}"
    TIMEOUT 300)
endforeach()

# DEK reuse through the KEM's encapsulate, on a real SoftHSM2 token.
add_executable(provider_kem_reuse ${CMAKE_CURRENT_LIST_DIR}/provider_kem_reuse.c)
target_include_directories(provider_kem_reuse PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(provider_kem_reuse PRIVATE PkgConfig::OPENSSL envelope_warnings)
add_test(NAME provider.softhsm.kem-reuse COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_kem_reuse.sh
         $<TARGET_FILE:provider_kem_reuse> $<TARGET_FILE_DIR:envelope_provider>)
set_tests_properties(provider.softhsm.kem-reuse PROPERTIES TIMEOUT 120
  LABELS "provider;softhsm;integration" ENVIRONMENT "${ENVELOPE_TEST_ENV}")

# The unwrap cache through EVP on a real SoftHSM2 token, counted by the
# provider's counters and by the PKCS#11 debug log.
add_executable(provider_cache ${CMAKE_CURRENT_LIST_DIR}/provider_cache.c)
target_include_directories(provider_cache PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(provider_cache PRIVATE PkgConfig::OPENSSL envelope_warnings pthread)
add_test(NAME provider.softhsm.cache COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_cache.sh
         $<TARGET_FILE:provider_cache> $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
set_tests_properties(provider.softhsm.cache PROPERTIES LABELS "provider;softhsm;integration"
  ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 600)

# Wraps under an AES-GCM KEK counted on the token (hsm/hsm_wrapcount.c).
add_test(NAME hsm.softhsm.wrap-count COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/hsm_wrap_count.sh
         $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
set_tests_properties(hsm.softhsm.wrap-count PROPERTIES LABELS "hsm;softhsm;integration"
  ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 300)

# fork() from a thread while four others are inside C_Decrypt (the child
# must not inherit a lock held mid-call: hsm/hsm_fork.c).
add_executable(provider_fork_busy ${CMAKE_CURRENT_LIST_DIR}/provider_fork_busy.c)
target_link_libraries(provider_fork_busy PRIVATE PkgConfig::OPENSSL envelope_warnings pthread)
add_test(NAME provider.softhsm.fault-fork-busy COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_fork_busy.sh
         $<TARGET_FILE:provider_fork_busy> $<TARGET_FILE_DIR:envelope_provider>)
set_tests_properties(provider.softhsm.fault-fork-busy PROPERTIES LABELS "provider;softhsm;integration"
  ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 900)

# provider.mixed.stress: 8 threads of mixed operations on SoftHSM2, swtpm
# and PyKMIP at once, and forks (provider_stress.c); the TSan build runs it
# too (scripts/test.sh), scripts/stress.sh at full size.
if(TARGET envelope_kms_pkcs11 AND TARGET envelope_tpm AND TARGET envelope_cli)
  add_executable(provider_stress ${CMAKE_CURRENT_LIST_DIR}/provider_stress.c)
  target_include_directories(provider_stress PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(provider_stress PRIVATE envelope PkgConfig::OPENSSL envelope_warnings pthread)
  add_test(NAME provider.mixed.stress COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_stress.sh
           $<TARGET_FILE:provider_stress>)
  set_tests_properties(provider.mixed.stress PROPERTIES TIMEOUT 1800
    LABELS "provider;softhsm;swtpm;pykmip;kms;integration;stress"
    ENVIRONMENT "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>;ENVELOPE_CLI=$<TARGET_FILE:envelope_cli>;KMS_MODULE=$<TARGET_FILE:envelope_kms_pkcs11>;KMS_P11=$<TARGET_FILE:kms_p11>;KMS_HARNESS=${ENVELOPE_TEST_ROOT}/integration/kms/harness.sh;${ENVELOPE_TEST_ENV}")
endif()

# The audit trail and unwrap-rate alarms on a real SoftHSM2 token
# (provider_audit.sh; docs/AUDIT.md): every operation kind's line, the DEK
# and PIN scan, 4 processes x 1000 unwraps, tampering found by `audit
# verify`, alarms within a process and across 20 processes, a broken sink.
add_executable(provider_audit ${CMAKE_CURRENT_LIST_DIR}/provider_audit.c)
target_include_directories(provider_audit PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(provider_audit PRIVATE PkgConfig::OPENSSL envelope_warnings)
foreach(c audit alarm)
  add_test(NAME provider.softhsm.${c} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_audit.sh ${c}
           $<TARGET_FILE:provider_audit> $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(provider.softhsm.${c} PROPERTIES LABELS "provider;softhsm;integration"
    ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 600)
endforeach()
# `envelope audit verify|summary` on the lines those programs wrote
add_test(NAME cli.softhsm.audit COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/provider_audit.sh cli
         $<TARGET_FILE:provider_audit> $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
set_tests_properties(cli.softhsm.audit PROPERTIES LABELS "cli;softhsm;integration"
  ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 600)
