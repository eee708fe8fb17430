# TPM backend unit tests (cmocka). The shims stand in for the provider's
# envprov_raise/envkey_* so the backend links without the provider.
if(TARGET envelope_tpm)
  add_library(envtpm_test_shims STATIC ${ENVELOPE_TEST_ROOT}/unit/tpm_test_shims.c)
  target_include_directories(envtpm_test_shims PUBLIC ${ENVELOPE_TEST_ROOT}/unit)
  target_link_libraries(envtpm_test_shims PUBLIC envelope_tpm PRIVATE envelope_warnings)

  foreach(t uri srk salt)
    add_executable(test_tpm_${t} ${ENVELOPE_TEST_ROOT}/unit/test_tpm_${t}.c)
    target_link_libraries(test_tpm_${t} PRIVATE envelope_tpm envtpm_test_shims
      PkgConfig::CMOCKA envelope_warnings)
    add_test(NAME unit.tpm.${t} COMMAND test_tpm_${t})
    set_tests_properties(unit.tpm.${t} PROPERTIES LABELS "tpm;unit")
  endforeach()

  # the EC wrap of TPM KEKs, with a counting software stand-in for ZGen
  add_executable(test_tpm_ec_wrap ${ENVELOPE_TEST_ROOT}/unit/test_tpm_ec_wrap.c
    ${PROJECT_SOURCE_DIR}/provider/ec_wrap.c)
  target_include_directories(test_tpm_ec_wrap PRIVATE ${PROJECT_SOURCE_DIR}/provider
    ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(test_tpm_ec_wrap PRIVATE envtpm_test_shims PkgConfig::CMOCKA
    PkgConfig::OPENSSL envelope_warnings)
  add_test(NAME unit.tpm.ec_wrap COMMAND test_tpm_ec_wrap)
  set_tests_properties(unit.tpm.ec_wrap PROPERTIES LABELS "tpm;unit")
endif()
