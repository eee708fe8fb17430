/*
 * rsa_forms.c - see rsa_forms.h.
 */
#include "rsa_forms.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/obj_mac.h>
#include <openssl/objects.h>

static const struct {
    int nid;
    const char *alt; /* OpenSSL's provider spelling */
} hashes[ENVCORE_OAEP_HASHES] = {
    {NID_sha1, "SHA-1"},      {NID_sha224, "SHA2-224"}, {NID_sha256, "SHA2-256"},
    {NID_sha384, "SHA2-384"}, {NID_sha512, "SHA2-512"},
};

int envcore_oaep_index(int nid)
{
    for (int i = 0; i < ENVCORE_OAEP_HASHES; i++)
        if (hashes[i].nid == nid)
            return i;
    return -1;
}

int envcore_oaep_nid(const char *name)
{
    int n = OBJ_sn2nid(name);
    if (n == NID_undef)
        n = OBJ_ln2nid(name);
    for (int i = 0; n == NID_undef && i < ENVCORE_OAEP_HASHES; i++)
        if (strcasecmp(name, hashes[i].alt) == 0)
            n = hashes[i].nid;
    return envcore_oaep_index(n) >= 0 ? n : NID_undef;
}

static long now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

int envcore_rsa_form_get(envcore_rsa_forms *c, int oaep_nid, int mgf1_nid, int label, long no_ttl_s)
{
    int h = envcore_oaep_index(oaep_nid), m = envcore_oaep_index(mgf1_nid), l = label != 0;
    if (h < 0 || m < 0)
        return 0;
    unsigned char st = __atomic_load_n(&c->state[h][m][l], __ATOMIC_ACQUIRE);
    if (st == 1)
        return 1;
    if (st == 2 && (no_ttl_s < 0 ||
                    now_s() - __atomic_load_n(&c->no_since[h][m][l], __ATOMIC_RELAXED) < no_ttl_s))
        return 0;
    return -1;
}

void envcore_rsa_form_set(envcore_rsa_forms *c, int oaep_nid, int mgf1_nid, int label, int yes)
{
    int h = envcore_oaep_index(oaep_nid), m = envcore_oaep_index(mgf1_nid), l = label != 0;
    if (h < 0 || m < 0)
        return;
    if (!yes)
        __atomic_store_n(&c->no_since[h][m][l], now_s(), __ATOMIC_RELAXED);
    __atomic_store_n(&c->state[h][m][l], yes ? 1 : 2, __ATOMIC_RELEASE);
}
