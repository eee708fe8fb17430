# kms-bridge unit tests (cmocka), one file per module.
foreach(t ttlv kmip config text)
  add_executable(test_kms_${t} ${ENVELOPE_TEST_ROOT}/unit/test_kms_${t}.c)
  target_link_libraries(test_kms_${t} PRIVATE envelope_kms_core PkgConfig::CMOCKA envelope_warnings)
  add_test(NAME kms.none.${t} COMMAND test_kms_${t})
  set_tests_properties(kms.none.${t} PROPERTIES LABELS "kms;unit")
endforeach()
