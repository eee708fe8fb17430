/*
 * pump.c - IN read to its end through a streaming object's update(): the
 * one read loop of the tool. cli_pump adds final() and the progress bar
 * for encrypt and decrypt; inspect feeds its inspector with cli_feed.
 * cli_pump_lent reads into the streaming object's own buffers, which its
 * worker threads read from: no copy between read(2) and AES.
 */
#include "cli.h"

int cli_feed(cli_in *in, cli_update_fn update, void *obj, cli_progress *prog, envelope_status *st,
             envelope_err *err)
{
    *st = ENVELOPE_OK;
    for (;;) {
        long n = cli_in_read(in);
        if (n < 0)
            return CLI_EXIT_INTERNAL;
        if (n == 0)
            return CLI_EXIT_OK;
        if ((*st = update(obj, in->buf, (size_t)n, err)) != ENVELOPE_OK)
            return CLI_EXIT_OK;
        if (prog != NULL)
            cli_progress_add(prog, (uint64_t)n);
    }
}

int cli_pump_lent(cli_common *c, cli_in *in, cli_buffer_fn buffer, cli_update_fn update,
                  cli_final_fn final, void *obj)
{
    envelope_err err = {0};
    cli_progress prog;
    cli_progress_start(&prog, c, in->size);
    for (;;) {
        uint8_t *b = NULL;
        size_t cap = 0;
        if (buffer(obj, &b, &cap, &err) != ENVELOPE_OK)
            return cli_report(&err);
        long n = cli_in_read_into(in, b, cap);
        if (n < 0)
            return CLI_EXIT_INTERNAL;
        if (n == 0)
            break;
        if (update(obj, b, (size_t)n, &err) != ENVELOPE_OK)
            return cli_report(&err);
        cli_progress_add(&prog, (uint64_t)n);
    }
    if (final(obj, &err) != ENVELOPE_OK)
        return cli_report(&err);
    cli_progress_end(&prog);
    return CLI_EXIT_OK;
}

int cli_pump(cli_common *c, cli_in *in, cli_update_fn update, cli_final_fn final, void *obj)
{
    envelope_err err = {0};
    envelope_status st;
    cli_progress prog;
    cli_progress_start(&prog, c, in->size);
    int rc = cli_feed(in, update, obj, &prog, &st, &err);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (st != ENVELOPE_OK)
        return cli_report(&err);
    if (final(obj, &err) != ENVELOPE_OK)
        return cli_report(&err);
    cli_progress_end(&prog);
    return CLI_EXIT_OK;
}
