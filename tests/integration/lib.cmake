# Integration tests of the envelope CLI and libenvelope, with
# real openssl and the independent Python decoder. Included from
# tests/integration/CMakeLists.txt.
if(TARGET envelope_cli)
  if(ENVELOPE_WITH_SANITIZERS)
    set(_cli_env "ENVELOPE_SANITIZED=1")
  else()
    set(_cli_env "ENVELOPE_SANITIZED=0")
  endif()
  add_test(NAME cli.file.basic COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_basic.sh
           $<TARGET_FILE:envelope_cli> ${ENVELOPE_TEST_ROOT}/reference/envelope_decode.py)
  add_test(NAME cli.file.large-stream COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_large.sh
           $<TARGET_FILE:envelope_cli>)
  # FAULT INJECTOR (tests/fault/no_tmpfile.c): open(O_TMPFILE) fails as on
  # a filesystem without it, so the output file's fallback runs. Built
  # without the sanitizers and fortify wrappers: it only forwards open().
  add_library(no_tmpfile MODULE ${ENVELOPE_TEST_ROOT}/fault/no_tmpfile.c)
  set_target_properties(no_tmpfile PROPERTIES PREFIX "")
  target_compile_options(no_tmpfile PRIVATE -Wall -Wextra -Werror -U_FORTIFY_SOURCE)
  target_compile_definitions(no_tmpfile PRIVATE _GNU_SOURCE)
  target_link_libraries(no_tmpfile PRIVATE ${CMAKE_DL_LIBS})
  add_test(NAME cli.file.output COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_output.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE:no_tmpfile>)
  add_test(NAME cli.file.threads COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_threads.sh
           $<TARGET_FILE:envelope_cli>)
  set_tests_properties(cli.file.basic cli.file.large-stream cli.file.output cli.file.threads PROPERTIES
    ENVIRONMENT "${_cli_env}" LABELS "cli;integration" TIMEOUT 900)
endif()

