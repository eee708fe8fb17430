/*
 * kms_status.c - the debug log's names for kms_status values (kms_status.h).
 */
#include "kms_status.h"

const char *kms_status_name(kms_status s)
{
    switch (s) {
    case KMS_OK: return "ok";
    case KMS_E_INTERNAL: return "internal error";
    case KMS_E_NOMEM: return "out of memory";
    case KMS_E_UNREACHABLE: return "no endpoint reachable";
    case KMS_E_IO: return "connection lost";
    case KMS_E_TIMEOUT: return "timeout";
    case KMS_E_PROTOCOL: return "malformed or unexpected response";
    case KMS_E_TOO_LARGE: return "response too large";
    case KMS_E_IDENTITY: return "client identity refused or not loaded";
    case KMS_E_RESULT: return "server refused";
    case KMS_E_ARGS: return "request exceeds limits";
    }
    return "?";
}
