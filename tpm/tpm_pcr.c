/*
 * tpm_pcr.c - PCR selections: "sha256:0,7" -> TPML_PCR_SELECTION.
 *
 * One bank per policy (Part 2 §10.6.2 allows several; one is what PCR
 * policies in practice use, and it keeps the grammar unambiguous). PCRs
 * 0..23, the PC Client platform's set, each at most once, at least one.
 */
#include <string.h>

#include "tpm_int.h"

static const struct {
    const char *name;
    TPMI_ALG_HASH alg;
} banks[] = {
    {"sha1", TPM2_ALG_SHA1},
    {"sha256", TPM2_ALG_SHA256},
    {"sha384", TPM2_ALG_SHA384},
    {"sha512", TPM2_ALG_SHA512},
};

static int bad_pcrs(const char *why)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                  "PCR selection: %s; expected BANK:N[,N...] with BANK sha1|sha256|sha384|"
                  "sha512 and N 0-23, e.g. sha256:0,7",
                  why);
    return ENVCORE_R_BAD_ARGUMENT;
}

int envtpm_pcrs_parse(const char *spec, TPML_PCR_SELECTION *sel)
{
    const char *colon, *p;
    size_t i, blen;
    int nsel = 0;

    memset(sel, 0, sizeof(*sel));
    if (spec == NULL || strnlen(spec, 256) >= 256)
        return bad_pcrs("missing or too long");
    colon = strchr(spec, ':');
    if (colon == NULL)
        return bad_pcrs("no bank");
    blen = (size_t)(colon - spec);
    for (i = 0; i < sizeof(banks) / sizeof(banks[0]); i++)
        if (strlen(banks[i].name) == blen && memcmp(banks[i].name, spec, blen) == 0)
            break;
    if (i == sizeof(banks) / sizeof(banks[0]))
        return bad_pcrs("unknown bank");
    sel->count = 1;
    sel->pcrSelections[0].hash = banks[i].alg;
    sel->pcrSelections[0].sizeofSelect = 3; /* 24 PCRs */
    p = colon + 1;
    for (;;) {
        unsigned n = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            n = n * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || n > 23 || (digits > 1 && p[-digits] == '0'))
            return bad_pcrs("bad PCR number");
        if (sel->pcrSelections[0].pcrSelect[n / 8] & (1u << (n % 8)))
            return bad_pcrs("PCR listed twice");
        sel->pcrSelections[0].pcrSelect[n / 8] |= (uint8_t)(1u << (n % 8));
        nsel++;
        if (*p == '\0')
            break;
        if (*p != ',')
            return bad_pcrs("unexpected character");
        p++;
    }
    return nsel > 0 ? ENVCORE_R_OK : bad_pcrs("no PCR");
}

int envtpm_pcrs_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b)
{
    if (a->count != b->count || a->count > TPM2_NUM_PCR_BANKS)
        return 0;
    for (UINT32 i = 0; i < a->count; i++) {
        const TPMS_PCR_SELECTION *x = &a->pcrSelections[i], *y = &b->pcrSelections[i];
        if (x->hash != y->hash || x->sizeofSelect != y->sizeofSelect ||
            x->sizeofSelect > sizeof(x->pcrSelect) ||
            memcmp(x->pcrSelect, y->pcrSelect, x->sizeofSelect) != 0)
            return 0;
    }
    return 1;
}
