/*
 * keks.c - the --kek URIs opened as KEKs (through the envelope provider
 * or OSSL_STORE), and freed.
 */
#include "cli.h"

int cli_open_keks(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks)
{
    for (size_t i = 0; i < n; i++) {
        envelope_err err = {0};
        if (envelope_kek_open(lib, uris[i], &keks[i], &err) != ENVELOPE_OK) {
            cli_free_keks(keks, i);
            return cli_report(&err);
        }
    }
    return CLI_EXIT_OK;
}

void cli_free_keks(envelope_kek **keks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        envelope_kek_free(keks[i]);
        keks[i] = NULL;
    }
}
