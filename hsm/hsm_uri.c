/*
 * hsm_uri.c - RFC 7512 pkcs11: URIs, parsed by p11-kit.
 *
 * Accepted path attributes: token, manufacturer, serial, model, object, id,
 * type (secret-key | private | public), and the slot and library ones that
 * p11-kit parses and the token/module match applies (hsm_find.c): slot-id,
 * slot-description, slot-manufacturer, library-description,
 * library-manufacturer, library-version; query attributes: pin-source,
 * pin-value (works, but puts the PIN in process listings and shell history:
 * prefer pin-source), module-path, module-name. Anything else is refused so
 * that a misspelt attribute cannot silently widen a match; the refusal lists
 * every accepted attribute (HSM_URI_ACCEPTED).
 */
#include "hsm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"

/* Every attribute hsm_uri_parse accepts, for the refusal message. */
#define HSM_URI_ACCEPTED                                                                           \
    "path attributes token, manufacturer, serial, model, object, id, type, slot-id, "              \
    "slot-description, slot-manufacturer, library-description, library-manufacturer, "             \
    "library-version; query attributes pin-source, pin-value, module-path, module-name"

int hsm_is_pkcs11_uri(const char *uri)
{
    return uri != NULL && strncasecmp(uri, "pkcs11:", 7) == 0;
}

int hsm_uri_parse(const char *uri, P11KitUri **out)
{
    *out = NULL;
    if (strlen(uri) > 4096) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI, "pkcs11 URI longer than 4096 bytes");
        return ENVCORE_R_BAD_URI;
    }
    /* p11-kit flags unknown path attributes but ignores unknown query
     * attributes: a misspelt "pin-sorce" would silently mean "no PIN
     * source". Check the query's names ourselves. */
    const char *q = strchr(uri, '?');
    while (q != NULL && *q != '\0') {
        q++;
        size_t nl = strcspn(q, "=&");
        static const char *const known[] = {"pin-source", "pin-value", "module-path",
                                            "module-name"};
        int ok = 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= nl == strlen(known[i]) && strncasecmp(q, known[i], nl) == 0;
        if (!ok) {
            ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                          "pkcs11 URI has a query attribute envelope does not know (\"%.*s\"; "
                          "accepted: " HSM_URI_ACCEPTED ")",
                          (int)(nl > 40 ? 40 : nl), q);
            return ENVCORE_R_BAD_URI;
        }
        q = strchr(q, '&');
    }
    P11KitUri *p = p11_kit_uri_new();
    if (p == NULL)
        return ENVCORE_R_INTERNAL;
    int r = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, p);
    if (r != P11_KIT_URI_OK) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI, "bad pkcs11 URI: %s", p11_kit_uri_message(r));
        p11_kit_uri_free(p);
        return ENVCORE_R_BAD_URI;
    }
    if (p11_kit_uri_any_unrecognized(p)) {
        ENVCORE_RAISE(
            ENVCORE_R_BAD_URI,
            "pkcs11 URI has an attribute envelope does not know (allowed: " HSM_URI_ACCEPTED ")");
        p11_kit_uri_free(p);
        return ENVCORE_R_BAD_URI;
    }
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(p, CKA_CLASS);
    if (cls != NULL && cls->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        CK_OBJECT_CLASS c = *(CK_OBJECT_CLASS *)cls->pValue;
        if (c != CKO_SECRET_KEY && c != CKO_PRIVATE_KEY && c != CKO_PUBLIC_KEY) {
            ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                          "pkcs11 URI type must be secret-key, private or public for a KEK");
            p11_kit_uri_free(p);
            return ENVCORE_R_BAD_URI;
        }
    }
    *out = p;
    return ENVCORE_R_OK;
}

void hsm_trim_label(char *dst, const unsigned char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
    while (n > 0 && dst[n - 1] == ' ')
        dst[--n] = '\0';
}

char *hsm_uri_canonical(const struct hsm_token *t, const char *label, const unsigned char *id,
                        size_t id_len, CK_OBJECT_CLASS cls)
{
    P11KitUri *p = p11_kit_uri_new();
    if (p == NULL)
        return NULL;
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(p);
    memset(ti->label, ' ', sizeof(ti->label));
    memcpy(ti->label, t->info.label, sizeof(ti->label));
    CK_ATTRIBUTE a;
    if (label != NULL && *label != '\0') {
        a.type = CKA_LABEL;
        a.pValue = (void *)label;
        a.ulValueLen = strlen(label);
        p11_kit_uri_set_attribute(p, &a);
    }
    if (id_len > 0) {
        a.type = CKA_ID;
        a.pValue = (void *)id;
        a.ulValueLen = id_len;
        p11_kit_uri_set_attribute(p, &a);
    }
    a.type = CKA_CLASS;
    a.pValue = &cls;
    a.ulValueLen = sizeof(cls);
    p11_kit_uri_set_attribute(p, &a);
    char *s = NULL;
    if (p11_kit_uri_format(p, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
        s = NULL;
    p11_kit_uri_free(p);
    return s;
}
