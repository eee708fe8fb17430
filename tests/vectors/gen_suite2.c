/*
 * gen_suite2.c - writes tests/vectors/suite2.txt (run from tests/vectors/,
 * see README.md there): suite 2 key blocks and records (docs/FORMAT.md
 * §10). First a deterministic known answer (a fixed DEK, nonce and
 * plaintext: K, M, C, the DEK id and the record bytes, with no KEK); then
 * key blocks made by libenvelope for kek1.pem / kek2.pem with a record
 * each, and single named changes of them with the error a reader must
 * give. Key blocks hold random DEKs and OAEP wraps: regenerating changes
 * every byte but the known answer's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite2.h"

static envelope_lib *lib;
static envelope_kek *k1, *k2;
static envelope_record_ctx *rc;

static void die(const char *what, const envelope_err *e)
{
    fprintf(stderr, "gen_suite2: %s: %s\n", what, e ? e->message : "");
    exit(1);
}

static void hex(const char *label, const uint8_t *b, size_t n)
{
    printf("%s: ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

static void kat(void)
{
    envelope_err e;
    uint8_t dek[32], okm[96], n[24], rec[23 + 24 + 64 + 16];
    static const uint8_t ad[] = "table=users;row=42;column=email";
    static const uint8_t pt[] = "suite 2 known answer";
    for (int i = 0; i < 32; i++)
        dek[i] = (uint8_t)i;
    for (int i = 0; i < 24; i++)
        n[i] = (uint8_t)(0xa0 + i);
    /* context tenant=acme: u16 count 1, u16 6 "tenant", u16 4 "acme" */
    static const uint8_t ctx[16] = {0,   1,   0, 6, 't', 'e', 'n', 'a',
                                    'n', 't', 0, 4, 'a', 'c', 'm', 'e'};
    if (env_kb_okm(lib, dek, ctx, sizeof(ctx), okm, &e) != ENVELOPE_OK)
        die("okm", &e);
    envelope_keyblock *kb = NULL;
    if (env_kb_from_key(lib, okm, okm + 64, &kb, &e) != ENVELOPE_OK)
        die("keyblock", &e);
    static const uint8_t prefix[7] = {'E', 'N', 'V', 'R', 1, 0, 2};
    memcpy(rec, prefix, 7);
    memcpy(rec + 7, okm + 64, 16);
    memcpy(rec + 23, n, 24);
    size_t len = sizeof(pt) - 1;
    if (env_xaes_seal(rc, kb, n, rec, 23, ad, sizeof(ad) - 1, pt, len, rec + 47, rec + 47 + len,
                      &e) != ENVELOPE_OK)
        die("seal", &e);
    printf("name: known-answer\n");
    hex("dek", dek, 32);
    hex("context_bytes", ctx, sizeof(ctx));
    hex("K", okm, 32);
    hex("M", okm + 32, 32);
    hex("C", okm + 64, 32);
    hex("dek_id", okm + 64, 16);
    hex("K1", kb->s->k1, 16);
    hex("nonce", n, 24);
    hex("ad", ad, sizeof(ad) - 1);
    hex("plaintext", pt, len);
    hex("record", rec, 47 + len + 16);
    /* the key-block body for this DEK and context, and its tag */
    uint8_t body[24 + 16 + 2 + 32], tag[16];
    static const uint8_t kbp[8] = {'E', 'N', 'V', 'K', 1, 0, 2, 0};
    memcpy(body, kbp, 8);
    memcpy(body + 8, okm + 64, 16);
    memcpy(body + 24, ctx, sizeof(ctx));
    memset(body + 40, 0, 2);
    memcpy(body + 42, okm + 64, 32);
    if (env_kb_tag(lib, okm + 32, body, sizeof(body), tag, &e) != ENVELOPE_OK)
        die("tag", &e);
    hex("kb_body", body, sizeof(body));
    hex("kb_tag", tag, 16);
    printf("expect: ok\n\n");
    envelope_keyblock_free(kb);
}

