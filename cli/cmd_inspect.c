/*
 * cmd_inspect.c - `envelope inspect [--json]`: the header, the context, each
 * EDK's KEK reference and wrap kind, and the frame count; no key needed.
 * Also suite 2 key blocks (DEK id, context, EDKs) and compact records (DEK
 * id, plaintext length): inspect_compact.c.
 * Everything shown is unauthenticated until a decrypt verifies it.
 * The JSON form is stable (docs/envelope.1, "INSPECT JSON"): keys are only
 * ever added, never renamed or removed, within format version 1.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: envelope inspect [--json] [IN]\n"
               "\n"
               "Shows a message's header fields, encryption context, EDKs (KEK reference, key id,\n"
               "wrap kind) and frame count without decrypting it; for a suite 2 key block its DEK\n"
               "id, context and EDKs, for a compact record its DEK id and length. The fields are\n"
               "not authenticated until `envelope decrypt` succeeds.\n"
               "  --json   one JSON object on stdout (stable schema, see envelope(1))\n");
}

/* The header flag: "any" means the writer allowed KEKs to be left out. */
static const char *kek_policy(const envelope_inspector *ins)
{
    return envelope_inspector_flags(ins) & ENVELOPE_FLAG_KEK_POLICY_ANY ? "any" : "all";
}

static void print_json(const envelope_inspector *ins, int complete, const envelope_err *err)
{
    FILE *f = stdout;
    const envelope_context *ctx = envelope_inspector_context(ins);
    fprintf(f, "{\"format\":\"envelope\",\"version\":%d,\"suite\":%d,\"suite_name\":\"%s\",",
            envelope_inspector_version(ins), envelope_inspector_suite(ins),
            "AES-256-GCM/HKDF-SHA-512/commit");
    fputs("\"message_id\":\"", f);
    cli_hex(f, envelope_inspector_message_id(ins), ENVELOPE_MESSAGE_ID_BYTES);
    fprintf(f, "\",\"frame_size\":%zu,\"header_length\":%zu,\"context\":{",
            envelope_inspector_frame_size(ins), envelope_inspector_header_len(ins));
    for (size_t i = 0; i < envelope_context_count(ctx); i++) {
        if (i)
            fputc(',', f);
        cli_json_str(f, envelope_context_key(ctx, i), 1);
        fputc(':', f);
        cli_json_str(f, envelope_context_value(ctx, i), 1);
    }
    fputs("},\"edks\":[", f);
    for (size_t i = 0; i < envelope_inspector_edk_count(ins); i++) {
        envelope_edk_info e;
        if (!envelope_inspector_edk(ins, i, &e))
            continue;
        fprintf(f, "%s{\"wrap_kind\":\"%s\",\"wrap_kind_id\":%d,\"kek\":", i ? "," : "",
                envelope_wrap_kind_name(e.wrap_kind), e.wrap_kind);
        cli_json_str(f, e.reference, 0);
        fputs(",\"key_id\":\"", f);
        cli_hex(f, e.key_id, e.key_id_len);
        fprintf(f, "\",\"wrapped_length\":%zu}", e.wrapped_len);
    }
    fprintf(f, "],\"frames\":%" PRIu64 ",\"plaintext_length\":%" PRIu64 ",\"complete\":%s",
            envelope_inspector_frame_count(ins), envelope_inspector_plaintext_len(ins),
            complete ? "true" : "false");
    if (!complete) {
        fprintf(f, ",\"error\":\"%s\"", envelope_status_name(err->code));
    }
    fprintf(f, ",\"kek_policy\":\"%s\"}\n", kek_policy(ins));
}

static void print_text(const envelope_inspector *ins, int complete)
{
    FILE *f = stdout;
    const envelope_context *ctx = envelope_inspector_context(ins);
    fprintf(f, "format:        envelope v%d\n", envelope_inspector_version(ins));
    fprintf(f, "suite:         0x%04x (AES-256-GCM, HKDF-SHA-512, key commitment)\n",
            envelope_inspector_suite(ins));
    fputs("message id:    ", f);
    cli_hex(f, envelope_inspector_message_id(ins), ENVELOPE_MESSAGE_ID_BYTES);
    fprintf(f, "\nframe size:    %zu\nheader length: %zu\n", envelope_inspector_frame_size(ins),
            envelope_inspector_header_len(ins));
    if (envelope_inspector_flags(ins) & ENVELOPE_FLAG_KEK_POLICY_ANY)
        fputs(
            "kek policy:    any (written allowing unreachable KEKs to be left out: check the EDKs "
            "below; envelope rewrap --to adds a missing one)\n",
            f);
    fprintf(f, "context:       %zu pair%s\n", envelope_context_count(ctx),
            envelope_context_count(ctx) == 1 ? "" : "s");
    for (size_t i = 0; i < envelope_context_count(ctx); i++) {
        fputs("  ", f);
        cli_text_str(f, envelope_context_key(ctx, i));
        fputc('=', f);
        cli_text_str(f, envelope_context_value(ctx, i));
        fputc('\n', f);
    }
    fprintf(f, "EDKs:          %zu\n", envelope_inspector_edk_count(ins));
    for (size_t i = 0; i < envelope_inspector_edk_count(ins); i++) {
        envelope_edk_info e;
        if (!envelope_inspector_edk(ins, i, &e))
            continue;
        fprintf(f, "  %zu: %s kek=", i + 1, envelope_wrap_kind_name(e.wrap_kind));
        cli_text_str(f, e.reference);
        fputs(" key-id=", f);
        cli_hex(f, e.key_id, e.key_id_len);
        fprintf(f, " wrapped=%zu bytes\n", e.wrapped_len);
    }
    fprintf(f, "frames:        %" PRIu64 "%s\n", envelope_inspector_frame_count(ins),
            complete ? "" : " (incomplete: no valid final frame)");
    fprintf(f, "plaintext:     %" PRIu64 " bytes\n", envelope_inspector_plaintext_len(ins));
}

/* Adapter to cli_feed's callback type. */
static envelope_status inspector_update(void *o, const uint8_t *b, size_t n, envelope_err *e)
{
    return envelope_inspector_update(o, b, n, e);
}

int cmd_inspect(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: /* --config is accepted for symmetry; no key is used */
            if (!cli_common_option(c, ch, optarg))
                return cli_usage_hint("inspect");
        }
    }
    if (argc - optind > 1)
        return cli_usage("inspect", "inspect takes one input");
    cli_in in = {.fd = -1};
    envelope_inspector *ins = NULL;
    envelope_err err = {0};
    int rc = cli_in_open(&in, optind < argc ? argv[optind] : NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (envelope_inspector_new(&ins, &err) != ENVELOPE_OK) {
        cli_in_close(&in);
        return cli_report(&err);
    }
    envelope_status s;
    if ((rc = cli_feed(&in, inspector_update, ins, NULL, &s, &err)) != CLI_EXIT_OK)
        goto done;
    if (s == ENVELOPE_OK)
        s = envelope_inspector_final(ins, &err);
    if (envelope_inspector_has_header(ins) &&
        envelope_inspector_form(ins) != ENVELOPE_FORM_MESSAGE) {
        cli_inspect_compact(ins, json);
    } else if (envelope_inspector_has_header(ins)) {
        if (json)
            print_json(ins, s == ENVELOPE_OK, &err);
        else
            print_text(ins, s == ENVELOPE_OK);
    }
    rc = s == ENVELOPE_OK ? CLI_EXIT_OK : cli_report(&err);
done:
    envelope_inspector_free(ins);
    cli_in_close(&in);
    return rc;
}
