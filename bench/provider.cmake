# Provider unwrap vs raw PKCS#11 vs libp11's engine (bench/README.md).
# Loads envelope.so at run time, so it builds without the provider target.
add_executable(bench_provider_unwrap ${CMAKE_CURRENT_LIST_DIR}/provider_unwrap.c)
target_include_directories(bench_provider_unwrap PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(bench_provider_unwrap PRIVATE -Wall -Wextra -Werror -O2)
target_link_libraries(bench_provider_unwrap PRIVATE PkgConfig::OPENSSL PkgConfig::P11KIT ${CMAKE_DL_LIBS})

# The unwrap cache: hits vs token round trips, 1 and 2 threads (bench/cache_bench.sh).
add_executable(bench_cache ${CMAKE_CURRENT_LIST_DIR}/cache_bench.c)
target_include_directories(bench_cache PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(bench_cache PRIVATE -Wall -Wextra -Werror -O2)
target_link_libraries(bench_cache PRIVATE PkgConfig::OPENSSL pthread)

# Records through libenvelope with DEK reuse and the unwrap cache (bench/records_bench.sh).
if(TARGET envelope)
  add_executable(bench_records ${CMAKE_CURRENT_LIST_DIR}/records_bench.c)
  target_compile_options(bench_records PRIVATE -Wall -Wextra -Werror -O2)
  target_link_libraries(bench_records PRIVATE envelope)
  # 1 KiB records with the DEK at hand: raw GCM vs suite 1 vs suite 2 (records_bench.sh).
  add_executable(bench_records_formats ${CMAKE_CURRENT_LIST_DIR}/records_formats.c)
  target_compile_options(bench_records_formats PRIVATE -Wall -Wextra -Werror -O2)
  target_link_libraries(bench_records_formats PRIVATE envelope PkgConfig::OPENSSL)
endif()

# One shared recorder vs a sealer and an opener per context (bench/recorder_bench.sh).
if(TARGET envelope)
  add_executable(bench_recorder ${CMAKE_CURRENT_LIST_DIR}/recorder_bench.c)
  target_compile_options(bench_recorder PRIVATE -Wall -Wextra -Werror -O2)
  target_link_libraries(bench_recorder PRIVATE envelope)
endif()

# The audit trail's cost on the cached unwrap path (bench/audit_bench.sh).
add_executable(bench_audit ${CMAKE_CURRENT_LIST_DIR}/audit_bench.c)
target_include_directories(bench_audit PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(bench_audit PRIVATE -Wall -Wextra -Werror -O2)
target_link_libraries(bench_audit PRIVATE PkgConfig::OPENSSL)
