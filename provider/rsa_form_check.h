/* rsa_form_check.h - see rsa_form_check.c. */
#ifndef ENVPROV_RSA_FORM_CHECK_H
#define ENVPROV_RSA_FORM_CHECK_H

#include "provider.h"

/* 1 if the device decrypts this form correctly, 0 if not, -1 on error
 * (raised). */
int envprov_rsa_form_ok(envprov_ctx *pc, envkey *k, const envkey_rsa_params *p);

#endif
