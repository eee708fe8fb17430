/*
 * tpm2_prov.h - the TPM 2.0 parts of the provider (store_tpm2.c,
 * keymgmt_ec.c, ec_wrap.c): their dispatch tables and
 * names, declared once here. Built only with ENVELOPE_WITH_TPM.
 */
#ifndef ENVPROV_TPM2_PROV_H
#define ENVPROV_TPM2_PROV_H

#include "provider.h"

/* EC P-256 KEKs answer to OpenSSL's EC names, so EVP_PKEY_is_a(k, "EC")
 * holds; their operations have a name of our own (see provider.h). */
#define ENVPROV_NAMES_EC ENVELOPE_KEYTYPE_EC ":EC:id-ecPublicKey:1.2.840.10045.2.1"
#define ENVPROV_OPNAME_EC "ENVELOPE-EC"

extern const OSSL_DISPATCH envprov_ec_keymgmt_functions[];
extern const OSSL_DISPATCH envprov_tpm2_store_functions[];
/* "tpm2-list:": the TPM's persistent keys as names (store_tpm2.c) */
extern const OSSL_DISPATCH envprov_tpm2_list_store_functions[];

/* The TPM client, created on first use from the tpm2-* settings (NULL and
 * an error raised if that fails). Freed by envprov_tpm_free at teardown. */
struct envtpm_ctx *envprov_tpm(envprov_ctx *pc);
void envprov_tpm_free(envprov_ctx *pc);
int envprov_is_tpm2_uri(const char *uri);
/* Creates a KEK at a tpm2: URI (EVP_PKEY_generate through a KEYMGMT) and
 * returns it opened; kind ENVKEY_EC_P256 or ENVKEY_RSA (2048 bits only). */
envkey *envprov_tpm_generate(envprov_ctx *pc, envkey_kind kind, const char *uri, int bits);

#endif