typedef struct {
    const char *name, *keks, *context;
    const uint8_t *kb;
    size_t kblen;
    const uint8_t *ad;
    size_t adlen;
    const uint8_t *pt;
    size_t ptlen;
    const uint8_t *rec;
    size_t reclen;
    const char *expect;
} vec;

static void emit(const vec *v)
{
    printf("name: %s\nkeks: %s\ncontext: %s\n", v->name, v->keks, v->context);
    hex("keyblock", v->kb, v->kblen);
    hex("ad", v->ad, v->adlen);
    hex("plaintext", v->pt, v->ptlen);
    hex("record", v->rec, v->reclen);
    printf("expect: %s\n\n", v->expect);
}

static envelope_keyblock *block(envelope_kek **keks, size_t n, const char *kv)
{
    envelope_err e;
    envelope_context *c = NULL;
    if (envelope_context_new(&c, &e) != ENVELOPE_OK ||
        (kv && envelope_context_add_kv(c, kv, &e) != ENVELOPE_OK))
        die("context", &e);
    envelope_encrypt_opts o = {
        .struct_size = sizeof(o), .keks = keks, .nkeks = n, .context = c, .frame_size = 0};
    envelope_keyblock *kb = NULL;
    if (envelope_keyblock_new(lib, &o, 0, &kb, &e) != ENVELOPE_OK)
        die("keyblock", &e);
    envelope_context_free(c);
    return kb;
}

static size_t seal(const envelope_keyblock *kb, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                   size_t n, uint8_t *out)
{
    envelope_err e;
    size_t l = 0;
    if (envelope_record_seal(rc, kb, ad, adlen, pt, n, out, n + 63, &l, &e) != ENVELOPE_OK)
        die("record", &e);
    return l;
}

int main(void)
{
    envelope_err e;
    if (envelope_lib_new(NULL, NULL, &lib, &e) != ENVELOPE_OK ||
        envelope_record_ctx_new(lib, &rc, &e) != ENVELOPE_OK)
        die("lib", &e);
    if (envelope_kek_open(lib, "kek1.pem", &k1, &e) != ENVELOPE_OK ||
        envelope_kek_open(lib, "kek2.pem", &k2, &e) != ENVELOPE_OK)
        die("kek", &e);
    printf("# envelope suite 2 test vectors (docs/FORMAT.md §10); generated by gen_suite2.c\n"
           "# keks: PEM files in this folder, RSA-3072, test material only\n\n");
    kat();
    envelope_kek *one[] = {k1}, *two[] = {k1, k2};
    envelope_keyblock *a = block(one, 1, "tenant=acme"), *b = block(two, 2, NULL);
    size_t alen = 0, blen = 0;
    const uint8_t *ab = envelope_keyblock_bytes(a, &alen), *bb = envelope_keyblock_bytes(b, &blen);
    static uint8_t pt[1024], r[1024 + 63], r2[1024 + 63], kbx[ENVELOPE_MAX_KEYBLOCK_BYTES + 1],
        rx[1024 + 64];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7 + 3);
    static const uint8_t ad[] = "users/42/email";
    size_t adl = sizeof(ad) - 1;
    static const size_t sizes[] = {0, 1, 16, 1024};
    static const char *const names[] = {"record-empty", "record-one-byte", "record-16",
                                        "record-1k"};
    for (size_t i = 0; i < 4; i++) {
        size_t l = seal(a, i % 2 ? ad : NULL, i % 2 ? adl : 0, pt, sizes[i], r);
        emit(&(vec){names[i], "kek1.pem", "tenant=acme", ab, alen, ad, i % 2 ? adl : 0, pt,
                    sizes[i], r, l, "ok"});
    }
    size_t l = seal(b, ad, adl, pt, 100, r);
    emit(&(vec){"two-edks-second-kek", "kek2.pem", "", bb, blen, ad, adl, pt, 100, r, l, "ok"});
    emit(&(vec){"two-edks-first-kek", "kek1.pem", "", bb, blen, ad, adl, pt, 100, r, l, "ok"});

    /* negative: one change each */
    size_t la = seal(a, ad, adl, pt, 100, r);
