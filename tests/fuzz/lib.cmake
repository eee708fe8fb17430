# libFuzzer target for the envelope header parser. Built only with
# ENVELOPE_WITH_FUZZ=ON (clang); scripts/test.sh runs it for a bounded time
# with the seeds in tests/fuzz/corpus/header/. The library sources are
# compiled into the target so that libFuzzer's coverage sees them.
if(TARGET envelope_lib_objects)
  get_target_property(_lib_srcs envelope_lib_objects SOURCES)
  list(TRANSFORM _lib_srcs PREPEND ${PROJECT_SOURCE_DIR}/lib/)
  add_executable(fuzz_header ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_header.c ${_lib_srcs}
    ${PROJECT_SOURCE_DIR}/core/uri_match.c)
  target_include_directories(fuzz_header PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_SOURCE_DIR}/core)
  target_link_libraries(fuzz_header PRIVATE envelope_secmem PkgConfig::OPENSSL envelope_warnings)
  envelope_fuzz_target(fuzz_header lib)
endif()

# fuzz_decrypt_stream: whole messages through the streaming decryptor (in
# chunk sizes the input picks) and envelope_open, checked against an oracle.
# The DEKs of tests/vectors/ are learnt at start with the real KEKs; ld's
# --wrap answers env_unwrap_header from them (fuzz_decrypt_stream.c says why).
if(TARGET envelope_lib_objects)
  add_executable(fuzz_decrypt_stream ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_decrypt_stream.c ${_lib_srcs}
    ${PROJECT_SOURCE_DIR}/core/uri_match.c)
  target_include_directories(fuzz_decrypt_stream PRIVATE ${PROJECT_SOURCE_DIR}/lib
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/core)
  target_compile_definitions(fuzz_decrypt_stream PRIVATE
    ENVELOPE_FUZZ_VECTORS="${ENVELOPE_TEST_ROOT}/vectors")
  target_link_libraries(fuzz_decrypt_stream PRIVATE envelope_secmem PkgConfig::OPENSSL envelope_warnings)
  envelope_fuzz_target(fuzz_decrypt_stream lib)
  target_link_options(fuzz_decrypt_stream PRIVATE -Wl,--wrap=env_unwrap_header)
endif()

# fuzz_pkcs11_uri: lib/uri.c, core/uri_match.c and the PKCS#11 backend's URI
# parse and token list (hsm/hsm_uri.c, hsm/hsm_tokens.c) on p11-kit.
if(TARGET envelope_lib_objects AND TARGET envelope_hsm)
  add_executable(fuzz_pkcs11_uri ${ENVELOPE_TEST_ROOT}/fuzz/fuzz_pkcs11_uri.c ${_lib_srcs}
    ${PROJECT_SOURCE_DIR}/core/uri_match.c ${PROJECT_SOURCE_DIR}/hsm/hsm_uri.c
    ${PROJECT_SOURCE_DIR}/hsm/hsm_tokens.c)
  target_include_directories(fuzz_pkcs11_uri PRIVATE ${PROJECT_SOURCE_DIR}/lib
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/core ${PROJECT_SOURCE_DIR}/hsm)
  target_link_libraries(fuzz_pkcs11_uri PRIVATE envelope_hsm envelope_core envelope_secmem
    PkgConfig::P11KIT PkgConfig::OPENSSL envelope_warnings)
  envelope_fuzz_target(fuzz_pkcs11_uri hsm)
endif()

# The differential check (tests/fuzz/differential.py): libenvelope and the
# Python reference decoder agree on accept/reject for every input of the
# header and frame corpora. The C side is this driver, linked with
# libenvelope; it runs in every build.
if(TARGET envelope_static)
  add_executable(differential_driver ${ENVELOPE_TEST_ROOT}/fuzz/differential_driver.c)
  target_link_libraries(differential_driver PRIVATE envelope_static envelope_warnings)
  set_target_properties(differential_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  add_test(NAME lib.file.fuzz-differential
    COMMAND python3 ${ENVELOPE_TEST_ROOT}/fuzz/differential.py $<TARGET_FILE:differential_driver>)
  set_tests_properties(lib.file.fuzz-differential PROPERTIES LABELS "unit;lib;fuzz" TIMEOUT 300)
endif()
