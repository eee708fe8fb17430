/*
 * tpm_keyfile.c - the TSS2 PRIVATE KEY PEM file, the loadable-key format
 * tpm2-tools (tpm2_encodeobject, tpm2_load -r), tpm2-openssl and
 * tpm2-tss-engine read and write ("ASN.1 Specification for TPM 2.0 Key
 * Files", OID 2.23.133.10.1.3 = loadable key):
 *
 *   TPMKey ::= SEQUENCE {
 *     type       OBJECT IDENTIFIER,
 *     emptyAuth  [0] EXPLICIT BOOLEAN OPTIONAL,
 *     policy     [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
 *     secret     [2] EXPLICIT OCTET STRING OPTIONAL,
 *     parent     INTEGER,
 *     pubkey     OCTET STRING,   -- marshalled TPM2B_PUBLIC
 *     privkey    OCTET STRING }  -- marshalled TPM2B_PRIVATE
 *   TPMPolicy ::= SEQUENCE {
 *     commandCode   [0] EXPLICIT INTEGER,
 *     commandPolicy [1] EXPLICIT OCTET STRING }  -- the command's parameters
 *
 * Every outside byte goes through a bounded reader: the file is read with a
 * size cap, DER with OpenSSL's length-checked decoder, and the TPM
 * structures with Tss2_MU unmarshallers that must consume exactly the
 * octet string.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "tpm_int.h"

#define KEYFILE_PEM_NAME "TSS2 PRIVATE KEY"
#define KEYFILE_OID_LOADABLE "2.23.133.10.1.3"
#define KEYFILE_MAX 16384

typedef struct {
    ASN1_INTEGER *code;
    ASN1_OCTET_STRING *policy;
} TSSPOLICY;

typedef struct {
    ASN1_OBJECT *type;
    ASN1_BOOLEAN emptyAuth;
    STACK_OF(TSSPOLICY) *policy;
    ASN1_OCTET_STRING *secret;
    ASN1_INTEGER *parent;
    ASN1_OCTET_STRING *pubkey;
    ASN1_OCTET_STRING *privkey;
} TSSPRIVKEY;

DEFINE_STACK_OF(TSSPOLICY)

ASN1_SEQUENCE(TSSPOLICY) = {
    ASN1_EXP(TSSPOLICY, code, ASN1_INTEGER, 0),
    ASN1_EXP(TSSPOLICY, policy, ASN1_OCTET_STRING, 1),
} static_ASN1_SEQUENCE_END(TSSPOLICY)

ASN1_SEQUENCE(TSSPRIVKEY) = {
    ASN1_SIMPLE(TSSPRIVKEY, type, ASN1_OBJECT),
    ASN1_EXP_OPT(TSSPRIVKEY, emptyAuth, ASN1_FBOOLEAN, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(TSSPRIVKEY, policy, TSSPOLICY, 1),
    ASN1_EXP_OPT(TSSPRIVKEY, secret, ASN1_OCTET_STRING, 2),
    ASN1_SIMPLE(TSSPRIVKEY, parent, ASN1_INTEGER),
    ASN1_SIMPLE(TSSPRIVKEY, pubkey, ASN1_OCTET_STRING),
    ASN1_SIMPLE(TSSPRIVKEY, privkey, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(TSSPRIVKEY)

static int bad_file(const char *why)
{
    ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "TPM key file: %s", why);
    return ENVCORE_R_BAD_BLOB;
}

/* Parses the PolicyPCR / PolicyAuthValue entries we know; refuses others,
 * since skipping a policy step would make the key unusable anyway. */
static int parse_policy(STACK_OF(TSSPOLICY) *sk, envtpm_keyfile *kf)
{
    int i;

    for (i = 0; i < sk_TSSPOLICY_num(sk); i++) {
        TSSPOLICY *p = sk_TSSPOLICY_value(sk, i);
        long cc = ASN1_INTEGER_get(p->code);
        const uint8_t *b = ASN1_STRING_get0_data(p->policy);
        size_t n = (size_t)ASN1_STRING_length(p->policy), off = 0;

        if (cc == TPM2_CC_PolicyPCR && !kf->has_pcr_policy) {
            /* Part 3 §23.7: pcrDigest (TPM2B_DIGEST), pcrs (TPML_PCR_SELECTION) */
            if (Tss2_MU_TPM2B_DIGEST_Unmarshal(b, n, &off, &kf->pcr_digest) != TSS2_RC_SUCCESS ||
                Tss2_MU_TPML_PCR_SELECTION_Unmarshal(b, n, &off, &kf->pcrs) != TSS2_RC_SUCCESS ||
                off != n || kf->pcrs.count == 0)
                return bad_file("malformed PolicyPCR entry");
            kf->has_pcr_policy = 1;
        } else if (cc == TPM2_CC_PolicyAuthValue && n == 0 && !kf->policy_auth_value) {
            kf->policy_auth_value = 1;
        } else {
            return bad_file("policy step not supported (only PolicyPCR and PolicyAuthValue)");
        }
    }
    return ENVCORE_R_OK;
}

