/*
 * tpm_it_interop.c - key files shared with other TPM software:
 *  - ours are read by tpm2-openssl 1.1.1 (its TSS2 PRIVATE KEY decoder, same
 *    public key as ours) and their pubkey/privkey octet strings load with
 *    tpm2_load -u/-r and decrypt with tpm2_rsadecrypt (Debian's tpm2-tools
 *    5.4 `tpm2_load -r key.pem` does not read PEM files, even its own);
 *  - keys made by tpm2_create + tpm2_encodeobject (and tpm2_evictcontrol)
 *    are used by us. tpm2-tools 5.4 writes emptyAuth inverted: `-p`
 *    ("needs an auth value") gives emptyAuth TRUE, no -p gives FALSE. We
 *    follow the key-file spec, so the test passes -p for the key WITHOUT an
 *    auth value and a pin source for the one with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "envkey.h"
#include "tpm_it.h"

static void write_file(const char *name, const unsigned char *b, size_t n)
{
    FILE *f = fopen(it_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void ours_in_tpm2_tools(void **state)
{
    struct envtpm_ctx *t = it_ctx(NULL);
    struct envtpm_key *k;
    char uri[8400], dir[4096];
    unsigned char dek[32], ct[512];
    size_t ctlen = 0;

    snprintf(dir, sizeof(dir), "%s", it_path(""));
    snprintf(uri, sizeof(uri), "tpm2:file=%srsa.pem", dir);
    it_create(t, uri, ENVTPM_KEY_RSA_2048, NULL, NULL);
    snprintf(uri, sizeof(uri), "tpm2:file=%sec.pem", dir);
    it_create(t, uri, ENVTPM_KEY_EC_P256, NULL, NULL);
    k = it_open(t, uri);
    {
        FILE *f = fopen(it_path("ec-ours.pub"), "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, envtpm_key_public(k)), 1);
        fclose(f);
    }
    envtpm_key_free(k);
    snprintf(uri, sizeof(uri), "tpm2:file=%srsa.pem", dir);
    k = it_open(t, uri);
    assert_int_equal(RAND_bytes(dek, 32), 1);
    /* no label: tpm2_rsadecrypt's default */
    it_sw_oaep(envtpm_key_public(k), NULL, 0, dek, 32, ct, &ctlen);
    write_file("ct.bin", ct, ctlen);
    write_file("dek.bin", dek, 32);
    envtpm_key_free(k);
    envtpm_ctx_free(t);
    /* the two OCTET STRINGs are TPM2B_PUBLIC and TPM2B_PRIVATE */
    /* (swtpm has no resource manager: flush after every tool that loads) */
    it_sh("cd '%s' && for k in rsa ec; do "
          "set -- $(openssl asn1parse -in $k.pem | awk -F: '/OCTET STRING/ {print $1+0}') && "
          "[ $# -eq 2 ] && "
          "openssl asn1parse -in $k.pem -strparse $1 -noout -out $k.pub 2>/dev/null; "
          "openssl asn1parse -in $k.pem -strparse $2 -noout -out $k.priv 2>/dev/null; "
          "tpm2_load -C 0x81000001 -u $k.pub -r $k.priv -c $k.ctx >/dev/null && "
          "tpm2_flushcontext -t || exit 1; done && "
          "tpm2_readpublic -c ec.ctx | grep -q 'NIST p256' && tpm2_flushcontext -t && "
          "tpm2_rsadecrypt -c rsa.ctx -s oaep -o out.bin ct.bin && tpm2_flushcontext -t && "
          "cmp out.bin dek.bin",
          dir);
    /* tpm2-openssl reads our file and finds the same public key */
    it_sh("cd '%s' && TPM2OPENSSL_TCTI=\"$ENVELOPE_TPM2_TCTI\" openssl pkey -provider tpm2 "
          "-provider default -in ec.pem -pubout -out ec-tpm2openssl.pub && "
          "cmp ec-tpm2openssl.pub ec-ours.pub && tpm2_flushcontext -t",
          dir);
}

