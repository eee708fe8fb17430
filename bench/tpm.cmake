# TPM unwrap through the provider vs raw ESYS vs
# tpm2-openssl. Run: bench/tpm_bench.sh $<TARGET_FILE:tpm_bench> ... (see
# the bench_tpm target).
if(TARGET envelope_tpm AND TARGET envelope_provider)
  pkg_check_modules(TSS2_BENCH REQUIRED IMPORTED_TARGET tss2-esys tss2-tctildr)
  add_executable(tpm_bench ${CMAKE_CURRENT_LIST_DIR}/tpm_bench.c)
  target_link_libraries(tpm_bench PRIVATE PkgConfig::TSS2_BENCH PkgConfig::OPENSSL envelope_warnings)
  if(TARGET tpm_it)
    add_custom_target(bench_tpm
      COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tpm_bench.sh $<TARGET_FILE:tpm_bench>
        $<TARGET_FILE:tpm_it> $<TARGET_FILE_DIR:envelope_provider>
      DEPENDS tpm_bench tpm_it envelope_provider USES_TERMINAL)
  endif()
else()
  message(STATUS "envelope: bench tpm_bench off (needs ENVELOPE_WITH_TPM and ENVELOPE_WITH_PROVIDER)")
endif()
