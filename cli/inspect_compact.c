/*
 * inspect_compact.c - `envelope inspect` of suite 2's compact forms
 * (docs/FORMAT.md §10): a key block (DEK id, context, EDKs, length) or a
 * record (DEK id, lengths). Nothing shown is authenticated: a key block's
 * fields are checked when it is loaded with a KEK, a record's when it is
 * opened. JSON keys (docs/envelope.1, "INSPECT JSON") are only ever added.
 */
#include <inttypes.h>
#include <stdint.h>

#include "cli.h"

#define SUITE2_NAME "XAES-256-GCM/per-DEK commit, compact"

static void edks_json(FILE *f, const envelope_inspector *ins)
{
    fputs("\"edks\":[", f);
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
    fputc(']', f);
}

static void json(const envelope_inspector *ins, int kb)
{
    FILE *f = stdout;
    fprintf(f, "{\"format\":\"%s\",\"version\":%d,\"suite\":%d,\"suite_name\":\"%s\",\"dek_id\":\"",
            kb ? "envelope-keyblock" : "envelope-record", envelope_inspector_version(ins),
            envelope_inspector_suite(ins), SUITE2_NAME);
    cli_hex(f, envelope_inspector_dek_id(ins), ENVELOPE_DEK_ID_BYTES);
    fputc('"', f);
    if (kb) {
        const envelope_context *ctx = envelope_inspector_context(ins);
        fprintf(f, ",\"length\":%zu,\"context\":{", envelope_inspector_header_len(ins));
        for (size_t i = 0; i < envelope_context_count(ctx); i++) {
            if (i)
                fputc(',', f);
            cli_json_str(f, envelope_context_key(ctx, i), 1);
            fputc(':', f);
            cli_json_str(f, envelope_context_value(ctx, i), 1);
        }
        fputs("},", f);
        edks_json(f, ins);
    } else {
        uint64_t pt = envelope_inspector_plaintext_len(ins);
        fprintf(f, ",\"length\":%" PRIu64 ",\"plaintext_length\":%" PRIu64,
                pt + ENVELOPE_RECORD_OVERHEAD, pt);
    }
    fputs(",\"complete\":true}\n", f);
}

static void text(const envelope_inspector *ins, int kb)
{
    FILE *f = stdout;
    fprintf(f, "format:        envelope %s v%d\n", kb ? "key block" : "record",
            envelope_inspector_version(ins));
    fprintf(f, "suite:         0x%04x (XAES-256-GCM, per-DEK key commitment, compact)\n",
            envelope_inspector_suite(ins));
    fputs("DEK id:        ", f);
    cli_hex(f, envelope_inspector_dek_id(ins), ENVELOPE_DEK_ID_BYTES);
    fputc('\n', f);
    if (!kb) {
        uint64_t pt = envelope_inspector_plaintext_len(ins);
        fprintf(f, "length:        %" PRIu64 " bytes (%u of overhead)\n",
                pt + ENVELOPE_RECORD_OVERHEAD, ENVELOPE_RECORD_OVERHEAD);
        fprintf(f, "plaintext:     %" PRIu64 " bytes\n", pt);
        return;
    }
    const envelope_context *ctx = envelope_inspector_context(ins);
    fprintf(f, "length:        %zu bytes\n", envelope_inspector_header_len(ins));
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
}

void cli_inspect_compact(const envelope_inspector *ins, int as_json)
{
    int kb = envelope_inspector_form(ins) == ENVELOPE_FORM_KEYBLOCK;
    if (as_json)
        json(ins, kb);
    else
        text(ins, kb);
}
