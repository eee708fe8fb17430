# libenvelope unit tests (cmocka), the known-answer vectors and their
# generator. Included from tests/unit/CMakeLists.txt.
set(_lib_units test_lib_bytes test_lib_context test_lib_header test_lib_uri test_lib_roundtrip
    test_lib_tamper test_lib_stream test_lib_vectors test_lib_idpool test_lib_rewrap test_lib_api
    test_lib_buffers test_lib_recorder test_lib_xaes test_lib_records test_lib_record_alloc
    test_lib_kek_check test_lib_threads)
foreach(t ${_lib_units})
  add_executable(${t} ${ENVELOPE_TEST_ROOT}/unit/${t}.c ${ENVELOPE_TEST_ROOT}/unit/lib_test_util.c)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/lib ${ENVELOPE_TEST_ROOT}/unit)
  target_link_libraries(${t} PRIVATE envelope_static PkgConfig::CMOCKA envelope_warnings)
  string(REPLACE "test_lib_" "" _what ${t})
  add_test(NAME lib.none.${_what} COMMAND ${t})
  set_tests_properties(lib.none.${_what} PROPERTIES
    ENVIRONMENT "ENVELOPE_VECTORS=${ENVELOPE_TEST_ROOT}/vectors;OPENSSL_CONF=/dev/null"
    LABELS "lib;unit" TIMEOUT 600)
endforeach()

# Suite 2's XAES-256-GCM against the C2SP known answers, read in place (the
# test skips, saying so, when the file is not there).
set(ENVELOPE_XAES_VECTORS "${PROJECT_SOURCE_DIR}/../shared/vectors/xaes-256-gcm/README.md"
  CACHE FILEPATH "XAES-256-GCM known answers (c2sp.org/XAES-256-GCM)")
set_property(TEST lib.none.xaes APPEND PROPERTY ENVIRONMENT
  "ENVELOPE_XAES_VECTORS=${ENVELOPE_XAES_VECTORS}")

# Simulated pid reuse: the library's getpid() calls reach the test's
# __wrap_getpid (tests/unit/test_lib_idpool.c).
target_link_options(test_lib_idpool PRIVATE -Wl,--wrap=getpid)
# Deterministic DEKs and message ids for the byte-for-byte comparison of
# threaded and serial output (tests/unit/test_lib_threads.c).
target_link_options(test_lib_threads PRIVATE -Wl,--wrap=RAND_bytes_ex -Wl,--wrap=RAND_priv_bytes_ex)

# The generator is built, never run by the suite: its output is committed
# (see tests/vectors/README.md).
add_executable(gen_vectors ${ENVELOPE_TEST_ROOT}/vectors/gen_vectors.c)
target_include_directories(gen_vectors PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(gen_vectors PRIVATE envelope_static envelope_warnings)

add_executable(gen_suite2 ${ENVELOPE_TEST_ROOT}/vectors/gen_suite2.c)
target_include_directories(gen_suite2 PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(gen_suite2 PRIVATE envelope_static envelope_warnings)

# Suite 2 vectors (tests/vectors/suite2.txt): libenvelope reads them here,
# the Python decoder below; and libenvelope reads what the Python decoder writes.
add_executable(suite2_check ${ENVELOPE_TEST_ROOT}/unit/suite2_check.c)
target_include_directories(suite2_check PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(suite2_check PRIVATE envelope_static envelope_warnings)
add_test(NAME lib.none.suite2-vectors
  COMMAND suite2_check ${ENVELOPE_TEST_ROOT}/vectors/suite2.txt)
add_test(NAME lib.none.suite2-reference-decoder
  COMMAND /usr/bin/python3 ${ENVELOPE_TEST_ROOT}/reference/envelope_decode.py suite2
          ${ENVELOPE_TEST_ROOT}/vectors/suite2.txt)
add_test(NAME lib.none.suite2-reference-writer
  COMMAND /bin/sh -c "d=$(mktemp -d) && cp '${ENVELOPE_TEST_ROOT}/vectors/kek1.pem' '${ENVELOPE_TEST_ROOT}/vectors/kek2.pem' \"$d\"/ && /usr/bin/python3 '${ENVELOPE_TEST_ROOT}/reference/envelope_decode.py' suite2-write \"$d/py.txt\" && '$<TARGET_FILE:suite2_check>' \"$d/py.txt\"; s=$?; rm -rf \"$d\"; exit $s")
set_tests_properties(lib.none.suite2-vectors lib.none.suite2-reference-decoder
  lib.none.suite2-reference-writer PROPERTIES LABELS "lib;unit" ENVIRONMENT "OPENSSL_CONF=/dev/null")

# The independent Python decoder against every committed vector.
add_test(NAME lib.none.reference-decoder
  COMMAND /usr/bin/python3 ${ENVELOPE_TEST_ROOT}/reference/envelope_decode.py vectors
          ${ENVELOPE_TEST_ROOT}/vectors/vectors.txt)
set_tests_properties(lib.none.reference-decoder PROPERTIES LABELS "lib;unit")
