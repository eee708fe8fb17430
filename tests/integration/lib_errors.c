/*
 * lib_errors.c ENC_URI [DEC_URI | -] - one error-model case through the public
 * API (lib_errors.sh sets up its real cause): opens ENC_URI, seals a record
 * to it, then opens the record with the KEK at DEC_URI (or, for "-", with
 * the references the message records). Prints the step that failed and the
 * envelope_err ("step=... status=NAME category=N" and "message=..."), or
 * "step=done status=ENVELOPE_OK"; the exit status is 0 either way, 1 only
 * when the program itself could not run.
 */
#include <stdio.h>
#include <string.h>

#include "envelope/envelope.h"

static int report(const char *step, envelope_status s, const envelope_err *err)
{
    printf("step=%s status=%s category=%d\n", step, envelope_status_name(s),
           (int)envelope_status_category(s));
    if (s != ENVELOPE_OK)
        printf("message=%s\n", err->message);
    if (s != ENVELOPE_OK && err->code != s) {
        fprintf(stderr, "FAIL: err.code %s differs from the status returned\n",
                envelope_status_name(err->code));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: lib_errors ENC_URI [DEC_URI | -]\n");
        return 1;
    }
    envelope_lib *lib = NULL;
    envelope_kek *enc = NULL, *dec = NULL;
    envelope_err err;
    memset(&err, 0, sizeof(err));
    envelope_status s = envelope_lib_new(NULL, NULL, &lib, &err);
    if (s != ENVELOPE_OK)
        return report("lib", s, &err);
    int rc = 0;
    uint8_t *msg = NULL, *pt = NULL;
    size_t mlen = 0, ptlen = 0;
    if ((s = envelope_kek_open(lib, argv[1], &enc, &err)) != ENVELOPE_OK) {
        rc = report("kek-open", s, &err);
        goto done;
    }
    envelope_kek *keks[] = {enc};
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    eo.keks = keks;
    eo.nkeks = 1;
    static const uint8_t rec[] = "a record";
    if ((s = envelope_seal(lib, &eo, rec, sizeof(rec), &msg, &mlen, &err)) != ENVELOPE_OK) {
        rc = report("seal", s, &err);
        goto done;
    }
    if (argc == 2) {
        rc = report("done", s, &err);
        goto done;
    }
    envelope_decrypt_opts dop = ENVELOPE_DECRYPT_OPTS_INIT;
    dop.flags = ENVELOPE_DECRYPT_ANY_CONTEXT;
    if (strcmp(argv[2], "-") != 0) {
        if ((s = envelope_kek_open(lib, argv[2], &dec, &err)) != ENVELOPE_OK) {
            rc = report("dec-kek-open", s, &err);
            goto done;
        }
        keks[0] = dec;
        dop.keks = keks;
        dop.nkeks = 1;
    }
    s = envelope_open(lib, &dop, msg, mlen, &pt, &ptlen, NULL, &err);
    if (s == ENVELOPE_OK && (ptlen != sizeof(rec) || memcmp(pt, rec, ptlen) != 0)) {
        fprintf(stderr, "FAIL: the record opened to other bytes\n");
        rc = 1;
    } else {
        rc = report(s == ENVELOPE_OK ? "done" : "open", s, &err);
    }
done:
    envelope_buffer_free(pt, ptlen);
    envelope_buffer_free(msg, mlen);
    envelope_kek_free(dec);
    envelope_kek_free(enc);
    envelope_lib_free(lib);
    return rc;
}
