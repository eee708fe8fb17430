# Unit tests of provider/, hsm/ and common/ pieces that need no device.
add_executable(test_wrapblob ${CMAKE_CURRENT_LIST_DIR}/test_wrapblob.c ${PROJECT_SOURCE_DIR}/provider/wrapblob.c)
target_include_directories(test_wrapblob PRIVATE ${PROJECT_SOURCE_DIR}/provider)
target_link_libraries(test_wrapblob PRIVATE PkgConfig::CMOCKA PkgConfig::OPENSSL envelope_warnings)
add_test(NAME unit.wrapblob COMMAND test_wrapblob)

add_executable(test_secmem ${CMAKE_CURRENT_LIST_DIR}/test_secmem.c)
target_link_libraries(test_secmem PRIVATE envelope_common PkgConfig::CMOCKA envelope_warnings)
add_test(NAME unit.secmem COMMAND test_secmem)

add_executable(test_hsm_pin ${CMAKE_CURRENT_LIST_DIR}/test_hsm_pin.c
  ${PROJECT_SOURCE_DIR}/hsm/hsm_pin.c ${PROJECT_SOURCE_DIR}/provider/errors.c)
target_include_directories(test_hsm_pin PRIVATE ${PROJECT_SOURCE_DIR}/hsm ${PROJECT_SOURCE_DIR}/provider
  ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_hsm_pin PRIVATE envelope_common PkgConfig::CMOCKA PkgConfig::OPENSSL
  PkgConfig::P11KIT envelope_warnings)
add_test(NAME unit.hsm_pin COMMAND test_hsm_pin)

add_executable(test_hsm_tokens ${CMAKE_CURRENT_LIST_DIR}/test_hsm_tokens.c
  ${PROJECT_SOURCE_DIR}/hsm/hsm_tokens.c ${PROJECT_SOURCE_DIR}/hsm/hsm_pin.c
  ${PROJECT_SOURCE_DIR}/provider/errors.c)
target_include_directories(test_hsm_tokens PRIVATE ${PROJECT_SOURCE_DIR}/hsm ${PROJECT_SOURCE_DIR}/provider
  ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_hsm_tokens PRIVATE envelope_common PkgConfig::CMOCKA PkgConfig::OPENSSL
  PkgConfig::P11KIT envelope_warnings)
add_test(NAME unit.hsm_tokens COMMAND test_hsm_tokens)