#define KB_CHANGE(nm, off, x, want)                                                                \
    do {                                                                                           \
        memcpy(kbx, ab, alen);                                                                     \
        kbx[(off)] ^= (x);                                                                         \
        emit(&(vec){nm, "kek1.pem", "tenant=acme", kbx, alen, ad, adl, pt, 100, r, la, want});     \
    } while (0)
    size_t clen = 2 + 2 + 6 + 2 + 4, body = 24 + clen + 2 + 32;
    KB_CHANGE("kb-bad-magic", 3, 0x01, "ENVELOPE_ERR_BAD_MAGIC");
    KB_CHANGE("kb-version", 4, 0x03, "ENVELOPE_ERR_VERSION");
    KB_CHANGE("kb-suite-1", 6, 0x03, "ENVELOPE_ERR_SUITE");
    KB_CHANGE("kb-flags", 7, 0x01, "ENVELOPE_ERR_RESERVED");
    KB_CHANGE("kb-dek-id", 8, 0x01, "ENVELOPE_ERR_AUTH");
    KB_CHANGE("kb-context-value", 24 + 2 + 2 + 6 + 2, 0x02, "ENVELOPE_ERR_AUTH");
    KB_CHANGE("kb-context-count", 25, 0x02, "ENVELOPE_ERR_CONTEXT_LIMIT");
    KB_CHANGE("kb-extensions", 24 + clen + 1, 0x01, "ENVELOPE_ERR_RESERVED");
    KB_CHANGE("kb-commitment", body - 1, 0x01, "ENVELOPE_ERR_AUTH");
    KB_CHANGE("kb-tag", body, 0x80, "ENVELOPE_ERR_AUTH");
    KB_CHANGE("kb-edk-count-0", body + 16, 0x01, "ENVELOPE_ERR_EDK_COUNT");
    KB_CHANGE("kb-wrap-kind", body + 17, 0x04, "ENVELOPE_ERR_WRAP_KIND");
    KB_CHANGE("kb-wrapped-byte", alen - 1, 0x01, "ENVELOPE_ERR_AUTH");
    emit(&(vec){"kb-truncated", "kek1.pem", "tenant=acme", ab, alen - 1, ad, adl, pt, 100, r, la,
                "ENVELOPE_ERR_TRUNCATED"});
    memcpy(kbx, ab, alen);
    kbx[alen] = 0;
    emit(&(vec){"kb-trailing", "kek1.pem", "tenant=acme", kbx, alen + 1, ad, adl, pt, 100, r, la,
                "ENVELOPE_ERR_TRAILING_DATA"});
    /* the EDK list of another key block of the same context: it unwraps (to
     * the other DEK), and the commitment refuses it */
    envelope_keyblock *a2 = block(one, 1, "tenant=acme");
    size_t a2len = 0;
    const uint8_t *a2b = envelope_keyblock_bytes(a2, &a2len);
    memcpy(kbx, ab, body + 16);
    memcpy(kbx + body + 16, a2b + body + 16, a2len - body - 16);
    emit(&(vec){"kb-edks-of-another-block", "kek1.pem", "tenant=acme", kbx, a2len, ad, adl, pt, 100,
                r, la, "ENVELOPE_ERR_AUTH"});
    envelope_keyblock_free(a2);
    /* the EDK list of a suite 1 message of the same KEK and context: its wrap
     * AAD names suite 1, so it does not unwrap here */
    {
        envelope_context *c = NULL;
        uint8_t *msg = NULL;
        size_t mlen = 0;
        env_header h;
        if (envelope_context_new(&c, &e) != ENVELOPE_OK ||
            envelope_context_add_kv(c, "tenant=acme", &e) != ENVELOPE_OK)
            die("context", &e);
        envelope_encrypt_opts mo = {
            .struct_size = sizeof(mo), .keks = one, .nkeks = 1, .context = c, .frame_size = 0};
        if (envelope_seal(lib, &mo, pt, 1, &msg, &mlen, &e) != ENVELOPE_OK ||
            env_header_parse(msg, mlen, &h, NULL, &e) != ENVELOPE_OK)
            die("suite 1 message", &e);
        memcpy(kbx, ab, body + 16);
        memcpy(kbx + body + 16, h.edk_list, h.edk_list_len);
        emit(&(vec){"kb-suite1-edks", "kek1.pem", "tenant=acme", kbx, body + 16 + h.edk_list_len,
                    ad, adl, pt, 100, r, la, "ENVELOPE_ERR_AUTH"});
        OPENSSL_free(msg);
        envelope_context_free(c);
    }
    emit(&(vec){"kb-no-kek", "kek2.pem", "tenant=acme", ab, alen, ad, adl, pt, 100, r, la,
                "ENVELOPE_ERR_NO_KEK"});
