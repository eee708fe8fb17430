# Run at install time (kms-bridge/CMakeLists.txt): writes the p11-kit module
# file for the install prefix in effect and installs it. The module is named
# relative to p11-kit's own module path when it is installed there (as
# Debian's module files do, so the file is the same on every architecture),
# by its absolute path otherwise.
if(IS_ABSOLUTE "${ENVELOPE_P11_MODULEDIR}")
  set(_dir "${ENVELOPE_P11_MODULEDIR}")
else()
  set(_dir "${CMAKE_INSTALL_PREFIX}/${ENVELOPE_P11_MODULEDIR}")
endif()
if(IS_ABSOLUTE "${ENVELOPE_P11_CONFIGDIR}")
  set(_confdir "${ENVELOPE_P11_CONFIGDIR}")
else()
  set(_confdir "${CMAKE_INSTALL_PREFIX}/${ENVELOPE_P11_CONFIGDIR}")
endif()
get_filename_component(_dir "${_dir}" ABSOLUTE)
get_filename_component(_p11 "${ENVELOPE_P11KIT_MODULE_PATH}" ABSOLUTE)
if(_dir STREQUAL _p11)
  set(ENVELOPE_P11_MODULE_NAME "envelope-kms-pkcs11.so")
else()
  set(ENVELOPE_P11_MODULE_NAME "${_dir}/envelope-kms-pkcs11.so")
endif()
configure_file("${ENVELOPE_MODULE_TEMPLATE}" "${ENVELOPE_MODULE_OUT}" @ONLY)
file(INSTALL DESTINATION "${_confdir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${ENVELOPE_MODULE_OUT}")
