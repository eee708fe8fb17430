/*
 * kms_text.h - the rules for text the bridge puts into KMIP Text Strings.
 *
 * KMIP 1.4 §9.1.1.4: a Text String is a sequence of bytes that encodes
 * characters in UTF-8. PKCS#11 hands us CK_UTF8CHAR arrays (CKA_LABEL,
 * 2.40 §4.4) that the caller promises are UTF-8 but need not be; and
 * CKA_ID is a byte array, which for our objects is the KMIP Unique
 * Identifier (a Text String) but for a caller may be anything (the
 * provider's keygen probes for a random 16-byte binary id).
 */
#ifndef KMS_TEXT_H
#define KMS_TEXT_H

#include <stddef.h>

/* 1 if s[0..n) is well-formed UTF-8 (RFC 3629 §4: no overlong forms, no
 * UTF-16 surrogates U+D800..U+DFFF, nothing above U+10FFFF) without a NUL
 * byte (we keep these as C strings). n == 0 is well-formed. */
int kms_utf8_valid(const char *s, size_t n);

/* 1 if s[0..n) can be a Unique Identifier the bridge presents as CKA_ID:
 * 1..max bytes of well-formed UTF-8 without control characters (C0, DEL).
 * The same rule applies to identifiers in answers (kmip_resp.c), so every
 * CKA_ID we hand out can be looked up again, and a binary CKA_ID (random
 * bytes pass with a chance of about 1e-7 for 16 bytes) is "no object"
 * without asking the KMS. */
int kms_uid_ok(const char *s, size_t n, size_t max);

/* 1 if s[0..n) contains a byte >= 0x80 (non-ASCII text). */
int kms_text_has_non_ascii(const char *s, size_t n);

#endif