static void tools_keys_used_by_us(void **state)
{
    struct envtpm_ctx *t;
    struct envtpm_key *k;
    char uri[8400], dir[4096];

    snprintf(dir, sizeof(dir), "%s", it_path(""));
    /* decrypt-only keys made by tpm2-tools, one with an auth value */
    it_sh("cd '%s' && A='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt' && "
          "tpm2_create -C 0x81000001 -G rsa2048 -a \"$A\" -u r.pub -r r.priv >/dev/null && "
          "tpm2_encodeobject -C 0x81000001 -u r.pub -r r.priv -p -o tools-rsa.pem && "
          "tpm2_create -C 0x81000001 -G ecc256 -a \"$A\" -p tools-pin -u e.pub -r e.priv "
          ">/dev/null && "
          "tpm2_encodeobject -C 0x81000001 -u e.pub -r e.priv -o tools-ec.pem && "
          "tpm2_load -C 0x81000001 -u e.pub -r e.priv -c e.ctx >/dev/null && "
          "tpm2_evictcontrol -C o -c e.ctx 0x81000401 >/dev/null && tpm2_flushcontext -t && "
          "tpm2_create -C 0x81000001 -G rsa2048 -u s.pub -r s.priv >/dev/null && "
          "tpm2_encodeobject -C 0x81000001 -u s.pub -r s.priv -p -o sign.pem && "
          /* without a resource manager tpm2-tools 5.4 leaves sessions loaded
           * (two in this sequence); swtpm has three slots */
          "tpm2_flushcontext -l",
          dir);
    it_sh("printf tools-pin > '%spin' && chmod 600 '%spin'", dir, dir);
    t = it_ctx(NULL);
    snprintf(uri, sizeof(uri), "tpm2:file=%stools-rsa.pem", dir);
    k = it_open(t, uri);
    it_rsa_roundtrip(k);
    envtpm_key_free(k);
    /* its scheme is null, so the TPM itself would do PKCS#1 v1.5 with it:
     * we refuse (no padding oracle), in the backend and below it */
    {
        envkey *ek = NULL;
        envkey_rsa_params rp = {.padding = RSA_PKCS1_PADDING};
        unsigned char ct[256], out[256];
        size_t outlen = 0;
        memset(ct, 0x01, sizeof(ct));
        ct[0] = 0;
        assert_int_equal(envtpm_open_key(t, uri, 0, &ek), ENVCORE_R_OK);
        assert_int_equal(ek->ops->rsa_supports(ek->be, &rp), 0);
        test_err_clear();
        assert_int_equal(ek->ops->rsa_decrypt(ek->be, &rp, ct, sizeof(ct), out, &outlen,
                                              sizeof(out)),
                         ENVCORE_R_MECHANISM_NOT_SUPPORTED);
        assert_int_equal(envtpm_rsa_decrypt(ek->be, 0, NULL, 0, ct, sizeof(ct), out, &outlen,
                                            sizeof(out)),
                         ENVCORE_R_MECHANISM_NOT_SUPPORTED);
        envkey_free(ek);
    }
    /* an RSAES-scheme key (v1.5 only) is refused when opened */
    it_sh("cd '%s' && tpm2_create -C 0x81000001 -G rsa2048:rsaes:null -a "
          "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt' -u v.pub -r v.priv "
          ">/dev/null && tpm2_encodeobject -C 0x81000001 -u v.pub -r v.priv -p -o rsaes.pem && "
          "tpm2_flushcontext -l",
          dir);
    snprintf(uri, sizeof(uri), "tpm2:file=%srsaes.pem", dir);
    k = NULL;
    assert_int_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_MECHANISM_NOT_SUPPORTED);
    assert_null(k);
    snprintf(uri, sizeof(uri), "tpm2:file=%stools-ec.pem;pin-source=file:%spin", dir, dir);
    k = it_open(t, uri);
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    snprintf(uri, sizeof(uri), "tpm2:handle=0x81000401;pin-source=file:%spin", dir);
    k = it_open(t, uri);
    it_ec_roundtrip(k);
    envtpm_key_free(k);
    /* a signing key made by tpm2-tools (default attributes) is refused */
    snprintf(uri, sizeof(uri), "tpm2:file=%ssign.pem", dir);
    k = NULL;
    assert_int_equal(envtpm_key_open(t, uri, &k), ENVCORE_R_KEY_NOT_SAFE);
    assert_null(k);
    envtpm_ctx_free(t);
}

const struct CMUnitTest it_interop_tests[] = {
    cmocka_unit_test(ours_in_tpm2_tools),
    cmocka_unit_test(tools_keys_used_by_us),
};
const size_t it_interop_count = sizeof(it_interop_tests) / sizeof(it_interop_tests[0]);
