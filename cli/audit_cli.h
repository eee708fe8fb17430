/*
 * audit_cli.h - `envelope audit`: the chain check (audit_verify.c) and the
 * summary (audit_summary.c) over the provider's audit lines (docs/AUDIT.md).
 */
#ifndef ENVELOPE_CLI_AUDIT_H
#define ENVELOPE_CLI_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The longest line read; a longer one is reported as broken. */
#define CLI_AUDIT_LINE_MAX (1u << 20)

typedef struct cli_audit_verifier cli_audit_verifier;
cli_audit_verifier *cli_audit_verifier_new(void);
void cli_audit_verifier_free(cli_audit_verifier *v);
/* The next line (without its '\n'): 1 if it holds (its hash, its link to
 * the line before it in its chain), else 0 with the reason in why. */
int cli_audit_verify_line(cli_audit_verifier *v, const char *line, size_t n, char *why,
                          size_t whysize);
uint64_t cli_audit_verifier_chains(const cli_audit_verifier *v);

/* The summary of the lines read from f, printed to out (json: one JSON
 * object). Returns an exit code; a line that is not JSON is counted and
 * skipped (the summary does not verify; audit verify does). */
int cli_audit_summary(FILE *f, const char *name, FILE *out, int json);

#endif
