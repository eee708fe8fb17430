/*
 * cli.h - the envelope command-line tool's one internal header: exit
 * codes, the options every subcommand shares, and the helpers, each in a
 * file of its own:
 *
 *   main.c          global options, dispatch to one file per subcommand
 *   cmd_*.c         one subcommand each
 *   report.c        failures on stderr, exit codes
 *   lib_open.c      the OpenSSL configuration and the envelope library
 *   input.c         IN: bounded reads into one buffer, wiped at close
 *   out.c           OUT: a file that gets its name only on success
 *   progress.c      the progress bar
 *   pump.c          IN read through a streaming object (the one read loop)
 *   stream.c        what encrypt and decrypt share: options, opening, the pass
 *   size.c          byte counts with K/M suffixes
 *   keks.c          --kek URIs opened as KEKs
 *   context_args.c  --context KEY=VALUE pairs as one context
 *   replace.c       a file rewritten in place, atomically, owner and mode kept
 *   walk.c          FILE|DIR operands walked one file at a time
 *   batch.c         several inputs to one output folder (encrypt, decrypt)
 *   hex.c           bytes as hex
 */
#ifndef ENVELOPE_CLI_H
#define ENVELOPE_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "envelope/envelope.h"

/* Exit codes (docs/envelope.1). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,
    CLI_EXIT_AUTH = 2,    /* authentication or format failure */
    CLI_EXIT_BACKEND = 3, /* KEK home unavailable: retry later */
    CLI_EXIT_POLICY = 4,
    CLI_EXIT_INTERNAL = 5, /* I/O error, out of memory, bug */
    CLI_EXIT_FINDINGS = 6  /* kek check: a KEK is weaker than it should be */
};

#define CLI_CHUNK (1u << 20)        /* read size: constant memory */
#define CLI_MAX_THREADS 64          /* --threads (the library's bound) */
#define CLI_PROGRESS_MIN (8u << 20) /* show progress for inputs over 8 MiB */

typedef struct cli_common {
    const char *config; /* --config FILE (overrides OPENSSL_CONF) */
    int quiet;
    int force;
} cli_common;

/* The global options --config and --quiet (main.c), which every
 * subcommand takes too: 1 if ch is one of them (applied to c), else 0. */
int cli_common_option(cli_common *c, int ch, const char *arg);

/* ---- failures (report.c) ---- */
/* Reports err on stderr as "envelope: <message>" and returns its exit code. */
int cli_report(const envelope_err *err);
int cli_exit_for(envelope_status s);
/* cli_report for one file of a batch: "envelope: PATH: <message>" (PATH
 * escaped for the terminal). */
int cli_report_file(const char *path, const envelope_err *err);
/* "envelope: <fmt>" on stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: the one line that says what is wrong, then where help is
 * ("Try 'envelope CMD --help'."; cmd NULL: the top level). CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only the pointer to help, after getopt has said which option is wrong. */
int cli_usage_hint(const char *cmd);

/* escape.c: an untrusted string as a JSON string (utf8: keep valid UTF-8
 * except controls; else \u00XX every non-ASCII byte) or as terminal text
 * (controls, bidi controls and invalid bytes escaped, backslash doubled). */
void cli_json_str(FILE *f, const char *s, int utf8);
void cli_text_str(FILE *f, const char *s);

/* ---- the library (lib_open.c) ---- */
/* Loads the OpenSSL configuration (--config or OPENSSL_CONF) and makes
 * the library context. Returns an exit code. */
int cli_lib_open(const cli_common *c, envelope_lib **lib);
/* Frees lib and the library context cli_lib_open made. */
void cli_lib_close(envelope_lib *lib);
/* decrypt --stats: the envelope provider's unwrap-cache counters on stderr. */
void cli_print_stats(void);

/* ---- input (input.c) ---- */
typedef struct cli_in {
    int fd;
    const char *name; /* for messages */
    int is_stdin;
    uint64_t size; /* 0 if unknown */
    uint8_t *buf;  /* CLI_CHUNK bytes */
} cli_in;
int cli_in_open(cli_in *in, const char *path);
/* Bytes read (0 = end of input), or -1 on error (reported). */
long cli_in_read(cli_in *in);
/* One read(2) of at most cap bytes into buf (EINTR retried); -1 reported. */
long cli_in_read_into(cli_in *in, uint8_t *buf, size_t cap);
void cli_in_close(cli_in *in);

/* ---- output (out.c): stdout, or an unnamed file (O_TMPFILE) in the
 * target's folder that gets its name only in cli_out_commit, after fsync;
 * a named temporary file where the filesystem has no O_TMPFILE ---- */