int envtpm_keyfile_parse(const unsigned char *pem, size_t len, envtpm_keyfile *kf)
{
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    const unsigned char *p;
    TSSPRIVKEY *k = NULL;
    ASN1_OBJECT *loadable = NULL;
    uint64_t parent = 0;
    size_t off;
    int r = ENVCORE_R_BAD_BLOB;

    memset(kf, 0, sizeof(*kf));
    if (len == 0 || len > KEYFILE_MAX)
        return bad_file("empty or larger than 16 KiB");
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL || !PEM_read_bio(bio, &name, &header, &der, &derlen)) {
        r = bad_file("not a PEM file");
        goto out;
    }
    if (strcmp(name, KEYFILE_PEM_NAME) != 0) {
        r = bad_file("PEM label is not \"TSS2 PRIVATE KEY\"");
        goto out;
    }
    p = der;
    k = (TSSPRIVKEY *)ASN1_item_d2i(NULL, &p, derlen, ASN1_ITEM_rptr(TSSPRIVKEY));
    if (k == NULL || p != der + derlen) {
        r = bad_file("malformed TPMKey ASN.1");
        goto out;
    }
    loadable = OBJ_txt2obj(KEYFILE_OID_LOADABLE, 1);
    if (loadable == NULL || OBJ_cmp(k->type, loadable) != 0) {
        r = bad_file("not a loadable key (OID 2.23.133.10.1.3); importable and sealed keys "
                     "are not KEKs");
        goto out;
    }
    if (k->secret != NULL) {
        r = bad_file("keys with an imported secret are not supported");
        goto out;
    }
    if (!ASN1_INTEGER_get_uint64(&parent, k->parent) || parent > 0xffffffffu) {
        r = bad_file("bad parent handle");
        goto out;
    }
    kf->parent = (uint32_t)parent;
    kf->empty_auth = k->emptyAuth > 0;
    off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(ASN1_STRING_get0_data(k->pubkey),
                                       (size_t)ASN1_STRING_length(k->pubkey), &off,
                                       &kf->pub) != TSS2_RC_SUCCESS ||
        off != (size_t)ASN1_STRING_length(k->pubkey)) {
        r = bad_file("malformed public part");
        goto out;
    }
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(ASN1_STRING_get0_data(k->privkey),
                                        (size_t)ASN1_STRING_length(k->privkey), &off,
                                        &kf->priv) != TSS2_RC_SUCCESS ||
        off != (size_t)ASN1_STRING_length(k->privkey)) {
        r = bad_file("malformed private part");
        goto out;
    }
    r = k->policy != NULL ? parse_policy(k->policy, kf) : ENVCORE_R_OK;
out:
    if (r != ENVCORE_R_OK)
        OPENSSL_cleanse(kf, sizeof(*kf));
    ASN1_OBJECT_free(loadable);
    ASN1_item_free((ASN1_VALUE *)k, ASN1_ITEM_rptr(TSSPRIVKEY));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return r;
}

int envtpm_keyfile_read(const char *path, envtpm_keyfile *kf)
{
    unsigned char buf[KEYFILE_MAX + 1];
    size_t got = 0;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int reason = errno == ENOENT ? ENVCORE_R_OBJECT_NOT_FOUND : ENVCORE_R_BAD_URI;
        ENVCORE_RAISE(reason, "TPM key file %s: %s", path, ENVCORE_ERRNO_TEXT(errno));
        return reason;
    }
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    r = envtpm_keyfile_parse(buf, got, kf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}

static ASN1_OCTET_STRING *octets(const uint8_t *b, size_t n)
{
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

    if (s != NULL && !ASN1_OCTET_STRING_set(s, b, (int)n)) {
        ASN1_OCTET_STRING_free(s);
        s = NULL;
    }
    return s;
}

