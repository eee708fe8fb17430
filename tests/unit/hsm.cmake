# hsm/ pieces that need no token: the pkcs11-tokens binding.
add_executable(test_hsm_tokens ${CMAKE_CURRENT_LIST_DIR}/test_hsm_tokens.c)
target_link_libraries(test_hsm_tokens PRIVATE envelope_hsm PkgConfig::CMOCKA envelope_warnings)
add_test(NAME hsm.none.tokens COMMAND test_hsm_tokens)
set_tests_properties(hsm.none.tokens PROPERTIES LABELS "hsm;unit")
