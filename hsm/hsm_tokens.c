/*
 * hsm_tokens.c - pkcs11-tokens: which tokens a PIN source is for.
 *
 * A token counts failed logins and locks itself, so a PIN must only ever
 * be offered to the token it belongs to. pkcs11-pin-source is therefore
 * bound to the tokens listed in pkcs11-tokens, and those are also the only
 * tokens a reference read from a message may name (docs/PROVIDER.md,
 * "PINs and tokens").
 *
 *   pkcs11-tokens = ENTRY[, ENTRY]...
 *   ENTRY = LABEL                               the token labelled LABEL
 *         | pkcs11:token=L;serial=S[?pin-source=SRC]
 *
 * A LABEL is written as in a URI's token= attribute (percent-encode ',',
 * ';', '?', '%' and spaces at either end). The URI form may name the token
 * by any of token, serial, manufacturer, model (RFC 7512 §2.3; serial binds
 * the PIN to one physical token, where a label can be copied) and carry
 * its own pin-source; entries without one get pkcs11-pin-source.
 */
#include "hsm_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"

#define HSM_MAX_TOKEN_ENTRIES 32
#define HSM_MAX_ENTRY 1024

struct hsm_token_binding {
    P11KitUri *match; /* token attributes only */
    char *pin_source; /* the entry's own, else the default; may be NULL */
    char shown[80];   /* for messages: the entry as written, cut */
};

struct hsm_token_list {
    size_t n;
    struct hsm_token_binding e[HSM_MAX_TOKEN_ENTRIES];
};

static int bad(const char *entry, const char *why)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "pkcs11-tokens: entry \"%.80s\": %s", entry, why);
    return ENVCORE_R_BAD_CONFIG;
}

/* p11-kit leaves the token fields a URI does not set zero-filled (and
 * matches them as wildcards); a set field is blank-padded. */
static int field_set(const unsigned char *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] != 0 && f[i] != ' ')
            return 1;
    return 0;
}

static int names_a_token(P11KitUri *p)
{
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(p);
    return field_set(ti->label, sizeof(ti->label)) ||
           field_set(ti->serialNumber, sizeof(ti->serialNumber));
}

static int parse_entry(const char *entry, const char *default_pin_source,
                       struct hsm_token_binding *b)
{
    char uri[3 * HSM_MAX_ENTRY + 16];
    int is_uri = strncasecmp(entry, "pkcs11:", 7) == 0;
    if (strlen(entry) > HSM_MAX_ENTRY)
        return bad(entry, "longer than 1024 bytes");
    if (!is_uri && strpbrk(entry, ";?") != NULL)
        return bad(entry, "a bare label cannot hold ';' or '?': percent-encode them, or "
                          "write the entry as a pkcs11: URI");
    /* p11-kit drops whitespace inside a URI (RFC 7512 allows it for line
     * breaks), so "my token" would bind "mytoken": a bare label's spaces are
     * encoded; in a URI entry they must be written %20. */
    if (is_uri && strpbrk(entry, " \t") != NULL)
        return bad(entry, "a space inside a pkcs11: URI is ignored by URI parsers: write it %20");
    size_t o = (size_t)snprintf(uri, sizeof(uri), "%s", is_uri ? "" : "pkcs11:token=");
    for (const char *c = entry; *c != '\0' && o + 4 < sizeof(uri); c++) {
        if (!is_uri && (*c == ' ' || *c == '\t'))
            o += (size_t)snprintf(uri + o, sizeof(uri) - o, "%%%02X", (unsigned char)*c);
        else
            uri[o++] = *c;
    }
    uri[o] = '\0';
    P11KitUri *p = p11_kit_uri_new();
    if (p == NULL)
        return ENVCORE_R_INTERNAL;
    int r = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, p);
    CK_ULONG nattrs = 0;
    if (r == P11_KIT_URI_OK)
        (void)p11_kit_uri_get_attributes(p, &nattrs);
    const char *why = NULL;
    if (r != P11_KIT_URI_OK)
        why = p11_kit_uri_message(r);
    else if (p11_kit_uri_any_unrecognized(p))
        why = "has an attribute envelope does not know";
    else if (nattrs != 0)
        why = "names objects (object=, id=, type=): an entry names a token only";
    else if (p11_kit_uri_get_pin_value(p) != NULL)
        why = "pin-value would put the PIN in openssl.cnf: use pin-source=file:PATH";
    else if (p11_kit_uri_get_module_path(p) != NULL || p11_kit_uri_get_module_name(p) != NULL)
        why = "module-path/module-name do not belong here: the modules are pkcs11-module";
    else if (!names_a_token(p))
        why = "names no token: give its label (token=) or serial (serial=)";
    if (why != NULL) {
        p11_kit_uri_free(p);
        return bad(entry, why);
    }
    const char *own = p11_kit_uri_get_pin_source(p);
    const char *src = own != NULL ? own : default_pin_source;
    b->pin_source = src != NULL ? strdup(src) : NULL;
    if (src != NULL && b->pin_source == NULL) {
        p11_kit_uri_free(p);
        return ENVCORE_R_INTERNAL;
    }
    b->match = p;
    snprintf(b->shown, sizeof(b->shown), "%s", entry);
    return ENVCORE_R_OK;
}

