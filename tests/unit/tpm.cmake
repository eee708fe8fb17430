# tpm/ pieces that need no TPM (cmocka).
foreach(t uri srk salt)
  add_executable(test_tpm_${t} ${ENVELOPE_TEST_ROOT}/unit/test_tpm_${t}.c)
  target_link_libraries(test_tpm_${t} PRIVATE envelope_tpm envelope_test_err PkgConfig::CMOCKA
    envelope_warnings)
  add_test(NAME tpm.none.${t} COMMAND test_tpm_${t})
  set_tests_properties(tpm.none.${t} PROPERTIES LABELS "tpm;unit")
endforeach()

# core/findings.c (the check's text form) and tpm_check.c's judgement of
# public areas
add_executable(test_findings ${ENVELOPE_TEST_ROOT}/unit/test_findings.c)
target_link_libraries(test_findings PRIVATE envelope_tpm envelope_test_err PkgConfig::CMOCKA
  envelope_warnings)
add_test(NAME core.none.findings COMMAND test_findings)
set_tests_properties(core.none.findings PROPERTIES LABELS "core;tpm;unit")
