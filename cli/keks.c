/*
 * keks.c - the --kek URIs opened as KEKs (through the envelope provider
 * or OSSL_STORE), and freed.
 */
#include <string.h>

#include "cli.h"

int cli_open_keks_ex(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks, size_t *nkeks,
                     int expand_aliases, int allow_retired)
{
    *nkeks = 0;
    for (size_t i = 0; i < n; i++) {
        envelope_err err = {0};
        size_t got = 0;
        envelope_status s;
        if (*nkeks == ENVELOPE_MAX_EDKS) {
            cli_free_keks(keks, *nkeks);
            *nkeks = 0;
            return cli_fail(CLI_EXIT_USAGE, "at most %d KEKs (an alias counts each version)",
                            ENVELOPE_MAX_EDKS);
        }
        if (expand_aliases && strncmp(uris[i], "alias:", 6) == 0) {
            s = envelope_kek_open_all(lib, uris[i], keks + *nkeks, ENVELOPE_MAX_EDKS - *nkeks, &got,
                                      &err);
        } else {
            s = envelope_kek_open(lib, uris[i], &keks[*nkeks], &err);
            got = s == ENVELOPE_OK;
        }
        if (s != ENVELOPE_OK) {
            cli_free_keks(keks, *nkeks);
            *nkeks = 0;
            return cli_report(&err);
        }
        *nkeks += got;
    }
    for (size_t i = 0; i < *nkeks; i++)
        envelope_kek_allow_retired(keks[i], allow_retired);
    return CLI_EXIT_OK;
}

int cli_open_keks_any(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks, size_t *nkeks)
{
    envelope_err first = {0};
    *nkeks = 0;
    for (size_t i = 0; i < n; i++) {
        envelope_err err = {0};
        if (envelope_kek_open(lib, uris[i], &keks[*nkeks], &err) == ENVELOPE_OK) {
            (*nkeks)++;
            continue;
        }
        if (envelope_status_category(err.code) != ENVELOPE_CAT_BACKEND) {
            cli_free_keks(keks, *nkeks); /* only an unreachable home may be left out */
            *nkeks = 0;
            return cli_report(&err);
        }
        cli_warn_left_out(uris[i], &err);
        if (first.code == ENVELOPE_OK)
            first = err;
    }
    return *nkeks > 0 ? CLI_EXIT_OK : cli_report(&first);
}

void cli_warn_left_out(const char *what, const envelope_err *err)
{
    fputs("envelope: warning: KEK ", stderr);
    cli_text_str(stderr, what);
    fprintf(stderr, " left out (--kek-policy any): %s [%s]\n",
            err->message[0] ? err->message : "unavailable", envelope_status_name(err->code));
}

int cli_open_keks(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks)
{
    size_t opened = 0;
    return cli_open_keks_ex(lib, uris, n, keks, &opened, 0, 0);
}

void cli_free_keks(envelope_kek **keks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        envelope_kek_free(keks[i]);
        keks[i] = NULL;
    }
}
