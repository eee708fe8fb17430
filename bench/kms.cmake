# kms-bridge benchmark: provider -> kms-bridge -> PyKMIP vs PyKMIP's own
# Python client, and the connection pool's effect. Run with:
#   cmake --build BUILD --target kms_bench_run
if(TARGET envelope_kms_pkcs11 AND TARGET envelope_provider)
  find_package(Threads REQUIRED)
  add_executable(kms_bench kms_bench.c)
  target_include_directories(kms_bench PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(kms_bench PRIVATE PkgConfig::OPENSSL Threads::Threads envelope_warnings)
  add_custom_target(kms_bench_run
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/kms_bench.sh ${CMAKE_BINARY_DIR} 5
    DEPENDS kms_bench kms_p11 envelope_kms_pkcs11 envelope_provider
    USES_TERMINAL)
else()
  message(STATUS "envelope: bench kms_bench off (needs ENVELOPE_WITH_KMS_BRIDGE and ENVELOPE_WITH_PROVIDER)")
endif()
# The same, against the loopback AWS KMS test server (bench/aws_bench.sh):
#   cmake --build BUILD --target aws_bench_run
if(TARGET envelope_kms_pkcs11 AND TARGET envelope_provider AND TARGET envelope_cli)
  add_custom_target(aws_bench_run
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/aws_bench.sh ${CMAKE_BINARY_DIR} 5
    DEPENDS kms_bench envelope_kms_pkcs11 envelope_provider envelope_cli
    USES_TERMINAL)
endif()
