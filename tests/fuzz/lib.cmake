# libFuzzer target for the envelope header parser. Built only with
# ENVELOPE_WITH_FUZZ=ON (clang); scripts/test.sh runs it for a bounded time
# with the seeds in tests/fuzz/corpus/header/. The library sources are
# compiled into the target so that libFuzzer's coverage sees them.
if(TARGET envelope_lib_objects AND ENVELOPE_WITH_FUZZ)
  get_target_property(_lib_srcs envelope_lib_objects SOURCES)
  list(TRANSFORM _lib_srcs PREPEND ${PROJECT_SOURCE_DIR}/lib/)
  add_executable(fuzz_header ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_header.c ${_lib_srcs}
    ${PROJECT_SOURCE_DIR}/core/uri_match.c)
  target_include_directories(fuzz_header PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_SOURCE_DIR}/core)
  target_link_libraries(fuzz_header PRIVATE envelope_secmem PkgConfig::OPENSSL envelope_warnings)
  target_compile_options(fuzz_header PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_header PRIVATE -fsanitize=fuzzer,address,undefined)
  set_target_properties(fuzz_header PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
endif()