typedef struct cli_out {
    int fd;
    int is_stdout;
    char *path;
    char *dir, *base; /* dirname and basename of path */
    int dirfd;        /* OUT's folder */
    char *tmp;        /* the fallback's named temporary file, else NULL */
    int failed;
    int force; /* replace an existing OUT (--force) */
} cli_out;
int cli_out_open(cli_out *o, const char *path, int force, const cli_in *in);
/* envelope_sink_fn: 0 on success. */
int cli_out_sink(void *arg, const uint8_t *buf, size_t len);
int cli_out_commit(cli_out *o);
void cli_out_abort(cli_out *o); /* drops the unnamed file (or removes the named one) */
/* 1 if open(O_TMPFILE) failing with errno `err` means the filesystem (or
 * kernel) has no O_TMPFILE, so the named temporary file is used instead. */
int cli_tmpfile_unsupported(int err);

/* ---- in-place replacement (replace.c): cli_out over the file itself,
 * with the original's owner and mode, refused if the file changed
 * meanwhile ---- */
typedef struct cli_replace {
    cli_out out;
    struct stat st; /* the original, as opened */
    int in_fd;
    const char *path;
    int open;
} cli_replace;
/* in_fd: the original, open for reading. Returns an exit code (reported). */
int cli_replace_begin(cli_replace *r, const char *path, int in_fd);
/* Write through cli_out_sink(&r->out) in between. Returns an exit code. */
int cli_replace_commit(cli_replace *r);
void cli_replace_abort(cli_replace *r);

/* ---- batches (walk.c) ---- */
typedef struct cli_batch {
    size_t done, already, skipped, failed;
    int rc; /* the exit code of the first failure */
} cli_batch;
/* One file: named = 1 if it was an operand (not found in a folder).
 * Returns CLI_EXIT_OK or the exit code of its failure (reported). */
typedef int (*cli_file_fn)(void *arg, const char *path, int named);
void cli_walk(char **operands, int n, cli_file_fn fn, void *arg, cli_batch *b);

/* ---- progress on a terminal (progress.c) ---- */
typedef struct cli_progress {
    int on;
    uint64_t total, done;
    double start, last;
} cli_progress;
void cli_progress_start(cli_progress *p, const cli_common *c, uint64_t total);
void cli_progress_add(cli_progress *p, uint64_t n);
void cli_progress_end(cli_progress *p);

/* ---- the streaming pass (pump.c) ---- */
typedef envelope_status (*cli_update_fn)(void *obj, const uint8_t *buf, size_t len,
                                         envelope_err *err);
typedef envelope_status (*cli_final_fn)(void *obj, envelope_err *err);
/* The streaming object's own buffer to read the next input into
 * (envelope_encryptor_buffer, envelope_decryptor_buffer): read there, the
 * input reaches the worker threads without a copy. */
typedef envelope_status (*cli_buffer_fn)(void *obj, uint8_t **buf, size_t *len, envelope_err *err);
/* Reads IN to its end through update(), counting on prog (if not NULL).
 * CLI_EXIT_INTERNAL if reading failed (reported); else CLI_EXIT_OK with
 * *st ENVELOPE_OK at the end of IN, or the status of the update() that
 * failed (err says why, not yet reported). */
int cli_feed(cli_in *in, cli_update_fn update, void *obj, cli_progress *prog, envelope_status *st,
             envelope_err *err);
/* cli_feed, then final(), with the progress bar. Returns the exit code
 * (failures reported); OUT is the caller's to commit or abort. */
int cli_pump(cli_common *c, cli_in *in, cli_update_fn update, cli_final_fn final, void *obj);
/* cli_pump reading into the buffers buffer() lends instead of IN's own. */
int cli_pump_lent(cli_common *c, cli_in *in, cli_buffer_fn buffer, cli_update_fn update,
                  cli_final_fn final, void *obj);

/* ---- encrypt and decrypt (stream.c) ---- */
typedef struct cli_stream {
    /* from the command line */
    char *uris[ENVELOPE_MAX_EDKS];
    size_t nk;
    char *pairs[ENVELOPE_MAX_CONTEXT_PAIRS];
    size_t np;
    const char *in_path, *out_path; /* NULL: stdin, stdout */
    char **inputs;                  /* every operand (several: a batch, batch.c) */
    int ninputs;
    size_t frame_size; /* encrypt: 0 = the default */
    size_t threads;    /* --threads: worker threads per message (default: online CPUs) */
    /* opened by cli_stream_open */
    envelope_lib *lib;
    envelope_kek *keks[ENVELOPE_MAX_EDKS];
    size_t nkeks;       /* opened: nk, or more when an alias opened its versions */
    int expand_aliases; /* decrypt: alias:NAME opens every version of NAME */
    int allow_retired;  /* decrypt --allow-retired */
    int kek_policy;     /* encrypt --kek-policy: ENVELOPE_KEK_POLICY_* */
    envelope_context *ctx;
    cli_in in;
    cli_out out;
    int out_open; /* OUT is to be aborted unless committed */
} cli_stream;
void cli_stream_init(cli_stream *s);
/* --kek (k), --context (x), -o, --force (F) and the global options:
 * CLI_EXIT_OK if applied, else an exit code (a refused value reported,
 * any other option with the command's help on stderr). */
