/* tpm_test_shims.h - TEST SHIM accessors (see tpm_test_shims.c). */
#ifndef ENVELOPE_TPM_TEST_SHIMS_H
#define ENVELOPE_TPM_TEST_SHIMS_H

int tpm_test_last_reason(void);
const char *tpm_test_last_message(void);
void tpm_test_reset_reason(void);

#endif
