/*
 * hsm_mech.c - what the token can do, asked once per token.
 *
 * C_GetMechanismInfo tells whether CKM_AES_GCM, CKM_RSA_PKCS and
 * CKM_RSA_PKCS_OAEP exist, but not which OAEP hashes or whether a label is
 * honoured (SoftHSM2 2.6.1 lists OAEP yet accepts only SHA-1 without a
 * label, answering CKR_ARGUMENTS_BAD otherwise). Those are probed with
 * C_DecryptInit on the key itself (hsm_keyops.c) and cached here. We never
 * fall back to host-side padding: what the token cannot do is refused.
 */
#include "hsm_internal.h"

#include <openssl/obj_mac.h>

static int has_mech(struct hsm_token *t, CK_MECHANISM_TYPE mech, CK_FLAGS need)
{
    CK_MECHANISM_INFO info;
    CK_RV rv = P11(t->mod, C_GetMechanismInfo, t->slot, mech, &info);
    return rv == CKR_OK && (info.flags & need) == need;
}

void hsm_token_probe_mechanisms(struct hsm_token *t, CK_SESSION_HANDLE s)
{
    (void)s;
    pthread_mutex_lock(&t->lock);
    if (!t->mech_probed) {
        t->has_gcm = has_mech(t, CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
        t->has_rsa_pkcs = has_mech(t, CKM_RSA_PKCS, CKF_DECRYPT);
        t->has_rsa_oaep = has_mech(t, CKM_RSA_PKCS_OAEP, CKF_DECRYPT);
        t->mech_probed = 1;
    }
    pthread_mutex_unlock(&t->lock);
}