# With the envelope provider built: KEKs in a real SoftHSM2 token.
if(TARGET envelope_cli AND TARGET envelope_provider)
  add_test(NAME cli.softhsm.kek COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_softhsm.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.hostile-refs COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_hostile_refs.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.first-contact COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_first_contact.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.aliases COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_aliases.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.rewrap COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_rewrap.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.reencrypt COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_reencrypt.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.batch COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_batch.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  add_test(NAME cli.softhsm.kek-check COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_kek_check.sh
           $<TARGET_FILE:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  # A copy of the CLI that runs from any folder, for the setuid test: linked
  # with libenvelope's static archive (a setuid program ignores
  # LD_LIBRARY_PATH and $ORIGIN, and the build tree may be unreadable to
  # the user the test runs it as).
  # ENVELOPE_CLI_SOURCES: cli/CMakeLists.txt's list.
  add_executable(envelope_cli_static ${ENVELOPE_CLI_SOURCES})
  target_compile_definitions(envelope_cli_static PRIVATE ENVELOPE_CLI_VERSION="${PROJECT_VERSION}")
  target_link_libraries(envelope_cli_static PRIVATE envelope_static envelope_secmem PkgConfig::OPENSSL
    PkgConfig::JSONC envelope_warnings)
  add_test(NAME cli.mixed.setuid-env COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_setuid_env.sh
           $<TARGET_FILE:envelope_cli_static> $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(cli.softhsm.kek cli.softhsm.hostile-refs cli.softhsm.first-contact
    cli.softhsm.aliases cli.softhsm.rewrap cli.softhsm.reencrypt cli.softhsm.batch
    cli.softhsm.kek-check cli.mixed.setuid-env PROPERTIES
    ENVIRONMENT "${_cli_env};${ENVELOPE_TEST_ENV}" LABELS "cli;softhsm;integration" TIMEOUT 600)
  # the setuid test also runs tpm2-tss against a swtpm
  set_tests_properties(cli.mixed.setuid-env PROPERTIES LABELS "cli;softhsm;swtpm;integration")
  set_tests_properties(cli.mixed.setuid-env PROPERTIES SKIP_RETURN_CODE 77)
endif()

# Installation into a scratch prefix, and programs built against it
# (pkg-config and find_package) with nothing from the source or build tree.
if(TARGET envelope_cli AND TARGET envelope_provider AND TARGET envelope_kms_pkcs11)
  add_test(NAME lib.file.install-prefix COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_install.sh
           ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
  set_tests_properties(lib.file.install-prefix PROPERTIES
    ENVIRONMENT "${_cli_env};${ENVELOPE_TEST_ENV}" LABELS "lib;integration" TIMEOUT 600)
endif()

# The shell completion, against the CLI's own --help (no key home at all).
if(TARGET envelope_cli)
  add_test(NAME cli.none.inspect-compact COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_inspect_compact.sh
    $<TARGET_FILE:envelope_cli> ${ENVELOPE_TEST_ROOT}/vectors/suite2.txt)
  set_tests_properties(cli.none.inspect-compact PROPERTIES LABELS "cli;unit" TIMEOUT 120)
  add_test(NAME cli.none.completion COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/cli_completion.sh
           $<TARGET_FILE:envelope_cli> ${PROJECT_SOURCE_DIR}/completion)
  set_tests_properties(cli.none.completion PROPERTIES LABELS "cli;unit" TIMEOUT 120)
endif()

# The README's quick start, extracted and run as written on a scratch
# SoftHSM2 token (the CLI from this build on PATH, its envelope.so through
# OPENSSL_MODULES).
if(TARGET envelope_cli AND TARGET envelope_provider)
  add_test(NAME cli.softhsm.readme-quickstart
           COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/readme_quickstart.sh ${PROJECT_SOURCE_DIR}/README.md
                   $<TARGET_FILE_DIR:envelope_cli> $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(cli.softhsm.readme-quickstart PROPERTIES
    ENVIRONMENT "${_cli_env};${ENVELOPE_TEST_ENV}" LABELS "cli;softhsm;integration" TIMEOUT 600)
endif()

# DEK reuse through libenvelope on a real SoftHSM2 token.
if(TARGET envelope AND TARGET envelope_provider)
  add_executable(lib_dek_reuse ${ENVELOPE_TEST_ROOT}/integration/lib_dek_reuse.c)
  target_link_libraries(lib_dek_reuse PRIVATE envelope PkgConfig::OPENSSL envelope_warnings)
  add_test(NAME lib.softhsm.dek-reuse COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_dek_reuse.sh
           $<TARGET_FILE:lib_dek_reuse> $<TARGET_FILE_DIR:envelope_provider> $<TARGET_FILE:envelope_cli>)
  set_tests_properties(lib.softhsm.dek-reuse PROPERTIES LABELS "lib;softhsm;integration"
    ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 900)
endif()

# The error model: one case per category row, each with its real cause.
if(TARGET envelope AND TARGET envelope_provider)
  add_executable(lib_errors ${ENVELOPE_TEST_ROOT}/integration/lib_errors.c)
  target_link_libraries(lib_errors PRIVATE envelope envelope_warnings)
  add_test(NAME lib.softhsm.error-model COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_errors.sh
           $<TARGET_FILE:lib_errors> $<TARGET_FILE_DIR:envelope_provider>)
  set_tests_properties(lib.softhsm.error-model PROPERTIES LABELS "lib;softhsm;integration"
    ENVIRONMENT "${ENVELOPE_TEST_ENV}" TIMEOUT 300)
endif()

# The ABI against the committed baseline (abi/, scripts/abi-baseline.sh).
if(TARGET envelope)
  add_test(NAME lib.none.abi COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_abi.sh
           $<TARGET_FILE:envelope> ${PROJECT_SOURCE_DIR})
  set_tests_properties(lib.none.abi PROPERTIES LABELS "lib;unit" SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()

# docs/LIBRARY.md's C blocks and the header (C and C++) build warning-free.
if(TARGET envelope)
  add_test(NAME lib.none.doc-snippets COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_doc_snippets.sh
           ${PROJECT_SOURCE_DIR}/docs/LIBRARY.md ${PROJECT_SOURCE_DIR}/include
           $<TARGET_FILE_DIR:envelope> ${CMAKE_C_COMPILER})
  set_tests_properties(lib.none.doc-snippets PROPERTIES LABELS "lib;unit" TIMEOUT 120)
endif()

# The shared recorder: 8 threads, 1,000 contexts, one SoftHSM2 KEK.
if(TARGET envelope AND TARGET envelope_provider)
  add_executable(lib_recorder ${ENVELOPE_TEST_ROOT}/integration/lib_recorder.c)
  target_link_libraries(lib_recorder PRIVATE envelope envelope_warnings Threads::Threads)
  add_executable(lib_recorder_compact ${ENVELOPE_TEST_ROOT}/integration/lib_recorder_compact.c)
  target_link_libraries(lib_recorder_compact PRIVATE envelope envelope_warnings Threads::Threads)
  add_test(NAME lib.softhsm.recorder COMMAND bash ${ENVELOPE_TEST_ROOT}/integration/lib_recorder.sh
           $<TARGET_FILE:lib_recorder> $<TARGET_FILE_DIR:envelope_provider>
           $<TARGET_FILE:lib_recorder_compact>)
  set_tests_properties(lib.softhsm.recorder PROPERTIES LABELS "lib;softhsm;integration"
    ENVIRONMENT "${_cli_env};${ENVELOPE_TEST_ENV}" TIMEOUT 600)
endif()
