/*
 * rsa_forms.h - the RSA-OAEP hashes envelope accepts, in one table, and the
 * cache of which RSA forms a device was seen to decrypt.
 *
 * Tokens accept OAEP parameters they do not honour (docs/PROVIDER.md, "RSA-
 * OAEP forms"), so whether a form works is an answer to remember: per
 * token for what C_DecryptInit accepts (hsm/), per key for what a round
 * trip proved (provider/rsa_form_check.c). Both use this cache: lock-free
 * (atomic loads and stores of one byte per form), "yes" kept for good, "no"
 * kept for good or for a time (a passing device failure looks the same as
 * a form the device cannot do).
 */
#ifndef ENVELOPE_CORE_RSA_FORMS_H
#define ENVELOPE_CORE_RSA_FORMS_H

#include <stddef.h>

/* SHA-1, SHA-224, SHA-256, SHA-384, SHA-512 (PKCS#1 v2.2 §A.2.1). */
#define ENVCORE_OAEP_HASHES 5

/* Index of an OAEP/MGF1 hash NID in the table, or -1 if not accepted. */
int envcore_oaep_index(int nid);
/* NID of a digest name in OpenSSL's or PKCS#1's spelling ("SHA256",
 * "SHA2-256", "sha256", "SHA-1"), or NID_undef if not an accepted hash. */
int envcore_oaep_nid(const char *name);

typedef struct {
    unsigned char state[ENVCORE_OAEP_HASHES][ENVCORE_OAEP_HASHES][2]; /* 0 ?, 1 yes, 2 no */
    long no_since[ENVCORE_OAEP_HASHES][ENVCORE_OAEP_HASHES][2];       /* monotonic s */
} envcore_rsa_forms;

/* The cached answer for (oaep hash, mgf1 hash, with label): 1 yes, 0 no, -1
 * not known (or a "no" older than no_ttl_s seconds; no_ttl_s < 0: a "no"
 * never expires). Hashes not in the table are "no". */
int envcore_rsa_form_get(envcore_rsa_forms *c, int oaep_nid, int mgf1_nid, int label,
                         long no_ttl_s);
void envcore_rsa_form_set(envcore_rsa_forms *c, int oaep_nid, int mgf1_nid, int label, int yes);

#endif
