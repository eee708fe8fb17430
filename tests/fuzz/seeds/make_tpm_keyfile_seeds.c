/*
 * make_tpm_keyfile_seeds.c - TSS2 PRIVATE KEY seeds with a PCR policy (and
 * PolicyAuthValue) for fuzz_tpm_keyfile, written by our own writer
 * (envtpm_keyfile_write) from a committed seed key file: the key files
 * tpm2:file= keys with pcrs= get. Built and run by hand (the files it wrote
 * are committed):
 *
 *   cc -D_GNU_SOURCE -Itpm -Icore -Iinclude tests/fuzz/seeds/make_tpm_keyfile_seeds.c \
 *     build/normal/tpm/libenvelope_tpm.a build/normal/core/libenvelope_core.a \
 *     build/normal/core/libenvelope_secmem.a $(pkg-config --libs tss2-esys tss2-mu libcrypto) \
 *     -o /tmp/mk && /tmp/mk tests/fuzz/corpus/tpm_keyfile/rsa.pem tests/fuzz/corpus/tpm_keyfile
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpm_int.h"

int main(int argc, char **argv)
{
    envtpm_keyfile kf;
    if (argc != 3 || envtpm_keyfile_read(argv[1], &kf) != ENVCORE_R_OK) {
        fprintf(stderr, "usage: %s SEED.pem OUTDIR (a readable TSS2 key file)\n", argv[0]);
        return 1;
    }
    static const struct {
        const char *name;
        int auth;
        uint8_t banks, pcrs0;
        uint16_t digest;
    } v[] = {{"seed-pcr-policy.pem", 0, 1, 0x81, 32},
             {"seed-pcr-authvalue.pem", 1, 1, 0x01, 32},
             {"seed-pcr-two-banks.pem", 0, 2, 0x80, 0}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        envtpm_keyfile k = kf;
        k.has_pcr_policy = 1;
        k.policy_auth_value = v[i].auth;
        k.pcr_digest.size = v[i].digest;
        memset(k.pcr_digest.buffer, 0xa5, v[i].digest);
        memset(&k.pcrs, 0, sizeof(k.pcrs));
        k.pcrs.count = v[i].banks;
        for (uint8_t b = 0; b < v[i].banks; b++) {
            k.pcrs.pcrSelections[b].hash = b ? TPM2_ALG_SHA1 : TPM2_ALG_SHA256;
            k.pcrs.pcrSelections[b].sizeofSelect = 3;
            k.pcrs.pcrSelections[b].pcrSelect[0] = v[i].pcrs0;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[2], v[i].name);
        unlink(path);
        if (envtpm_keyfile_write(path, &k) != ENVCORE_R_OK) {
            fprintf(stderr, "%s: not written\n", path);
            return 1;
        }
    }
    return 0;
}