int cli_stream_option(cli_stream *s, cli_common *c, int ch, char *arg, const char *cmd);
/* keks.c: the --kek URIs opened into keks (capacity ENVELOPE_MAX_EDKS),
 * *nkeks of them; with expand_aliases an alias:NAME URI opens every
 * version of NAME (current, previous, retired). */
int cli_open_keks_ex(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks, size_t *nkeks,
                     int expand_aliases, int allow_retired);
/* --kek-policy any: as cli_open_keks, but a KEK whose home is unreachable
 * (exit-3 class) is left out with a warning while at least one opens; any
 * other failure still fails. */
int cli_open_keks_any(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks, size_t *nkeks);
/* The warning for a KEK left out under --kek-policy any. */
void cli_warn_left_out(const char *what, const envelope_err *err);
/* The operands after the options: IN, or several inputs for a batch
 * (cli_stream_is_batch). */
int cli_stream_operands(cli_stream *s, const char *cmd, int n, char **operands);
/* Opens the library, the context, the KEKs, IN and OUT, in that order.
 * Returns the exit code; cli_stream_close undoes what was opened. */
int cli_stream_open(cli_stream *s, cli_common *c);
/* Only what a batch shares: the library, the context and the KEKs. */
int cli_stream_open_shared(cli_stream *s, cli_common *c);
/* 1 if the operands make a batch: several inputs, or -o names a folder. */
int cli_stream_is_batch(const cli_stream *s);
/* cli_pump through obj, which writes to cli_out_sink(&s->out), then
 * commits OUT. Returns the exit code. */
int cli_stream_run(cli_stream *s, cli_common *c, cli_update_fn update, cli_final_fn final,
                   void *obj);
/* cli_stream_run reading through buffer() (cli_pump_lent). */
int cli_stream_run_lent(cli_stream *s, cli_common *c, cli_buffer_fn buffer, cli_update_fn update,
                        cli_final_fn final, void *obj);
/* Drops OUT unless committed, frees the rest; free obj before. */
void cli_stream_close(cli_stream *s);

/* ---- several inputs, one output folder (batch.c) ---- */
typedef struct cli_batch_spec {
    int encrypt; /* output names: + ".env" (encrypt), - ".env" (decrypt) */
    /* The streaming object for one input, writing to cli_out_sink(&s->out). */
    envelope_status (*make)(cli_stream *s, void **obj, envelope_err *err);
    cli_update_fn update;
    cli_final_fn final;
    void (*drop)(void *obj);
} cli_batch_spec;
int cli_is_dir(const char *path);
/* Every input to DIR (-o), each atomically; the shared parts opened once
 * (cli_stream_close frees them). Returns the first failure's exit code. */
int cli_batch_run(const cli_batch_spec *b, cli_stream *s, cli_common *c, char **inputs, int n);

/* ---- option values ---- */
int cli_parse_size(const char *s, size_t *out); /* "65536", "64K", "1M" (size.c) */
/* Opens keks[0..n) from uris; on failure frees those opened (keks.c). */
int cli_open_keks(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks);
void cli_free_keks(envelope_kek **keks, size_t n);
/* The --context KEY=VALUE pairs as one context (*out NULL on failure)
 * (context_args.c). */
int cli_context_from_pairs(char **pairs, size_t n, envelope_context **out);

void cli_hex(FILE *f, const uint8_t *b, size_t n); /* hex.c */
/* inspect_compact.c: `envelope inspect` of a suite 2 key block or record. */
void cli_inspect_compact(const envelope_inspector *ins, int json);

/* Subcommands: argc/argv start at the subcommand name. */
int cmd_encrypt(int argc, char **argv, cli_common *c);
int cmd_decrypt(int argc, char **argv, cli_common *c);
int cmd_inspect(int argc, char **argv, cli_common *c);
int cmd_kek(int argc, char **argv, cli_common *c);
int cmd_rewrap(int argc, char **argv, cli_common *c);
int cmd_audit(int argc, char **argv, cli_common *c); /* cmd_audit.c, audit_cli.h */
int cmd_reencrypt(int argc, char **argv, cli_common *c);

#endif
