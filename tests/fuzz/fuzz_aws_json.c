/*
 * fuzz_aws_json.c - libFuzzer target for what an AWS endpoint (or anyone
 * on the path to a plain-HTTP metadata endpoint) can make the bridge read:
 * the credential JSON of the container and IMDS endpoints
 * (aws_creds_from_json, aws_parse_iso8601) and any JSON answer through
 * aws_json_parse / aws_json_wipe_put (depth and trailing bytes bounded,
 * every string wiped). None may read out of bounds or leak.
 *
 * Every answer the bridge reads is then walked the way its callers walk it
 * (kms-bridge/p11_aws_*.c, aws_kms.c, aws_creds_remote.c): Encrypt and
 * Decrypt (KeyId, CiphertextBlob, Plaintext), DescribeKey and CreateKey
 * (KeyMetadata), GetPublicKey (PublicKey), ListAliases (Aliases[],
 * Truncated, NextMarker), the service's error (__type, message, mapped by
 * aws_kms_status_of) and STS's AssumeRoleWithWebIdentity answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"
#include "aws_json.h"
#include "aws_kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void str_len(json_object *o, const char *key)
{
    size_t n = 0;
    const char *v = aws_json_str(o, key, &n);
    if (v != NULL && strlen(v) > n)
        abort(); /* the length said covers the string */
}

static void walk(json_object *o)
{
    static const char *const top[] = {"KeyId",      "CiphertextBlob", "Plaintext", "PublicKey",
                                      "NextMarker", "message",        "Message"};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
        str_len(o, top[i]);
    json_object *md = aws_json_path(o, "KeyMetadata", NULL);
    static const char *const meta[] = {
        "KeyId", "KeyState", "KeyUsage", "KeySpec", "CustomerMasterKeySpec", "Arn"};
    for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++)
        str_len(md, meta[i]);
    json_object *list = aws_json_path(o, "Aliases", NULL);
    size_t m = json_object_get_type(list) == json_type_array ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < m; i++) {
        json_object *a = json_object_array_get_idx(list, i);
        str_len(a, "AliasName");
        str_len(a, "TargetKeyId");
    }
    json_object *tr = aws_json_path(o, "Truncated", NULL);
    (void)(tr != NULL && json_object_get_boolean(tr));
    const char *type = aws_json_str(o, "__type", NULL);
    if (type != NULL) {
        const char *hash = strrchr(type, '#');
        (void)aws_kms_status_of(400, hash != NULL ? hash + 1 : type);
    }
    json_object *sts = aws_json_path(o, "AssumeRoleWithWebIdentityResponse",
                                     "AssumeRoleWithWebIdentityResult", "Credentials", NULL);
    str_len(sts, "SessionToken");
    str_len(aws_json_path(o, "Error", NULL), "Code");
}

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
    walk(o);
    aws_json_wipe_put(o);
    time_t t;
    (void)aws_parse_iso8601(buf, &t);
    free(buf);
    return 0;
}
