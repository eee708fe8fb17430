# core/: the secret allocator, pin sources and fingerprints.
add_executable(test_core_secmem ${CMAKE_CURRENT_LIST_DIR}/test_secmem.c)
target_link_libraries(test_core_secmem PRIVATE envelope_secmem PkgConfig::CMOCKA envelope_warnings)
add_test(NAME core.none.secmem COMMAND test_core_secmem)

add_executable(test_core_pin_source ${CMAKE_CURRENT_LIST_DIR}/test_core_pin_source.c)
target_link_libraries(test_core_pin_source PRIVATE envelope_core PkgConfig::CMOCKA envelope_warnings)
add_test(NAME core.none.pin-source COMMAND test_core_pin_source)

set_tests_properties(core.none.secmem core.none.pin-source PROPERTIES LABELS "core;unit")
