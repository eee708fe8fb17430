/*
 * tpm_it_engine.c - TPM KEKs next to a registered ENGINE: tpm_run.sh writes
 * an openssl.cnf that loads libp11's pkcs11 engine (libengine-pkcs11-openssl,
 * with SoftHSM2 as its module), and the scenario registers it for all it
 * implements, as `openssl` and every OPENSSL_init_ssl() caller do. The
 * engine then takes OpenSSL's EC and RSA pkey contexts, which broke the
 * salt tss2-esys computed for every session (tpm/tpm_salt.c). Checked: every
 * kind of salted session works (HMAC session, PCR policy session, key
 * creation with an encrypted auth value), and the rest of the process still
 * gets the engine exactly as before - nothing was switched off globally.
 */
/* ENGINE_* is deprecated in 3.0 and hidden by the tree-wide
 * OPENSSL_NO_DEPRECATED; this test is about engines, so it uses them. */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdio.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "tpm_it.h"

static const char *engine_of(int nid)
{
    ENGINE *e = ENGINE_get_pkey_meth_engine(nid);
    static _Thread_local char id[64];

    if (e == NULL)
        return "none";
    snprintf(id, sizeof(id), "%s", ENGINE_get_id(e));
    ENGINE_finish(e);
    return id;
}

/* What the rest of the process gets for a software EC key: with the engine
 * registered, OpenSSL 3.0 hands EVP_PKEY_CTX_new_id to it and the key is a
 * legacy one (no provider). */
static int sw_ec_key_is_legacy(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    EVP_PKEY *k = NULL;
    int legacy;

    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_true(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) > 0);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    legacy = EVP_PKEY_get0_provider(k) == NULL;
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(c);
    return legacy;
}

static void engine_registered(void **state)
{
    struct envtpm_ctx *t;
    struct envtpm_key *ec, *rsa, *pcr;
    char before_ec[64], before_rsa[64], src[4200], uri[4300];

    (void)state;
    assert_int_equal(OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL), 1);
    ENGINE_register_all_complete();
    /* the precondition that made every session fail: the engine owns EC
     * and RSA pkey methods for the whole process */
    snprintf(before_ec, sizeof(before_ec), "%s", engine_of(EVP_PKEY_EC));
    snprintf(before_rsa, sizeof(before_rsa), "%s", engine_of(EVP_PKEY_RSA));
    if (strcmp(before_ec, "pkcs11") != 0 || strcmp(before_rsa, "pkcs11") != 0)
        fail_msg("the pkcs11 engine is not registered (EC: %s, RSA: %s); check OPENSSL_CONF",
                 before_ec, before_rsa);
    assert_true(sw_ec_key_is_legacy());

    t = it_ctx(NULL);
    if (envtpm_ctx_connect(t) != ENVCORE_R_OK)
        fail_msg("connect next to the engine: %s", test_err_message());
    it_create(t, "tpm2:handle=0x81000101", ENVTPM_KEY_EC_P256, NULL, NULL);
    it_create(t, "tpm2:handle=0x81000102", ENVTPM_KEY_RSA_2048, NULL, NULL);
    /* an auth value in inSensitive: Create runs with the session's DECRYPT */
    it_sh("umask 077; printf 'engine-pin' > '%s'", it_path("pin"));
    snprintf(src, sizeof(src), "file:%s", it_path("pin"));
    it_create(t, "tpm2:handle=0x81000103", ENVTPM_KEY_EC_P256, "sha256:16", src);
    ec = it_open(t, "tpm2:handle=0x81000101");
    rsa = it_open(t, "tpm2:handle=0x81000102");
    snprintf(uri, sizeof(uri), "tpm2:handle=0x81000103;pcrs=sha256:16;pin-source=%s", src);
    pcr = it_open(t, uri);
    it_ec_roundtrip(ec);
    it_rsa_roundtrip(rsa);
    it_ec_roundtrip(pcr); /* a salted policy session per use */
    /* one HMAC session per connection plus one policy session per use */
    assert_true(envtpm_salted_sessions(t) >= 2);

    /* nothing changed for the rest of the process */
    assert_string_equal(engine_of(EVP_PKEY_EC), before_ec);
    assert_string_equal(engine_of(EVP_PKEY_RSA), before_rsa);
    assert_true(sw_ec_key_is_legacy());
    envtpm_key_free(ec);
    envtpm_key_free(rsa);
    envtpm_key_free(pcr);
    envtpm_ctx_free(t);
    ERR_clear_error();
}

const struct CMUnitTest it_engine_tests[] = {
    cmocka_unit_test(engine_registered),
};
const size_t it_engine_count = sizeof(it_engine_tests) / sizeof(it_engine_tests[0]);
