/*
 * fuzz_aws_json.c - libFuzzer target for what an AWS endpoint (or anyone
 * on the path to a plain-HTTP metadata endpoint) can make the bridge read:
 * the credential JSON of the container and IMDS endpoints
 * (aws_creds_from_json, aws_parse_iso8601) and any JSON answer through
 * aws_json_parse / aws_json_wipe_put (depth and trailing bytes bounded,
 * every string wiped). None may read out of bounds or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"
#include "aws_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16))
        return 0;
    char *buf = malloc(size + 1); /* exactly size bytes, then a NUL for the ISO 8601 parser */
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char err[256];
    aws_creds *c = aws_creds_from_json(buf, size, AWS_SRC_IMDS, err, sizeof(err));
    aws_creds_free(c);
    json_object *o = aws_json_parse(buf, size);
    size_t n = 0;
    (void)aws_json_str(aws_json_path(o, "KeyMetadata", NULL), "KeyId", &n);
    aws_json_wipe_put(o);
    time_t t;
    (void)aws_parse_iso8601(buf, &t);
    free(buf);
    return 0;
}
