add_executable(fuzz_wrapblob ${CMAKE_CURRENT_LIST_DIR}/fuzz_wrapblob.c ${PROJECT_SOURCE_DIR}/provider/wrapblob.c)
target_include_directories(fuzz_wrapblob PRIVATE ${PROJECT_SOURCE_DIR}/provider)
envelope_fuzz_target(fuzz_wrapblob provider)
target_link_libraries(fuzz_wrapblob PRIVATE envelope_core PkgConfig::OPENSSL)

# fuzz_settings: the provider's openssl.cnf settings (envprov_config_read
# with a core that answers from the input, settings_check over the same
# section in a file). The provider's sources are compiled into the target.
if(TARGET envelope_provider)
  get_target_property(_prov_srcs envelope_provider SOURCES)
  set(_prov_abs "")
  foreach(src IN LISTS _prov_srcs)
    if(IS_ABSOLUTE ${src})
      list(APPEND _prov_abs ${src})
    else()
      list(APPEND _prov_abs ${PROJECT_SOURCE_DIR}/provider/${src})
    endif()
  endforeach()
  get_property(_backend_targets GLOBAL PROPERTY ENVELOPE_BACKEND_TARGETS)
  add_executable(fuzz_settings ${CMAKE_CURRENT_LIST_DIR}/fuzz_settings.c ${_prov_abs}
    ${PROJECT_SOURCE_DIR}/core/settings.c ${PROJECT_SOURCE_DIR}/hsm/hsm_tokens.c
    ${PROJECT_SOURCE_DIR}/tpm/tpm_handles.c)
  target_include_directories(fuzz_settings PRIVATE ${PROJECT_SOURCE_DIR}/provider
    ${PROJECT_SOURCE_DIR}/hsm ${PROJECT_SOURCE_DIR}/tpm
    ${PROJECT_BINARY_DIR}/provider ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(fuzz_settings PRIVATE ENVELOPE_VERSION="${PROJECT_VERSION}")
  target_link_libraries(fuzz_settings PRIVATE ${_backend_targets} envelope_core PkgConfig::OPENSSL
    envelope_warnings)
  envelope_fuzz_target(fuzz_settings provider)
endif()
