# Run at install time (cmake/install_extras.cmake): the conf/ examples with
# the paths of an install to /usr replaced by this install's, installed to
# <docdir>/examples.
include("${CMAKE_CURRENT_LIST_DIR}/provider_dir.cmake")
set(_prov "${ENVELOPE_PROVIDER_DIR}")
if(IS_ABSOLUTE "${ENVELOPE_P11_MODULEDIR}")
  set(_p11 "${ENVELOPE_P11_MODULEDIR}")
else()
  set(_p11 "${CMAKE_INSTALL_PREFIX}/${ENVELOPE_P11_MODULEDIR}")
endif()
if(IS_ABSOLUTE "${ENVELOPE_DOCDIR}")
  set(_dest "${ENVELOPE_DOCDIR}/examples")
else()
  set(_dest "${CMAKE_INSTALL_PREFIX}/${ENVELOPE_DOCDIR}/examples")
endif()
file(MAKE_DIRECTORY "${ENVELOPE_EXAMPLES_OUT}")
set(_out "")
foreach(f IN LISTS ENVELOPE_EXAMPLES)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" text)
  string(REPLACE "/usr/lib/x86_64-linux-gnu/ossl-modules/envelope.so" "${_prov}/envelope.so"
         text "${text}")
  string(REPLACE "/usr/lib/x86_64-linux-gnu/pkcs11/envelope-kms-pkcs11.so"
         "${_p11}/envelope-kms-pkcs11.so" text "${text}")
  file(WRITE "${ENVELOPE_EXAMPLES_OUT}/${name}" "${text}")
  list(APPEND _out "${ENVELOPE_EXAMPLES_OUT}/${name}")
endforeach()
file(INSTALL DESTINATION "${_dest}" TYPE FILE FILES ${_out})
