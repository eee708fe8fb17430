/*
 * aws_json.h - json-c for the AWS path, with the wiping that secrets in
 * JSON need (a KMS Decrypt answer carries the DEK in "Plaintext", a
 * credential answer the secret key and the session token).
 *
 * Contract:
 *  - aws_json_parse parses exactly buf[0..n) (n <= AWS_HTTP_BODY_MAX; no
 *    trailing bytes, depth <= 16) and wipes json-c's parse buffer before
 *    freeing it. NULL on any error.
 *  - aws_json_wipe_put wipes every string inside o (recursively) and o's
 *    serialised form, if one was made, then drops the reference. NULL-safe.
 *  - aws_json_str: the string member `key` of o, or NULL (absent, not a
 *    string); *len its length.
 */
#ifndef AWS_JSON_H
#define AWS_JSON_H

#include <json-c/json.h>
#include <stddef.h>

json_object *aws_json_parse(const char *buf, size_t n);
void aws_json_wipe_put(json_object *o);
const char *aws_json_str(json_object *o, const char *key, size_t *len);
/* A member path of objects: aws_json_path(o, "A", "B", NULL). */
json_object *aws_json_path(json_object *o, ...) __attribute__((sentinel));

#endif