static TSSPOLICY *policy_entry(uint32_t cc, const uint8_t *b, size_t n)
{
    TSSPOLICY *p = (TSSPOLICY *)ASN1_item_new(ASN1_ITEM_rptr(TSSPOLICY));

    if (p == NULL)
        return NULL;
    if (!ASN1_INTEGER_set(p->code, (long)cc) ||
        !ASN1_OCTET_STRING_set(p->policy, n != 0 ? b : (const uint8_t *)"", (int)n)) {
        ASN1_item_free((ASN1_VALUE *)p, ASN1_ITEM_rptr(TSSPOLICY));
        return NULL;
    }
    return p;
}

static int build_policy(TSSPRIVKEY *k, const envtpm_keyfile *kf)
{
    uint8_t buf[sizeof(TPM2B_DIGEST) + sizeof(TPML_PCR_SELECTION)];
    size_t off = 0;
    TSSPOLICY *e;

    k->policy = sk_TSSPOLICY_new_null();
    if (k->policy == NULL)
        return 0;
    if (Tss2_MU_TPM2B_DIGEST_Marshal(&kf->pcr_digest, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPML_PCR_SELECTION_Marshal(&kf->pcrs, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
        return 0;
    e = policy_entry(TPM2_CC_PolicyPCR, buf, off);
    if (e == NULL || !sk_TSSPOLICY_push(k->policy, e)) {
        ASN1_item_free((ASN1_VALUE *)e, ASN1_ITEM_rptr(TSSPOLICY));
        return 0;
    }
    if (kf->policy_auth_value) {
        e = policy_entry(TPM2_CC_PolicyAuthValue, NULL, 0);
        if (e == NULL || !sk_TSSPOLICY_push(k->policy, e)) {
            ASN1_item_free((ASN1_VALUE *)e, ASN1_ITEM_rptr(TSSPOLICY));
            return 0;
        }
    }
    return 1;
}

int envtpm_keyfile_write(const char *path, const envtpm_keyfile *kf)
{
    uint8_t pub[sizeof(TPM2B_PUBLIC)], priv[sizeof(TPM2B_PRIVATE)];
    size_t publen = 0, privlen = 0;
    TSSPRIVKEY *k = NULL;
    unsigned char *der = NULL;
    int derlen, fd = -1, r = ENVCORE_R_INTERNAL;
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;

    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&kf->pub, pub, sizeof(pub), &publen) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_PRIVATE_Marshal(&kf->priv, priv, sizeof(priv), &privlen) != TSS2_RC_SUCCESS)
        goto fail;
    k = (TSSPRIVKEY *)ASN1_item_new(ASN1_ITEM_rptr(TSSPRIVKEY));
    if (k == NULL)
        goto fail;
    k->type = OBJ_txt2obj(KEYFILE_OID_LOADABLE, 1);
    k->emptyAuth = kf->empty_auth ? 0xff : 0;
    ASN1_OCTET_STRING_free(k->pubkey);
    ASN1_OCTET_STRING_free(k->privkey);
    k->pubkey = octets(pub, publen);
    k->privkey = octets(priv, privlen);
    if (k->type == NULL || k->pubkey == NULL || k->privkey == NULL ||
        !ASN1_INTEGER_set_uint64(k->parent, kf->parent))
        goto fail;
    if (kf->has_pcr_policy && !build_policy(k, kf))
        goto fail;
    derlen = ASN1_item_i2d((ASN1_VALUE *)k, &der, ASN1_ITEM_rptr(TSSPRIVKEY));
    bio = BIO_new(BIO_s_mem());
    if (derlen <= 0 || bio == NULL || !PEM_write_bio(bio, KEYFILE_PEM_NAME, "", der, derlen))
        goto fail;
    BIO_get_mem_ptr(bio, &mem);
    /* O_EXCL: never overwrite a key someone else's data depends on. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? ENVCORE_R_BAD_ARGUMENT : ENVCORE_R_BAD_URI;
        ENVCORE_RAISE(r, "TPM key file %s: %s", path,
                      errno == EEXIST ? "exists already; refusing to overwrite"
                                      : ENVCORE_ERRNO_TEXT(errno));
        goto out;
    }
    if (write(fd, mem->data, mem->length) != (ssize_t)mem->length || fsync(fd) != 0) {
        r = ENVCORE_R_BAD_URI;
        ENVCORE_RAISE(r, "TPM key file %s: write failed (%s)", path, ENVCORE_ERRNO_TEXT(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    close(fd);
    r = ENVCORE_R_OK;
    goto out;
fail:
    ENVCORE_RAISE(r, "TPM key file: cannot encode the key");
out:
    BIO_free(bio);
    OPENSSL_free(der);
    ASN1_item_free((ASN1_VALUE *)k, ASN1_ITEM_rptr(TSSPRIVKEY));
    return r;
}
