/* libFuzzer target: the TSS2 PRIVATE KEY PEM parser (tpm/tpm_keyfile.c):
 * key files are read from disk by tpm2:file= URIs, so every length in the
 * ASN.1 and in the marshalled TPM2B structures inside must be bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tpm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    envtpm_keyfile kf;
    memset(&kf, 0, sizeof(kf));
    if (envtpm_keyfile_parse(data, size, &kf) == ENVCORE_R_OK &&
        (kf.priv.size > sizeof(kf.priv.buffer) ||
         kf.pcr_digest.size > sizeof(kf.pcr_digest.buffer)))
        abort(); /* a parsed key's TPM2B sizes fit their buffers */
    ERR_clear_error();
    return 0;
}
