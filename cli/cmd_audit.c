/*
 * cmd_audit.c - `envelope audit verify LOG` and `envelope audit summary
 * [LOG] [--json]`: reading the provider's audit trail (docs/AUDIT.md). Both
 * read the file only; neither needs the provider or a key.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cli.h"
#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: envelope audit verify LOG\n"
               "       envelope audit summary [--json] [LOG]\n"
               "\n"
               "verify   checks every line's hash and its link to the line before it in\n"
               "         its chain; names the first broken line and exits 2 if one is\n"
               "         (an edited line fails at itself, a deleted one at the line after\n"
               "         it). \"-\" reads standard input (e.g. from journalctl -o cat).\n"
               "summary  per KEK and per program: operations, failures, p50/p99 latency,\n"
               "         cache hit rate of unwraps, alarms. LOG defaults to standard input.\n"
               "  --json  summary: one JSON object\n"
               "Exit: 0 all lines hold, 1 usage, 2 a broken line, 5 LOG unreadable.\n");
}

static FILE *open_log(const char *path)
{
    return strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
}

static int verify(const char *path)
{
    FILE *f = open_log(path);
    if (f == NULL)
        return cli_fail(CLI_EXIT_INTERNAL, "cannot read %s: %s", path, strerror(errno));
    cli_audit_verifier *v = cli_audit_verifier_new();
    if (v == NULL) {
        if (f != stdin)
            fclose(f);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t n = 0;
    int rc = CLI_EXIT_OK;
    char why[512];
    while ((got = getline(&line, &cap, f)) != -1) {
        n++;
        size_t len = (size_t)got;
        int ended = len > 0 && line[len - 1] == '\n';
        if (ended)
            len--;
        if (len > CLI_AUDIT_LINE_MAX) {
            rc = cli_fail(CLI_EXIT_AUTH, "%s line %llu: longer than %u bytes: not an audit line",
                          path, (unsigned long long)n, CLI_AUDIT_LINE_MAX);
            break;
        }
        if (!cli_audit_verify_line(v, line, len, why, sizeof(why))) {
            rc = cli_fail(CLI_EXIT_AUTH, "%s line %llu: %s", path, (unsigned long long)n, why);
            break;
        }
        if (!ended) { /* a last line without its end: cut short by a crash or an edit */
            rc = cli_fail(CLI_EXIT_AUTH, "%s line %llu: no newline at its end: cut short", path,
                          (unsigned long long)n);
            break;
        }
    }
    if (rc == CLI_EXIT_OK && ferror(f))
        rc = cli_fail(CLI_EXIT_INTERNAL, "cannot read %s: %s", path, strerror(errno));
    if (rc == CLI_EXIT_OK)
        printf("%s: %llu lines, %llu chain%s, every line and link holds\n", path,
               (unsigned long long)n, (unsigned long long)cli_audit_verifier_chains(v),
               cli_audit_verifier_chains(v) == 1 ? "" : "s");
    free(line);
    cli_audit_verifier_free(v);
    if (f != stdin)
        fclose(f);
    return rc;
}

int cmd_audit(int argc, char **argv, cli_common *c)
{
    (void)c;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    int json = 0, ch;
    /* the subcommand's word stands in for the program name */
    argc--;
    argv++;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: return cli_usage_hint("audit");
        }
    }
    int rest = argc - optind;
    if (strcmp(what, "verify") == 0) {
        if (json)
            return cli_usage("audit", "verify takes no --json");
        if (rest != 1)
            return cli_usage("audit", "verify takes one LOG (\"-\": standard input)");
        return verify(argv[optind]);
    }
    if (strcmp(what, "summary") == 0) {
        if (rest > 1)
            return cli_usage("audit", "summary takes at most one LOG");
        const char *path = rest == 1 ? argv[optind] : "-";
        FILE *f = open_log(path);
        if (f == NULL)
            return cli_fail(CLI_EXIT_INTERNAL, "cannot read %s: %s", path, strerror(errno));
        int rc = cli_audit_summary(f, path, stdout, json);
        if (f != stdin)
            fclose(f);
        return rc;
    }
    return cli_usage("audit", "unknown audit command \"%s\" (verify or summary)", what);
}
