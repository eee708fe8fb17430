/* libFuzzer target: the provider's wrapped-key blob decoder (untrusted
 * input: blobs come from messages). Decoding must never read out of
 * bounds, and whatever decodes must re-encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wrapblob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wrapblob b;
    if (!wrapblob_decode(&b, data, size))
        return 0;
    unsigned char out[WRAPBLOB_MAX];
    size_t n = wrapblob_encode(&b, out, sizeof(out));
    if (n != size || memcmp(out, data, size) != 0)
        abort(); /* the codec is not a bijection on valid blobs */
    return 0;
}
