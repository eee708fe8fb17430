/*
 * app.c - a program built against an installed libenvelope only (through
 * `pkg-config envelope` or CMake's find_package(envelope)), for
 * lib.file.install-prefix (tests/integration/lib_install.sh).
 *   app KEK-URI OUT   seals a fixed record to KEK-URI with the context
 *                     tenant=install, writes the message to OUT, opens it
 *                     again and checks the bytes; prints "ok".
 */
#include <envelope/envelope.h>
#include <stdio.h>
#include <string.h>

static const char record[] = "installed libenvelope round trip\n";

static int failed(const char *what, const envelope_err *err)
{
    fprintf(stderr, "app: %s: %s (%s)\n", what, err->message, envelope_status_name(err->code));
    return 1;
}

int main(int argc, char **argv)
{
    envelope_lib *lib = NULL;
    envelope_kek *kek = NULL;
    envelope_context *ctx = NULL;
    envelope_err err = {0};
    uint8_t *msg = NULL, *pt = NULL;
    size_t mlen = 0, ptlen = 0;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: app KEK-URI OUT\n");
        return 2;
    }
    if (envelope_lib_new(NULL, NULL, &lib, &err) != ENVELOPE_OK)
        return failed("envelope_lib_new", &err);
    if (envelope_kek_open(lib, argv[1], &kek, &err) != ENVELOPE_OK) {
        rc = failed("envelope_kek_open", &err);
        goto done;
    }
    if (envelope_context_new(&ctx, &err) != ENVELOPE_OK ||
        envelope_context_add(ctx, "tenant", "install", &err) != ENVELOPE_OK) {
        rc = failed("context", &err);
        goto done;
    }
    envelope_kek *keks[] = {kek};
    envelope_encrypt_opts eo = {
        .struct_size = sizeof(eo), .keks = keks, .nkeks = 1, .context = ctx, .frame_size = 0};
    if (envelope_seal(lib, &eo, (const uint8_t *)record, sizeof(record) - 1, &msg, &mlen, &err) !=
        ENVELOPE_OK) {
        rc = failed("envelope_seal", &err);
        goto done;
    }
    FILE *f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(msg, 1, mlen, f) != mlen || fclose(f) != 0) {
        perror(argv[2]);
        goto done;
    }
    envelope_decrypt_opts dopt = {.struct_size = sizeof(dopt),
                                  .keks = keks,
                                  .nkeks = 1,
                                  .expected = ctx};
    if (envelope_open(lib, &dopt, msg, mlen, &pt, &ptlen, NULL, &err) != ENVELOPE_OK) {
        rc = failed("envelope_open", &err);
        goto done;
    }
    if (ptlen != sizeof(record) - 1 || memcmp(pt, record, ptlen) != 0) {
        fprintf(stderr, "app: the opened record differs\n");
        goto done;
    }
    printf("ok\n");
    rc = 0;
done:
    envelope_buffer_free(pt, ptlen);
    envelope_buffer_free(msg, mlen);
    envelope_context_free(ctx);
    envelope_kek_free(kek);
    envelope_lib_free(lib);
    return rc;
}
