/*
 * aws_json.c - json-c with wiping (aws_json.h).
 */
#include "aws_json.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <string.h>

#define AWS_JSON_DEPTH 16

json_object *aws_json_parse(const char *buf, size_t n)
{
    if (buf == NULL || n == 0 || n > (1u << 20))
        return NULL;
    json_tokener *tok = json_tokener_new_ex(AWS_JSON_DEPTH);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)n);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                      json_tokener_get_parse_end(tok) != n)) {
        aws_json_wipe_put(o);
        o = NULL;
    }
    /* The tokener's buffer held the last string it read (maybe a secret).
     * json-c has no wiping free; its struct is public (json_tokener.h). */
    if (tok->pb != NULL && tok->pb->buf != NULL)
        OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
    return o;
}

/* Recursive over the JSON tree, whose depth aws_json_parse bounds to
 * AWS_JSON_DEPTH (and our own requests are two levels deep). */
static void aws_json_wipe(json_object *o) // NOLINT(misc-no-recursion): depth <= AWS_JSON_DEPTH
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(o);
        char *s = (char *)json_object_get_string(o); /* json-c's own buffer */
        if (s != NULL)
            OPENSSL_cleanse(s, n);
        break;
    }
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            aws_json_wipe(v);
        }
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            aws_json_wipe(json_object_array_get_idx(o, i));
        break;
    default: break;
    }
}

void aws_json_wipe_put(json_object *o)
{
    if (o == NULL)
        return;
    /* The serialised form, if one was made, is cached in o: this returns
     * the same buffer again (made now if there was none). */
    size_t n = 0;
    const char *ser = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    if (ser != NULL)
        OPENSSL_cleanse((char *)ser, n);
    aws_json_wipe(o);
    json_object_put(o);
}

const char *aws_json_str(json_object *o, const char *key, size_t *len)
{
    json_object *v;
    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        json_object_get_type(v) != json_type_string)
        return NULL;
    if (len != NULL)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

json_object *aws_json_path(json_object *o, ...)
{
    va_list ap;
    va_start(ap, o);
    const char *k;
    while (o != NULL && (k = va_arg(ap, const char *)) != NULL) {
        json_object *v;
        o = json_object_get_type(o) == json_type_object && json_object_object_get_ex(o, k, &v)
                ? v
                : NULL;
    }
    va_end(ap);
    return o;
}
