/*
 * kms_tls_context.c - the slot's client identity: one SSL_CTX with our TLS
 * settings, the CA, the client certificate and its key; see kms_tls.h.
 */
#include "kms_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kms_log.h"

struct kms_tls {
    SSL_CTX *ctx;
    int refs; /* atomic: the slot holds one, each call in flight one */
};

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. TLS 1.3 suites
 * are all ECDHE/AEAD already; OpenSSL's defaults stay. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

typedef struct {
    const char *pw;
    int asked;
} pass_req;

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    pass_req *r = u;
    r->asked = 1;
    const char *pw = r->pw;
    if (pw == NULL || size <= 0)
        return 0;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        return 0;
    /* OpenSSL's pem_password_cb takes a length, not a C string */
    memcpy(buf, pw, n); // NOLINT(bugprone-not-null-terminated-result)
    return (int)n;
}

kms_tls *kms_tls_new(const kms_slot_cfg *cfg, const char *passphrase, int *needs_passphrase,
                     char *err, size_t errlen)
{
    pass_req pr = {.pw = passphrase, .asked = 0};
    *needs_passphrase = 0;
    kms_tls *t = calloc(1, sizeof(*t));
    const char *what = "out of memory";
    ERR_set_mark();
    if (t == NULL || (t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        goto fail;
    t->refs = 1;
    what = "TLS settings refused";
    if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(t->ctx, tls12_ciphers))
        goto fail;
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    what = "ca-file: cannot load CA certificates";
    if (SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1)
        goto fail;
    what = "cert-file: cannot load the client certificate chain";
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file) != 1)
        goto fail;
    SSL_CTX_set_default_passwd_cb(t->ctx, pass_cb);
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, &pr);
    what = "key-file: cannot load the client key (encrypted? log in with its passphrase as PIN)";
    int ok = SSL_CTX_use_PrivateKey_file(t->ctx, cfg->key_file, SSL_FILETYPE_PEM) == 1;
    /* The passphrase is the caller's; drop our pointer to it now. */
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                               ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
            what = "key-file does not match cert-file";
        else
            *needs_passphrase = pr.asked;
        goto fail;
    }
    what = "key-file does not match cert-file";
    if (SSL_CTX_check_private_key(t->ctx) != 1)
        goto fail;
    ERR_pop_to_mark();
    return t;
fail:
    kms_debug_openssl(what);
    ERR_pop_to_mark();
    snprintf(err, errlen, "[%s] %s", cfg->section, what);
    kms_tls_free(t);
    return NULL;
}

kms_tls *kms_tls_up_ref(kms_tls *t)
{
    if (t != NULL)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void kms_tls_free(kms_tls *t)
{
    if (t == NULL)
        return;
    /* refs is 0 only for a half-built context (kms_tls_new's failure path). */
    if (__atomic_load_n(&t->refs, __ATOMIC_ACQUIRE) > 0 &&
        __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

SSL_CTX *kms_tls_ssl_ctx(const kms_tls *t)
{
    return t->ctx;
}
