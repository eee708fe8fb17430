/*
 * p11_attributes.h - how a KMS key looks as a PKCS#11 secret-key object
 * (PKCS#11 2.40 §4.10): its attribute values, shared by C_GetAttributeValue,
 * the template match of C_FindObjects (p11_find.c) and the template checks
 * of C_GenerateKey (p11_key_lifecycle.c).
 */
#ifndef P11_ATTRIBUTES_H
#define P11_ATTRIBUTES_H

#include <stddef.h>

#include "kms_module.h"

/* 1 if object o has every attribute value in tmpl. Under g_kms.lock. */
int kms_attr_matches(const kms_object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* Copies an attribute that becomes a KMIP Text String into a C string:
 * 1..cap-1 bytes of well-formed UTF-8 without NUL (kms_text.h). 0 if the
 * value cannot be one. */
int kms_attr_string(const CK_ATTRIBUTE *at, char *dst, size_t cap);

#endif
