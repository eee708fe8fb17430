/*
 * context_args.c - the --context KEY=VALUE pairs as one encryption
 * context (docs/FORMAT.md section 3.1).
 */
#include "cli.h"

int cli_context_from_pairs(char **pairs, size_t n, envelope_context **out)
{
    envelope_err err = {0};
    *out = NULL;
    if (envelope_context_new(out, &err) != ENVELOPE_OK)
        return cli_report(&err);
    for (size_t i = 0; i < n; i++)
        if (envelope_context_add_kv(*out, pairs[i], &err) != ENVELOPE_OK) {
            envelope_context_free(*out);
            *out = NULL;
            return cli_report(&err);
        }
    return CLI_EXIT_OK;
}
