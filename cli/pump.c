/*
 * pump.c - the streaming pass: IN read to its end through an encryptor's
 * or decryptor's update(), then final(), with the progress bar.
 */
#include "cli.h"

int cli_pump(cli_common *c, cli_in *in, cli_update_fn update, cli_final_fn final, void *obj)
{
    envelope_err err = { 0 };
    cli_progress prog;
    cli_progress_start(&prog, c, in->size);
    for (;;) {
        long n = cli_in_read(in);
        if (n < 0)
            return CLI_EXIT_INTERNAL;
        if (n == 0)
            break;
        if (update(obj, in->buf, (size_t)n, &err) != ENVELOPE_OK)
            return cli_report(&err);
        cli_progress_add(&prog, (uint64_t)n);
    }
    if (final(obj, &err) != ENVELOPE_OK)
        return cli_report(&err);
    cli_progress_end(&prog);
    return CLI_EXIT_OK;
}
