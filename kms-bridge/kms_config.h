/*
 * kms_config.h - the module's own configuration file, read with OpenSSL NCONF.
 * Path: C_Initialize's pReserved (a NUL-terminated path, when the
 * CK_C_INITIALIZE_ARGS are given) or else $ENVELOPE_KMS_CONF.
 *
 *   slots = kms                      # sections, one PKCS#11 slot each, in order
 *   [kms]
 *   label = kms                      # token label (<= 32 bytes), URI token=
 *   endpoints = 127.0.0.1:5696, 127.0.0.1:5697   # host:port, [v6]:port
 *   ca-file = /etc/envelope/kms-ca.pem
 *   cert-file = /etc/envelope/client.pem
 *   key-file = /etc/envelope/client.key        # mode 0600 or stricter
 *   timeout-ms = 5000                # per call, connect + TLS + round trip
 *   # optional:
 *   server-name = kms.example.com    # name/IP the server certificate must
 *                                    # carry; default: each endpoint's host
 *   pool-size = 4                    # idle connections kept per slot
 *   retries = 2                      # extra rounds over the endpoints per call
 *   protocol = kmip                  # or aws-kms: see aws_config.h for its keys
 *
 * Errors name the file, line, section and key, and are returned in err.
 * Nothing in this file is secret (the key's passphrase, if any, is the
 * C_Login PIN), so errors may quote values.
 */
#ifndef KMS_CONFIG_H
#define KMS_CONFIG_H

#include <stddef.h>

#include "aws_config.h"

#define KMS_MAX_SLOTS 8
#define KMS_MAX_ENDPOINTS 8
#define KMS_LABEL_MAX 32

typedef struct {
    char host[256];
    char port[6];
} kms_endpoint_cfg;

#define KMS_PATH_MAX 4096 /* bytes with the NUL: paths of 1..4095 bytes */

enum { KMS_PROTO_KMIP = 0, KMS_PROTO_AWS_KMS };

typedef struct {
    char section[64];
    int protocol; /* `protocol = kmip | aws-kms`; kmip when absent */
    char label[KMS_LABEL_MAX + 1];
    kms_endpoint_cfg ep[KMS_MAX_ENDPOINTS];
    size_t n_ep;
    char ca_file[KMS_PATH_MAX];
    char cert_file[KMS_PATH_MAX];
    char key_file[KMS_PATH_MAX];
    char server_name[256]; /* empty: check each endpoint's host */
    int timeout_ms;
    int pool_size;
    int retries;
    aws_slot_cfg aws; /* protocol aws-kms only */
} kms_slot_cfg;

typedef struct {
    kms_slot_cfg slot[KMS_MAX_SLOTS];
    size_t n_slots;
} kms_config;

/* 1 on success; 0 with a message in err (never NULL-terminated short). */
int kms_config_load(const char *path, kms_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Parses "host:port" / "[v6]:port" (exported for the unit tests). */
int kms_config_parse_endpoint(const char *s, size_t n, kms_endpoint_cfg *ep)
    __attribute__((warn_unused_result));

#endif
