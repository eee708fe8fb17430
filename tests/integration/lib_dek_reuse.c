/*
 * lib_dek_reuse.c URI RECORDS TENANTS - DEK reuse through the public API on a
 * real KEK (lib_dek_reuse.sh configures the provider's dek-reuse-* and a
 * SoftHSM2 token): RECORDS envelope_seal calls, round-robin over TENANTS
 * contexts {tenant=tN}; every record opens with its own context; message
 * ids are all different; two tenants never share a wrapped DEK; and the
 * number of distinct wrapped DEKs per tenant is printed ("wraps=N"), which
 * the script compares with the limits and with the token's own log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "envelope/envelope.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define MAX_WRAPS 4096

typedef struct {
    uint8_t blob[1024];
    size_t len;
    int tenant;
} wrap_seen;

static wrap_seen seen[MAX_WRAPS];
static size_t nseen;

/* The single EDK's wrapped bytes are the last bytes of the header. */
static void note_wrap(const uint8_t *msg, size_t len, int tenant, uint8_t ids[][32], size_t i)
{
    envelope_inspector *ins = NULL;
    envelope_err err = {0};
    envelope_edk_info e;
    if (envelope_inspector_new(&ins, &err) != ENVELOPE_OK ||
        envelope_inspector_update(ins, msg, len, &err) != ENVELOPE_OK ||
        envelope_inspector_final(ins, &err) != ENVELOPE_OK || !envelope_inspector_edk(ins, 0, &e))
        FAIL("inspect: %s", err.message);
    size_t hl = envelope_inspector_header_len(ins);
    memcpy(ids[i], envelope_inspector_message_id(ins), 32);
    if (e.wrapped_len > sizeof(seen[0].blob) || e.wrapped_len > hl)
        FAIL("unexpected EDK size");
    const uint8_t *blob = msg + hl - e.wrapped_len;
    size_t k = 0;
    for (; k < nseen; k++)
        if (seen[k].len == e.wrapped_len && memcmp(seen[k].blob, blob, e.wrapped_len) == 0)
            break;
    if (k < nseen && seen[k].tenant != tenant)
        FAIL("tenants %d and %d share a wrapped DEK", seen[k].tenant, tenant);
    if (k == nseen) {
        if (nseen == MAX_WRAPS)
            FAIL("too many distinct wraps");
        memcpy(seen[nseen].blob, blob, e.wrapped_len);
        seen[nseen].len = e.wrapped_len;
        seen[nseen].tenant = tenant;
        nseen++;
    }
    envelope_inspector_free(ins);
}

/* A key block for these options; its DEK id noted if new. Every 97th is
 * loaded from its bytes (expected context included) and opens a record
 * sealed under the one made. */
