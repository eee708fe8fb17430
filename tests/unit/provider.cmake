# provider/ pieces that need no device.
add_executable(test_wrapblob ${CMAKE_CURRENT_LIST_DIR}/test_wrapblob.c ${PROJECT_SOURCE_DIR}/provider/wrapblob.c)
target_include_directories(test_wrapblob PRIVATE ${PROJECT_SOURCE_DIR}/provider)
target_link_libraries(test_wrapblob PRIVATE envelope_core PkgConfig::CMOCKA envelope_warnings)
add_test(NAME provider.none.wrapblob COMMAND test_wrapblob)
set_tests_properties(provider.none.wrapblob PROPERTIES LABELS "provider;unit")

# the EC wrap (ECDH + HKDF + AES-GCM to a device-held P-256 key), with a
# counting software stand-in for the device's ZGen
add_executable(test_ec_wrap ${CMAKE_CURRENT_LIST_DIR}/test_ec_wrap.c
  ${PROJECT_SOURCE_DIR}/provider/ec_wrap.c ${PROJECT_SOURCE_DIR}/provider/wrapblob.c)
target_include_directories(test_ec_wrap PRIVATE ${PROJECT_SOURCE_DIR}/provider)
target_link_libraries(test_ec_wrap PRIVATE envelope_core envelope_test_err PkgConfig::CMOCKA
  envelope_warnings)
add_test(NAME provider.none.ec-wrap COMMAND test_ec_wrap)
set_tests_properties(provider.none.ec-wrap PROPERTIES LABELS "provider;unit")

# the unwrap cache, with a stand-in job (counted, held back, failing) and a
# clock the test moves
add_executable(test_dek_cache ${CMAKE_CURRENT_LIST_DIR}/test_dek_cache.c
  ${PROJECT_SOURCE_DIR}/provider/dek_cache.c ${PROJECT_SOURCE_DIR}/provider/dek_cache_api.c)
target_include_directories(test_dek_cache PRIVATE ${PROJECT_SOURCE_DIR}/provider)
target_link_libraries(test_dek_cache PRIVATE envelope_core PkgConfig::CMOCKA envelope_warnings
  pthread)
add_test(NAME provider.none.dek-cache COMMAND test_dek_cache)
set_tests_properties(provider.none.dek-cache PROPERTIES LABELS "provider;unit" TIMEOUT 120)

# the audit trail's writer (lines, one chain across writers and a forked
# child, tampering found by the CLI's check, drops counted, a broken sink)
pkg_check_modules(JSONC_UNIT REQUIRED IMPORTED_TARGET json-c)
add_executable(test_audit_chain ${CMAKE_CURRENT_LIST_DIR}/test_audit_chain.c
  ${PROJECT_SOURCE_DIR}/provider/audit.c ${PROJECT_SOURCE_DIR}/provider/audit_line.c
  ${PROJECT_SOURCE_DIR}/provider/audit_writer.c ${PROJECT_SOURCE_DIR}/cli/audit_verify.c)
target_include_directories(test_audit_chain PRIVATE ${PROJECT_SOURCE_DIR}/provider
  ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_audit_chain PRIVATE envelope_core PkgConfig::CMOCKA PkgConfig::JSONC_UNIT
  PkgConfig::OPENSSL envelope_warnings pthread)
add_test(NAME provider.none.audit-chain COMMAND test_audit_chain)
set_tests_properties(provider.none.audit-chain PROPERTIES LABELS "provider;unit" TIMEOUT 300)
