# Where `cmake --install` puts things (docs/INSTALL.md). Every destination
# below is relative to the prefix, so `cmake --install build --prefix P`
# writes only under P; the one exception is a plain install of a build
# for the prefix /usr/local (CMake's default): its provider goes to
# libcrypto's modulesdir, the only place OpenSSL loads a provider from
# without a `module =` path.
#
# The system components we plug into say where they look, through
# pkg-config; each such path is taken relative to that component's own
# prefix, so that with -DCMAKE_INSTALL_PREFIX=/usr (as a package builds)
# every file lands exactly where OpenSSL, p11-kit and bash-completion look,
# and under any other prefix in the same place below that prefix.

# Libraries in lib/<multiarch> under any prefix, as Debian lays them out
# (GNUInstallDirs picks lib/<multiarch> only for the prefix /usr).
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT DEFINED CMAKE_INSTALL_LIBDIR)
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE STRING
    "Object code libraries (lib/<multiarch>)")
endif()
include(GNUInstallDirs)

# envelope_relative_dir(OUT MODULE VARIABLE FALLBACK): the directory
# pkg-config's MODULE names in VARIABLE, relative to MODULE's prefix, or
# FALLBACK when MODULE is absent or the directory is not under its prefix.
function(envelope_relative_dir out module variable fallback)
  set(dir "")
  set(prefix "")
  pkg_get_variable(dir ${module} ${variable})
  pkg_get_variable(prefix ${module} prefix)
  set(result ${fallback})
  if(dir AND prefix)
    file(RELATIVE_PATH rel ${prefix} ${dir})
    if(NOT rel MATCHES "^\\.\\./" AND NOT IS_ABSOLUTE "${rel}" AND NOT rel STREQUAL "")
      set(result ${rel})
    endif()
  endif()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# The provider: libcrypto's modulesdir below the prefix (lib/<multiarch>/ossl-modules).
pkg_get_variable(OPENSSL_MODULESDIR libcrypto modulesdir)
envelope_relative_dir(_ossl_rel libcrypto modulesdir ${CMAKE_INSTALL_LIBDIR}/ossl-modules)
set(ENVELOPE_OSSL_MODULESDIR "" CACHE STRING
  "Where envelope.so is installed: absolute, or relative to the prefix (default: ${_ossl_rel})")
set(ENVELOPE_P11_MODULEDIR "" CACHE STRING
  "Where envelope-kms-pkcs11.so is installed, relative to the prefix or absolute (default: p11-kit's p11_module_path below the prefix)")
set(ENVELOPE_P11_CONFIGDIR "" CACHE STRING
  "Where its p11-kit .module file is installed (default: p11-kit's p11_module_configs below the prefix)")
set(ENVELOPE_BASH_COMPLETIONSDIR "" CACHE STRING
  "Where the bash completion is installed (default: bash-completion's completionsdir below the prefix)")
set(ENVELOPE_ZSH_COMPLETIONSDIR "share/zsh/site-functions" CACHE STRING
  "Where the zsh completion (_envelope) is installed")
option(ENVELOPE_WITH_RPATH
  "Give the installed CLI a RUNPATH to the libenvelope beside it ($ORIGIN/../<libdir>); packages turn it off and rely on ldconfig"
  ON)

envelope_relative_dir(_p11_rel p11-kit-1 p11_module_path ${CMAKE_INSTALL_LIBDIR}/pkcs11)
envelope_relative_dir(_p11conf_rel p11-kit-1 p11_module_configs ${CMAKE_INSTALL_DATADIR}/p11-kit/modules)
pkg_check_modules(BASH_COMPLETION QUIET bash-completion)
if(BASH_COMPLETION_FOUND)
  envelope_relative_dir(_bash_rel bash-completion completionsdir
    ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
else()
  set(_bash_rel ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

# ENVELOPE_INSTALL_<X>: the destination (relative to the prefix unless the
# user gave an absolute path).
foreach(pair "OSSL_MODULESDIR;_ossl_rel" "P11_MODULEDIR;_p11_rel" "P11_CONFIGDIR;_p11conf_rel"
             "BASH_COMPLETIONSDIR;_bash_rel")
  list(GET pair 0 name)
  list(GET pair 1 default)
  if(ENVELOPE_${name})
    set(ENVELOPE_INSTALL_${name} ${ENVELOPE_${name}})
  else()
    set(ENVELOPE_INSTALL_${name} ${${default}})
  endif()
endforeach()
set(ENVELOPE_INSTALL_ZSH_COMPLETIONSDIR ${ENVELOPE_ZSH_COMPLETIONSDIR})

# The one install-time choice (see the top of this file): a plain install of
# a build configured with the default prefix puts the provider into
# libcrypto's modulesdir. Decided when installing, because
# `cmake --install --prefix P` changes the prefix after configuration.
# "The default prefix" is /usr/local, CMake's default on this platform,
# whether it was given or defaulted (a rule that does not depend on how the
# build tree was first configured).
set(ENVELOPE_PROVIDER_SYSTEM_DIR "")
if(NOT ENVELOPE_OSSL_MODULESDIR AND OPENSSL_MODULESDIR AND CMAKE_INSTALL_PREFIX STREQUAL "/usr/local"
   AND NOT OPENSSL_MODULESDIR MATCHES "^/usr/local/")
  set(ENVELOPE_PROVIDER_SYSTEM_DIR ${OPENSSL_MODULESDIR})
endif()
set(ENVELOPE_CONFIGURED_PREFIX ${CMAKE_INSTALL_PREFIX})

# What configure says: relative destinations are below the prefix.
if(ENVELOPE_PROVIDER_SYSTEM_DIR)
  set(_where "${ENVELOPE_PROVIDER_SYSTEM_DIR} (a plain install to the default prefix; with --prefix P, P/${ENVELOPE_INSTALL_OSSL_MODULESDIR})")
elseif(IS_ABSOLUTE "${ENVELOPE_INSTALL_OSSL_MODULESDIR}")
  set(_where "${ENVELOPE_INSTALL_OSSL_MODULESDIR}")
else()
  set(_where "<prefix>/${ENVELOPE_INSTALL_OSSL_MODULESDIR}")
endif()
message(STATUS "envelope: install: provider to ${_where}; libcrypto loads from ${OPENSSL_MODULESDIR}")
message(STATUS "envelope: install: kms bridge to ${ENVELOPE_INSTALL_P11_MODULEDIR}, its p11-kit"
  " module file to ${ENVELOPE_INSTALL_P11_CONFIGDIR}, bash completion to"
  " ${ENVELOPE_INSTALL_BASH_COMPLETIONSDIR} (relative: below the prefix)")