int hsm_token_list_parse(const char *conf, const char *default_pin_source,
                         struct hsm_token_list **out)
{
    *out = NULL;
    struct hsm_token_list *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return ENVCORE_R_INTERNAL;
    const char *p = conf != NULL ? conf : "";
    int ret = ENVCORE_R_OK;
    while (*p != '\0' && ret == ENVCORE_R_OK) {
        size_t len = strcspn(p, ",");
        char entry[HSM_MAX_ENTRY + 2];
        size_t a = 0, z = len;
        while (a < z && isspace((unsigned char)p[a]))
            a++;
        while (z > a && isspace((unsigned char)p[z - 1]))
            z--;
        if (z - a > HSM_MAX_ENTRY) {
            ret = bad(p, "longer than 1024 bytes");
            break;
        }
        memcpy(entry, p + a, z - a);
        entry[z - a] = '\0';
        if (entry[0] == '\0') {
            ret = bad(conf, "an empty entry (two commas, or a trailing one)");
        } else if (l->n == HSM_MAX_TOKEN_ENTRIES) {
            ret = bad(entry, "more than 32 tokens listed");
        } else {
            ret = parse_entry(entry, default_pin_source, &l->e[l->n]);
            if (ret == ENVCORE_R_OK)
                l->n++;
        }
        p += len;
        if (*p == ',' && *++p == '\0' && ret == ENVCORE_R_OK)
            ret = bad(conf, "a trailing comma");
    }
    if (ret != ENVCORE_R_OK) {
        hsm_token_list_free(l);
        return ret;
    }
    *out = l;
    return ENVCORE_R_OK;
}

void hsm_token_list_free(struct hsm_token_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        p11_kit_uri_free(l->e[i].match);
        free(l->e[i].pin_source);
    }
    free(l);
}

const struct hsm_token_binding *hsm_token_list_match(const struct hsm_token_list *l,
                                                     const CK_TOKEN_INFO *info)
{
    for (size_t i = 0; l != NULL && i < l->n; i++)
        if (p11_kit_uri_match_token_info(l->e[i].match, (CK_TOKEN_INFO *)info))
            return &l->e[i];
    return NULL;
}

const char *hsm_token_binding_pin_source(const struct hsm_token_binding *b)
{
    return b != NULL ? b->pin_source : NULL;
}

int hsm_token_list_empty(const struct hsm_token_list *l)
{
    return l == NULL || l->n == 0;
}

int hsm_token_list_names_absent(const struct hsm_token_list *l, P11KitUri *uri,
                                const struct hsm_token_binding *const *present, size_t npresent)
{
    /* For a URI no present token matched: is there an entry E that the
     * URI's own token attributes agree with (every field both set is
     * equal) and whose token is not present? Then the URI names a
     * configured token that is gone. */
    if (!names_a_token(uri))
        return 0;
    const CK_TOKEN_INFO *u = p11_kit_uri_get_token_info(uri);
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const CK_TOKEN_INFO *e = p11_kit_uri_get_token_info(l->e[i].match);
        int agree = 1;
#define FIELD(f)                                                                                   \
    agree &= !field_set(e->f, sizeof(e->f)) || !field_set(u->f, sizeof(u->f)) ||                   \
             memcmp(e->f, u->f, sizeof(e->f)) == 0
        FIELD(label);
        FIELD(manufacturerID);
        FIELD(model);
        FIELD(serialNumber);
#undef FIELD
        int is_present = 0;
        for (size_t j = 0; j < npresent; j++)
            is_present |= present[j] == &l->e[i];
        if (agree && !is_present)
            return 1;
    }
    return 0;
}

int hsm_uri_names_slot_or_library(P11KitUri *uri)
{
    if (p11_kit_uri_get_slot_id(uri) != (CK_SLOT_ID)-1)
        return 1;
    const CK_SLOT_INFO *si = p11_kit_uri_get_slot_info(uri);
    const CK_INFO *mi = p11_kit_uri_get_module_info(uri);
    return field_set(si->slotDescription, sizeof(si->slotDescription)) ||
           field_set(si->manufacturerID, sizeof(si->manufacturerID)) ||
           field_set(mi->libraryDescription, sizeof(mi->libraryDescription)) ||
           field_set(mi->manufacturerID, sizeof(mi->manufacturerID)) ||
           mi->libraryVersion.major != (CK_BYTE)-1 || mi->libraryVersion.minor != (CK_BYTE)-1;
}
