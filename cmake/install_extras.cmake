# Installed with every build (included from the top CMakeLists.txt): shell
# completion, the conf/ examples and the documentation. Destinations come
# from cmake/install_dirs.cmake.
if(ENVELOPE_WITH_LIB)
  # bash-completion loads completions/<command> on first use.
  install(FILES ${PROJECT_SOURCE_DIR}/completion/envelope.bash
    DESTINATION ${ENVELOPE_INSTALL_BASH_COMPLETIONSDIR} RENAME envelope)
  install(FILES ${PROJECT_SOURCE_DIR}/completion/_envelope
    DESTINATION ${ENVELOPE_INSTALL_ZSH_COMPLETIONSDIR})
endif()

# The conf/ examples, with the provider's and the bridge's paths rewritten
# to where this install puts them (the files in conf/ name the paths of an
# install to /usr). Written at install time, when the prefix is known.
file(GLOB _examples ${PROJECT_SOURCE_DIR}/conf/*.cnf ${PROJECT_SOURCE_DIR}/conf/*.conf)
install(CODE "
  set(ENVELOPE_EXAMPLES \"${_examples}\")
  set(ENVELOPE_EXAMPLES_OUT \"${PROJECT_BINARY_DIR}/examples\")
  set(ENVELOPE_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(ENVELOPE_OSSL_MODULESDIR \"${ENVELOPE_INSTALL_OSSL_MODULESDIR}\")
  set(ENVELOPE_PROVIDER_SYSTEM_DIR \"${ENVELOPE_PROVIDER_SYSTEM_DIR}\")
  set(ENVELOPE_CONFIGURED_PREFIX \"${ENVELOPE_CONFIGURED_PREFIX}\")
  set(ENVELOPE_P11_MODULEDIR \"${ENVELOPE_INSTALL_P11_MODULEDIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_examples.cmake\")")

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
  ${PROJECT_SOURCE_DIR}/docs/FORMAT.md ${PROJECT_SOURCE_DIR}/docs/INSTALL.md
  ${PROJECT_SOURCE_DIR}/docs/KMS-BRIDGE.md ${PROJECT_SOURCE_DIR}/docs/LIBRARY.md
  ${PROJECT_SOURCE_DIR}/docs/PROVIDER.md ${PROJECT_SOURCE_DIR}/docs/SECURITY.md
  ${PROJECT_SOURCE_DIR}/docs/TPM.md ${PROJECT_SOURCE_DIR}/docs/WRAP-BLOB.md ${PROJECT_SOURCE_DIR}/docs/AUDIT.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
