# libFuzzer targets for the TPM backend's parsers (clang, ENVELOPE_WITH_FUZZ).
# The parser sources are compiled into each target so coverage reaches them;
# core/ gives the error and key functions.
if(TARGET envelope_tpm)
  pkg_check_modules(TSS2MU_FUZZ REQUIRED IMPORTED_TARGET tss2-mu tss2-esys)
  foreach(t uri keyfile)
    add_executable(fuzz_tpm_${t} ${CMAKE_CURRENT_LIST_DIR}/fuzz_tpm_${t}.c
      ${PROJECT_SOURCE_DIR}/tpm/tpm_${t}.c)
    envelope_fuzz_target(fuzz_tpm_${t} tpm)
    target_link_libraries(fuzz_tpm_${t} PRIVATE envelope_tpm PkgConfig::TSS2MU_FUZZ envelope_warnings)
  endforeach()
endif()
