/*
 * report.c - how the CLI reports a failure: "envelope: <message>" on
 * stderr, and the exit code of the failure's category (docs/envelope.1).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

int cli_exit_for(envelope_status s)
{
    switch (envelope_status_category(s)) {
    case ENVELOPE_CAT_OK: return CLI_EXIT_OK;
    case ENVELOPE_CAT_USAGE:
    case ENVELOPE_CAT_CONFIG: return CLI_EXIT_USAGE; /* exit 1: fix the command or the setup */
    case ENVELOPE_CAT_FORMAT:
    case ENVELOPE_CAT_AUTH: return CLI_EXIT_AUTH;
    case ENVELOPE_CAT_BACKEND: return CLI_EXIT_BACKEND;
    case ENVELOPE_CAT_POLICY: return CLI_EXIT_POLICY;
    default: return CLI_EXIT_INTERNAL;
    }
}

int cli_report(const envelope_err *err)
{
    if (err->code == ENVELOPE_ERR_OUTPUT)
        return CLI_EXIT_INTERNAL; /* the writer already said why */
    fprintf(stderr, "envelope: %s [%s]\n", err->message[0] ? err->message : "failed",
            envelope_status_name(err->code));
    return cli_exit_for(err->code);
}

int cli_report_file(const char *path, const envelope_err *err)
{
    if (err->code == ENVELOPE_ERR_OUTPUT)
        return CLI_EXIT_INTERNAL; /* the writer already said why */
    fputs("envelope: ", stderr);
    cli_text_str(stderr, path);
    fprintf(stderr, ": %s [%s]\n", err->message[0] ? err->message : "failed",
            envelope_status_name(err->code));
    return cli_exit_for(err->code);
}

int cli_usage_hint(const char *cmd)
{
    fprintf(stderr, "Try 'envelope%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("envelope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return cli_usage_hint(cmd);
}

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("envelope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}
