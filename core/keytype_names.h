/*
 * keytype_names.h - the key type names to hand OpenSSL 3.0 when a
 * registered ENGINE must not take over.
 *
 * EVP_PKEY_CTX_new_from_name() and EVP_PKEY_CTX_new_from_pkey() map the key
 * type's name to a legacy NID and, for "RSA" or "EC", look for an ENGINE
 * registered for that NID. With one registered (a libp11 engine in
 * openssl.cnf, or any engine after ENGINE_register_all_complete(), which
 * the openssl app calls), the context becomes an engine context: fromdata
 * fails ("operation not supported for this keytype") and an operation on a
 * provider key reaches the engine's RSA code with no RSA object (a crash in
 * RSA_size). A name that maps to no NID keeps the context a provider one:
 *  - the OID strings below are aliases of OpenSSL's own RSA and EC KEYMGMTs
 *    (use them to build software keys with fromdata);
 *  - the envelope provider's KEYMGMTs put a name of their own first
 *    (ENVELOPE_KEYTYPE_RSA, ENVELOPE_KEYTYPE_EC in envelope/provider.h),
 *    so that contexts made from its keys never look for an engine.
 */
#ifndef ENVELOPE_KEYTYPE_NAMES_H
#define ENVELOPE_KEYTYPE_NAMES_H

#define ENVELOPE_SW_RSA_NAME "1.2.840.113549.1.1.1" /* rsaEncryption */
#define ENVELOPE_SW_EC_NAME "1.2.840.10045.2.1"     /* id-ecPublicKey */

#endif
