# TPM integration tests: the tpm_it program drives envelope_tpm against a
# real swtpm that tpm_run.sh starts (own ports, own state) for each scenario.
if(TARGET envelope_tpm)
  add_executable(tpm_it
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_main.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_basic.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_policy.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_restart.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_traffic.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_interop.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_engine.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_sessions.c
    ${ENVELOPE_TEST_ROOT}/integration/tpm_it_tamper.c)
  target_include_directories(tpm_it PRIVATE ${ENVELOPE_TEST_ROOT}/integration)
  target_link_libraries(tpm_it PRIVATE envelope_tpm envelope_test_err PkgConfig::CMOCKA
    envelope_warnings)
  foreach(s basic policy restart traffic interop engine sessions)
    add_test(NAME tpm.swtpm.${s}
      COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_run.sh ${s} $<TARGET_FILE:tpm_it>)
    set_tests_properties(tpm.swtpm.${s} PROPERTIES TIMEOUT 300 LABELS "tpm;swtpm;integration")
  endforeach()
  # FAULT INJECTOR (tests/fault/tcti_fault.c): a TCTI in front of swtpm's that
  # alters responses, as an interposer on the bus would
  pkg_check_modules(TSS2_FAULT REQUIRED IMPORTED_TARGET tss2-tctildr)
  add_library(tcti_fault MODULE ${ENVELOPE_TEST_ROOT}/fault/tcti_fault.c)
  set_target_properties(tcti_fault PROPERTIES PREFIX "")
  # the loader unloads a TCTI at every reconnect; the count must survive it
  target_link_options(tcti_fault PRIVATE -Wl,-z,nodelete)
  target_link_libraries(tcti_fault PRIVATE PkgConfig::TSS2_FAULT envelope_warnings)
  add_test(NAME tpm.swtpm.tamper
    COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_run.sh tamper $<TARGET_FILE:tpm_it>)
  set_tests_properties(tpm.swtpm.tamper PROPERTIES TIMEOUT 300 LABELS "tpm;swtpm;integration"
    ENVIRONMENT "TPM_IT_FAULT_TCTI=$<TARGET_FILE:tcti_fault>")
endif()

# TPM KEKs through the provider (phase 2): real openssl + public EVP APIs.
if(TARGET envelope_tpm AND TARGET envelope_provider)
  add_executable(tpm_prov_evp ${ENVELOPE_TEST_ROOT}/integration/tpm_prov_evp.c
    ${ENVELOPE_TEST_ROOT}/integration/register_engines.c)
  set_source_files_properties(${ENVELOPE_TEST_ROOT}/integration/register_engines.c PROPERTIES
    COMPILE_OPTIONS "-UOPENSSL_NO_DEPRECATED;-UOPENSSL_API_COMPAT;-Wno-deprecated-declarations")
  target_include_directories(tpm_prov_evp PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(tpm_prov_evp PRIVATE PkgConfig::OPENSSL envelope_warnings)
  foreach(c cms pkeyutl-ec evp pcr engine)
    add_test(NAME provider.swtpm.${c}
      COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_provider.sh ${c}
        $<TARGET_FILE:tpm_it> $<TARGET_FILE:tpm_prov_evp> $<TARGET_FILE_DIR:envelope_provider>)
    set_tests_properties(provider.swtpm.${c} PROPERTIES TIMEOUT 300
      LABELS "provider;swtpm;integration" ENVIRONMENT "${ENVELOPE_TEST_ENV}")
  endforeach()
endif()

# The envelope CLI with TPM KEKs, alone and mixed with a SoftHSM2 KEK.
if(TARGET envelope_tpm AND TARGET envelope_provider AND TARGET envelope_cli)
  add_test(NAME cli.mixed.tpm
    COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_cli.sh $<TARGET_FILE:envelope_cli>
      $<TARGET_FILE:tpm_it> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.swtpm.hostile-refs
    COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_hostile_refs.sh $<TARGET_FILE:envelope_cli>
      $<TARGET_FILE:tpm_it> $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(cli.mixed.tpm cli.swtpm.hostile-refs PROPERTIES TIMEOUT 300
    LABELS "cli;swtpm;softhsm;integration" ENVIRONMENT "${ENVELOPE_TEST_ENV}")
  add_test(NAME cli.swtpm.kek-check
    COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/tpm_kek_check.sh $<TARGET_FILE:envelope_cli>
      $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(cli.swtpm.kek-check PROPERTIES TIMEOUT 300
    LABELS "cli;swtpm;integration" ENVIRONMENT "${ENVELOPE_TEST_ENV}")
endif()
