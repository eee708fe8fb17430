/*
 * kms_status.h - internal result of every bridge layer below the PKCS#11
 * entry points. kms_errmap.c turns it (with the KMIP result) into a CK_RV;
 * docs/KMS-BRIDGE.md lists the mapping.
 */
#ifndef KMS_STATUS_H
#define KMS_STATUS_H

typedef enum {
    KMS_OK = 0,
    KMS_E_INTERNAL, /* our bug or resource exhaustion */
    KMS_E_NOMEM,
    KMS_E_UNREACHABLE, /* no endpoint could be connected to (TCP or TLS) */
    KMS_E_IO,          /* connected, then the stream failed mid-call (EOF, reset) */
    KMS_E_TIMEOUT,     /* per-call deadline passed */
    KMS_E_PROTOCOL,    /* the server's bytes are not an answer we accept */
    KMS_E_TOO_LARGE,   /* the response announces more than KMIP_MAX_RESPONSE */
    KMS_E_IDENTITY,    /* the server refused our client certificate */
    KMS_E_RESULT,      /* the server answered with a failure (see kmip_result) */
    KMS_E_ARGS,        /* a request exceeds our limits */
} kms_status;

/* A fixed English name for the debug log (kms_status.c). */
const char *kms_status_name(kms_status s);

#endif
