/*
 * rsa_form_check.c - does this key's device really decrypt this RSA form?
 *
 * Tokens accept OAEP parameters they do not honour: SoftHSM2 2.6.1 (as
 * packaged in Debian 12) returns CKR_OK from C_DecryptInit for OAEP with
 * SHA-256 or with a label, then decrypts as if it were SHA-1 without a label
 * and fails. C_GetMechanismInfo cannot say which hashes work either. So the
 * only trustworthy answer is a round trip: encrypt a random block in
 * software with the public half and the exact parameters, let the device
 * decrypt it, compare. The answer is cached per key; it costs one private
 * operation per form the first time a form is used.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "rsa_form_check.h"
#include "rsa_forms.h"
#include "wrap.h"

/* a "no" is asked again after this long: a passing token failure looks the
 * same as a form it cannot do */
#define NO_TTL_S 300

int envprov_rsa_form_ok(envprov_ctx *pc, envkey *k, const envkey_rsa_params *p)
{
    if (p->padding != RSA_PKCS1_OAEP_PADDING) /* v1.5: the mechanism list is enough */
        return k->ops->rsa_supports(k->be, p);
    int li = p->label_len > 0;
    if (envcore_oaep_index(p->oaep_md) < 0 || envcore_oaep_index(p->mgf1_md) < 0)
        return 0;
    int known = envcore_rsa_form_get(&k->rsa_forms, p->oaep_md, p->mgf1_md, li, NO_TTL_S);
    if (known >= 0)
        return known;
    int quick = k->ops->rsa_supports(k->be, p); /* refused at init? */
    if (quick <= 0) {
        if (quick == 0)
            envcore_rsa_form_set(&k->rsa_forms, p->oaep_md, p->mgf1_md, li, 0);
        return quick;
    }
    static const unsigned char probe_label[] = "envelope rsa form probe";
    envkey_rsa_params q = *p;
    if (li) {
        q.label = probe_label;
        q.label_len = sizeof(probe_label) - 1;
    }
    unsigned char msg[32], ct[1024], pt[1024];
    size_t ctlen = 0, ptlen = 0;
    if (RAND_bytes(msg, sizeof(msg)) != 1 ||
        envprov_rsa_public_encrypt(pc, k, &q, msg, sizeof(msg), ct, &ctlen, sizeof(ct)) !=
            ENVCORE_R_OK)
        return -1;
    ERR_set_mark();
    int r = k->ops->rsa_decrypt(k->be, &q, ct, ctlen, pt, &ptlen, sizeof(pt));
    int ok = r == ENVCORE_R_OK && ptlen == sizeof(msg) && CRYPTO_memcmp(pt, msg, sizeof(msg)) == 0;
    OPENSSL_cleanse(pt, sizeof(pt));
    if (r == ENVCORE_R_OK || r == ENVCORE_R_AUTHENTICATION_FAILED ||
        r == ENVCORE_R_MECHANISM_NOT_SUPPORTED) {
        ERR_pop_to_mark(); /* an answer, not an error */
        envcore_debug("rsa: %s decrypts OAEP(%s, mgf1 %s, %s label): %s", k->uri ? k->uri : "key",
                      OBJ_nid2sn(p->oaep_md), OBJ_nid2sn(p->mgf1_md), li ? "with" : "no",
                      ok ? "yes" : "no");
        envcore_rsa_form_set(&k->rsa_forms, p->oaep_md, p->mgf1_md, li, ok);
        return ok;
    }
    ERR_clear_last_mark(); /* a real failure (device, PIN): keep its reason */
    return -1;
}
