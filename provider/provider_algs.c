/*
 * provider_algs.c - the algorithms the provider publishes, from what its
 * backends hold: a key kind no backend of this build can hold has no
 * KEYMGMT, cipher or KEM (as tpm2-openssl publishes only what the device
 * supports), and every backend's scheme gets a STORE (with "SCHEME-list"
 * where the backend can list a whole home).
 */
#include <stdlib.h>
#include <string.h>

#include "kek_alias.h"
#include "provider.h"

static unsigned all_kinds(const envprov_ctx *pc)
{
    unsigned k = 0;
    for (size_t b = 0; b < pc->nbackends; b++)
        k |= pc->backends[b]->kinds;
    return k;
}

static void add(OSSL_ALGORITHM *a, size_t *n, const char *names, const OSSL_DISPATCH *fns,
                const char *desc)
{
    a[*n].algorithm_names = names;
    a[*n].property_definition = ENVPROV_PROPS;
    a[*n].implementation = fns;
    a[*n].algorithm_description = desc;
    (*n)++;
}

int envprov_algs_build(envprov_ctx *pc)
{
    unsigned kinds = pc->kinds = all_kinds(pc);
    size_t nk = 0, na = 0, nm = 0, ns = 0;
    /* at most three kinds; three stores per backend; one terminator each */
    pc->keymgmt_algs = calloc(4, sizeof(OSSL_ALGORITHM));
    pc->asym_algs = calloc(4, sizeof(OSSL_ALGORITHM));
    pc->kem_algs = calloc(4, sizeof(OSSL_ALGORITHM));
    pc->store_algs = calloc(3 * pc->nbackends + 2, sizeof(OSSL_ALGORITHM));
    pc->store_names = calloc(pc->nbackends, 128);
    if (pc->keymgmt_algs == NULL || pc->asym_algs == NULL || pc->kem_algs == NULL ||
        pc->store_algs == NULL || (pc->nbackends > 0 && pc->store_names == NULL))
        return 0;
    if (kinds & ENVCORE_KIND(ENVKEY_RSA)) {
        add(pc->keymgmt_algs, &nk, ENVPROV_NAMES_RSA, envprov_rsa_keymgmt_functions,
            "RSA keys held in a device");
        add(pc->asym_algs, &na, ENVPROV_OPNAME_RSA, envprov_rsa_asym_cipher_functions, NULL);
        add(pc->kem_algs, &nm, ENVPROV_OPNAME_RSA, envprov_kem_functions, NULL);
    }
    if (kinds & ENVCORE_KIND(ENVKEY_AES_KEK)) {
        add(pc->keymgmt_algs, &nk, ENVPROV_NAMES_AES_KEK, envprov_aes_keymgmt_functions,
            "AES-256 KEKs held in a device");
        add(pc->asym_algs, &na, ENVPROV_OPNAME_AES, envprov_aead_asym_cipher_functions, NULL);
        add(pc->kem_algs, &nm, ENVPROV_OPNAME_AES, envprov_kem_functions, NULL);
    }
    if (kinds & ENVCORE_KIND(ENVKEY_EC_P256)) {
        add(pc->keymgmt_algs, &nk, ENVPROV_NAMES_EC, envprov_ec_keymgmt_functions,
            "EC P-256 KEKs held in a device");
        add(pc->asym_algs, &na, ENVPROV_OPNAME_EC, envprov_aead_asym_cipher_functions, NULL);
        add(pc->kem_algs, &nm, ENVPROV_OPNAME_EC, envprov_kem_functions, NULL);
    }
    for (size_t b = 0; b < pc->nbackends; b++) {
        const envcore_backend *be = pc->backends[b];
        add(pc->store_algs, &ns, be->scheme, envprov_store_functions, be->description);
        if (be->list != NULL) {
            char *name = pc->store_names + 128 * b;
            snprintf(name, 64, "%s" ENVPROV_LIST_SUFFIX, be->scheme);
            add(pc->store_algs, &ns, name, envprov_list_store_functions,
                "a whole key home, listed without opening keys");
        }
        if (be->check != NULL) {
            char *name = pc->store_names + 128 * b + 64;
            snprintf(name, 64, "%s" ENVELOPE_CHECK_STORE_SUFFIX, be->scheme);
            add(pc->store_algs, &ns, name, envprov_check_store_functions,
                "the weaknesses of KEKs (envelope kek check), read without using them");
        }
    }
    /* "alias:NAME": a KEK's versions by the name openssl.cnf gives them */
    add(pc->store_algs, &ns, ENVPROV_ALIAS_SCHEME, envprov_alias_store_functions,
        "KEK aliases of the provider's configuration (kek.NAME)");
    return 1;
}

void envprov_algs_free(envprov_ctx *pc)
{
    free(pc->keymgmt_algs);
    free(pc->asym_algs);
    free(pc->kem_algs);
    free(pc->store_algs);
    free(pc->store_names);
}
