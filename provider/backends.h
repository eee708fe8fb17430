/*
 * backends.h - the build's backend table: every home of keys this
 * envelope.so serves, in the order STOREs are registered. Generated into
 * the build tree as backends.c from the backends CMake registered (each
 * backend's folder registers itself with envelope_register_backend, see
 * docs/ARCHITECTURE.md "Adding a backend").
 */
#ifndef ENVPROV_BACKENDS_H
#define ENVPROV_BACKENDS_H

#include "backend.h"

/* NULL-terminated. */
extern const envcore_backend *const envprov_backend_table[];

#endif
