# TPM integration tests: the tpm_it program drives envelope_tpm against a
# real swtpm that tpm_run.sh starts (own ports, own state) for each scenario.
if(TARGET envelope_tpm AND TARGET envtpm_test_shims)
  add_executable(tpm_it
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_main.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_basic.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_policy.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_restart.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_traffic.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_interop.c)
  target_include_directories(tpm_it PRIVATE ${ENVELOPE_TEST_ROOT}/integration)
  target_link_libraries(tpm_it PRIVATE envelope_tpm envtpm_test_shims PkgConfig::CMOCKA
    envelope_warnings)
  foreach(s basic policy restart traffic interop)
    add_test(NAME integration.tpm.${s}
      COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_run.sh ${s} $<TARGET_FILE:tpm_it>)
    set_tests_properties(integration.tpm.${s} PROPERTIES TIMEOUT 300 LABELS "tpm;swtpm")
  endforeach()
endif()
