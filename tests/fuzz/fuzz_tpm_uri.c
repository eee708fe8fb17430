/* libFuzzer target: the tpm2: URI parser (tpm/tpm_uri.c). URIs come from
 * users and, as references, from messages: the parser must never read out
 * of bounds, and whatever it accepts must be one of the two forms. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tpm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    envtpm_uri u;
    memset(&u, 0, sizeof(u));
    if (envtpm_uri_parse(s, &u) == ENVCORE_R_OK)
        envtpm_uri_clear(&u);
    ERR_clear_error();
    free(s);
    return 0;
}