#define REC_CHANGE(nm, off, x, want)                                                               \
    do {                                                                                           \
        memcpy(rx, r, la);                                                                         \
        rx[(off)] ^= (x);                                                                          \
        emit(&(vec){nm, "kek1.pem", "tenant=acme", ab, alen, ad, adl, pt, 100, rx, la, want});     \
    } while (0)
    REC_CHANGE("rec-bad-magic", 3, 0x01, "ENVELOPE_ERR_BAD_MAGIC");
    REC_CHANGE("rec-version", 4, 0x02, "ENVELOPE_ERR_VERSION");
    REC_CHANGE("rec-suite", 6, 0x03, "ENVELOPE_ERR_SUITE");
    REC_CHANGE("rec-dek-id", 7 + 15, 0x01, "ENVELOPE_ERR_DEK_UNKNOWN");
    REC_CHANGE("rec-nonce-first-half", 23, 0x01, "ENVELOPE_ERR_AUTH");
    REC_CHANGE("rec-nonce-second-half", 23 + 12, 0x01, "ENVELOPE_ERR_AUTH");
    REC_CHANGE("rec-ciphertext", 47 + 50, 0x01, "ENVELOPE_ERR_AUTH");
    REC_CHANGE("rec-tag", la - 1, 0x01, "ENVELOPE_ERR_AUTH");
    emit(&(vec){"rec-truncated-tag", "kek1.pem", "tenant=acme", ab, alen, ad, adl, pt, 99, r,
                la - 1, "ENVELOPE_ERR_AUTH"});
    emit(&(vec){"rec-shorter-than-overhead", "kek1.pem", "tenant=acme", ab, alen, ad, adl, pt, 0, r,
                62, "ENVELOPE_ERR_TRUNCATED"});
    emit(&(vec){"rec-other-ad", "kek1.pem", "tenant=acme", ab, alen, ad, adl - 1, pt, 100, r, la,
                "ENVELOPE_ERR_AUTH"});
    /* a record of block b whose DEK id was rewritten to a's, opened with a */
    size_t lb = seal(b, ad, adl, pt, 100, r2);
    memcpy(r2 + 7, envelope_keyblock_dek_id(a), 16);
    emit(&(vec){"rec-moved-between-blocks", "kek1.pem", "tenant=acme", ab, alen, ad, adl, pt, 100,
                r2, lb, "ENVELOPE_ERR_AUTH"});
    envelope_keyblock_free(a);
    envelope_keyblock_free(b);
    envelope_record_ctx_free(rc);
    envelope_kek_free(k1);
    envelope_kek_free(k2);
    envelope_lib_free(lib);
    return 0;
}