static size_t keyblock_round(envelope_lib *lib, envelope_record_ctx *rc,
                             const envelope_encrypt_opts *eo, const envelope_decrypt_opts *dop,
                             uint8_t ids[][ENVELOPE_DEK_ID_BYTES], size_t n, size_t i)
{
    envelope_err err = {0};
    envelope_keyblock *kb = NULL, *loaded = NULL;
    if (envelope_keyblock_new(lib, eo, 0, &kb, &err) != ENVELOPE_OK)
        FAIL("key block %zu: %s", i, err.message);
    const uint8_t *id = envelope_keyblock_dek_id(kb);
    size_t j = 0;
    while (j < n && memcmp(ids[j], id, ENVELOPE_DEK_ID_BYTES) != 0)
        j++;
    if (j == n) {
        if (n == MAX_WRAPS)
            FAIL("more than %d key blocks", MAX_WRAPS);
        memcpy(ids[n++], id, ENVELOPE_DEK_ID_BYTES);
    }
    if (i % 97 == 0) {
        size_t len = 0, rl = 0, pl = 0;
        const uint8_t *b = envelope_keyblock_bytes(kb, &len);
        uint8_t rec[64 + 8], pt[8];
        if (envelope_keyblock_load(lib, dop, b, len, &loaded, &err) != ENVELOPE_OK ||
            envelope_record_seal(rc, kb, NULL, 0, (const uint8_t *)"record", 6, rec, sizeof(rec),
                                 &rl, &err) != ENVELOPE_OK ||
            envelope_record_open(rc, loaded, NULL, 0, rec, rl, pt, sizeof(pt), &pl, &err) !=
                ENVELOPE_OK ||
            pl != 6 || memcmp(pt, "record", 6) != 0)
            FAIL("key block %zu round trip: %s", i, err.message);
    }
    envelope_keyblock_free(loaded);
    envelope_keyblock_free(kb);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        FAIL("usage: lib_dek_reuse URI RECORDS TENANTS");
    size_t records = strtoul(argv[2], NULL, 10);
    int tenants = atoi(argv[3]);
    if (records == 0 || records > 100000 || tenants < 1 || tenants > 100)
        FAIL("RECORDS 1..100000, TENANTS 1..100");
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_err err = {0};
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK ||
        envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    envelope_context *ctx[100];
    for (int t = 0; t < tenants; t++) {
        char v[16];
        snprintf(v, sizeof(v), "t%d", t);
        if (envelope_context_new(&ctx[t], &err) != ENVELOPE_OK ||
            envelope_context_add(ctx[t], "tenant", v, &err) != ENVELOPE_OK)
            FAIL("%s", err.message);
    }
    uint8_t(*ids)[32] = calloc(records, 32);
    if (ids == NULL)
        FAIL("out of memory");
    envelope_kek *keks[] = {kek};
    /* LIB_DEK_REUSE_KEYBLOCKS=1: also a suite 2 key block per record */
    int with_kb = getenv("LIB_DEK_REUSE_KEYBLOCKS") != NULL;
    static uint8_t kb_ids[MAX_WRAPS][ENVELOPE_DEK_ID_BYTES];
    size_t nkb = 0;
    envelope_record_ctx *rc = NULL;
    if (with_kb && envelope_record_ctx_new(lib, &rc, &err) != ENVELOPE_OK)
        FAIL("%s", err.message);
    for (size_t i = 0; i < records; i++) {
        int t = (int)(i % (size_t)tenants);
        char rec[33]; /* 32 bytes each, so byte limits come out exact */
        memset(rec, ' ', sizeof(rec));
        int w = snprintf(rec, sizeof(rec), "record %zu of tenant %d", i, t);
        if (w < 0 || w >= 32)
            FAIL("record label too long");
        rec[w] = ' ';
        int n = 32;
        envelope_encrypt_opts eo = {.struct_size = sizeof(eo),
                                    .keks = keks,
                                    .nkeks = 1,
                                    .context = ctx[t],
                                    .frame_size = 0};
        uint8_t *msg = NULL, *pt = NULL;
        size_t mlen = 0, ptlen = 0;
        envelope_context *got = NULL;
        if (envelope_seal(lib, &eo, (const uint8_t *)rec, (size_t)n, &msg, &mlen, &err) !=
            ENVELOPE_OK)
            FAIL("seal %zu: %s", i, err.message);
        note_wrap(msg, mlen, t, ids, i);
        envelope_decrypt_opts dop = {.struct_size = sizeof(dop),
                                     .keks = keks,
                                     .nkeks = 1,
                                     .expected = ctx[t]};
        if (envelope_open(lib, &dop, msg, mlen, &pt, &ptlen, &got, &err) != ENVELOPE_OK ||
            ptlen != (size_t)n || memcmp(pt, rec, ptlen) != 0)
            FAIL("open %zu: %s", i, err.message);
        /* the other tenants' context does not open it */
        envelope_decrypt_opts other = {.struct_size = sizeof(other),
                                       .keks = keks,
                                       .nkeks = 1,
                                       .expected = ctx[(t + 1) % tenants]};
        uint8_t *pt2 = NULL;
        size_t pt2len = 0;
        envelope_context *got2 = NULL;
        if (tenants > 1 && i % 97 == 0 &&
            envelope_open(lib, &other, msg, mlen, &pt2, &pt2len, &got2, &err) == ENVELOPE_OK)
            FAIL("record %zu of tenant %d opened with another tenant's context", i, t);
        envelope_buffer_free(pt, ptlen);
        envelope_context_free(got);
        envelope_buffer_free(msg, mlen);
        if (with_kb)
            nkb = keyblock_round(lib, rc, &eo, &dop, kb_ids, nkb, i);
    }
    if (with_kb)
        printf("keyblocks=%zu\n", nkb);
    envelope_record_ctx_free(rc);
    for (size_t i = 0; i < records; i++) /* quadratic is fine for the sizes tested */
        for (size_t j = i + 1; j < records && j < i + 2000; j++)
            if (memcmp(ids[i], ids[j], 32) == 0)
                FAIL("records %zu and %zu share a message id", i, j);
    printf("records=%zu tenants=%d wraps=%zu\n", records, tenants, nseen);
    free(ids);
    for (int t = 0; t < tenants; t++)
        envelope_context_free(ctx[t]);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return 0;
}
