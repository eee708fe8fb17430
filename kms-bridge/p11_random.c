/*
 * p11_random.c - C_GenerateRandom and C_SeedRandom (PKCS#11 2.40 §5.15).
 *
 * PyKMIP (0.10) has no RNG Retrieve (KMIP 1.3 §4.35), so the random bytes
 * come from the host's OpenSSL DRBG, not from the KMS, and the token does
 * not claim CKF_RNG (p11_slot_info.c). Both calls still need a valid
 * session, as §5.15 says.
 */
#include <openssl/rand.h>

#include "kms_module.h"

CK_RV kms_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG n)
{
    if (out == NULL && n > 0)
        return CKR_ARGUMENTS_BAD;
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    kms_unlock();
    /* PyKMIP (0.10) has no RNG Retrieve (KMIP 1.3 §4.35); the host's
     * OpenSSL DRBG is the source, and CKF_RNG is not claimed for the token. */
    while (n > 0) {
        int chunk = n > 65536 ? 65536 : (int)n;
        if (RAND_bytes(out, chunk) != 1)
            return CKR_FUNCTION_FAILED;
        out += chunk;
        n -= (CK_ULONG)chunk;
    }
    return CKR_OK;
}

CK_RV kms_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG n)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    kms_unlock();
    return CKR_RANDOM_SEED_NOT_SUPPORTED;
}
