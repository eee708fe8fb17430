# kms-bridge integration tests: a real PyKMIP server (tests/integration/kms/harness.sh)
# driven through envelope-kms-pkcs11.so by pkcs11-tool and by kms_p11.
if(TARGET envelope_kms_pkcs11)
  add_executable(kms_p11 kms/kms_p11.c kms/kms_p11_semantics.c)
  target_link_libraries(kms_p11 PRIVATE PkgConfig::OPENSSL PkgConfig::P11KIT ${CMAKE_DL_LIBS}
    envelope_warnings)

  set(KMS_IT_ENV
    "KMS_MODULE=$<TARGET_FILE:envelope_kms_pkcs11>"
    "KMS_P11=$<TARGET_FILE:kms_p11>"
    "KMS_HARNESS=${ENVELOPE_TEST_ROOT}/integration/kms/harness.sh"
    "KMS_FAULT_INJECTOR=${ENVELOPE_TEST_ROOT}/integration/kms/fault_injector_replay.py")
  if(TARGET envelope_provider AND TARGET envelope_cli)
    list(APPEND KMS_IT_ENV "ENV_PROVIDER_DIR=$<TARGET_FILE_DIR:envelope_provider>"
      "ENVELOPE_CLI=$<TARGET_FILE:envelope_cli>")
    set(KMS_PROVIDER_TEST provider cli_kek kek_check)
  endif()
  foreach(t pkcs11_tool semantics identity restart failover config faults text listing ${KMS_PROVIDER_TEST})
    # the bridge alone: kms.pykmip.*; through the provider: provider.mixed.*
    # (SoftHSM2 next to the bridge) and cli.pykmip.*
    string(REPLACE "_" "-" _what ${t})
    set(_name kms.pykmip.${_what})
    if(t STREQUAL "provider")
      set(_name provider.mixed.kms-and-hsm)
    elseif(t STREQUAL "cli_kek")
      set(_name cli.pykmip.kek)
    elseif(t STREQUAL "kek_check")
      set(_name cli.pykmip.kek-check)
    endif()
    add_test(NAME ${_name} COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/kms_${t}.sh)
    set_tests_properties(${_name} PROPERTIES ENVIRONMENT "${KMS_IT_ENV}" TIMEOUT 300
      LABELS "kms;pykmip;integration")
    if(t STREQUAL "provider")
      set_tests_properties(${_name} PROPERTIES LABELS "provider;kms;pykmip;softhsm;integration")
    elseif(t STREQUAL "cli_kek" OR t STREQUAL "kek_check")
      set_tests_properties(${_name} PROPERTIES LABELS "cli;kms;pykmip;integration")
    endif()
  endforeach()
  # kek-preference: which EDK of a message is tried first (KMS and SoftHSM2).
  if(TARGET envelope_provider AND TARGET envelope_cli)
    add_test(NAME provider.mixed.kek-preference COMMAND bash
             ${ENVELOPE_TEST_ROOT}/integration/kms_preference.sh)
    set_tests_properties(provider.mixed.kek-preference PROPERTIES ENVIRONMENT "${KMS_IT_ENV}"
      TIMEOUT 300 LABELS "provider;kms;pykmip;softhsm;integration")
  endif()
  # --kek-policy all|any with the KMS killed (and SoftHSM2 up).
  if(TARGET envelope_provider AND TARGET envelope_cli)
    add_test(NAME cli.mixed.kek-policy COMMAND bash
             ${ENVELOPE_TEST_ROOT}/integration/cli_kek_policy.sh)
    set_tests_properties(cli.mixed.kek-policy PROPERTIES ENVIRONMENT "${KMS_IT_ENV}"
      TIMEOUT 300 LABELS "cli;kms;pykmip;softhsm;integration")
  endif()
  # The provider's unwrap cache in front of a KMS that stops answering.
  if(TARGET envelope_provider AND TARGET envelope_cli AND TARGET provider_cache)
    add_test(NAME provider.pykmip.cache-outage COMMAND bash
             ${ENVELOPE_TEST_ROOT}/integration/kms_cache_outage.sh)
    set_tests_properties(provider.pykmip.cache-outage PROPERTIES
      ENVIRONMENT "${KMS_IT_ENV};ENV_CACHE_BIN=$<TARGET_FILE:provider_cache>" TIMEOUT 300
      LABELS "provider;kms;pykmip;integration")
  endif()
endif()
