/*
 * cmd_inspect.c - `envelope inspect [--json]`: the header, the context, each
 * EDK's KEK reference and wrap kind, and the frame count; no key needed.
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
    fprintf(f,
            "usage: envelope inspect [--json] [IN]\n"
            "\n"
            "Shows a message's header fields, encryption context, EDKs (KEK reference, key id,\n"
            "wrap kind) and frame count without decrypting it. The fields are not authenticated\n"
            "until `envelope decrypt` succeeds.\n"
            "  --json   one JSON object on stdout (stable schema, see envelope(1))\n");
}

/* One RFC 3629 UTF-8 sequence at p (NUL-terminated string): its length,
 * with the code point in *cp, or 0 if the bytes there are not valid UTF-8
 * (overlong forms, surrogates and values above U+10FFFF are not). */
static size_t utf8_next(const unsigned char *p, uint32_t *cp)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = p[0] < 0x80             ? 1
               : (p[0] & 0xe0) == 0xc0 ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0)
        return 0;
    uint32_t c = n == 1 ? p[0] : (uint32_t)(p[0] & (0x7f >> n));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* Code points a message must not send to a terminal raw: the C0 and C1
 * controls, DEL, and the Unicode bidirectional controls (Unicode Standard
 * Annex #9: LRM, RLM, ALM, the embeddings and overrides U+202A..U+202E and
 * the isolates U+2066..U+2069), which reorder how the rest of a line is
 * shown ("Trojan Source"): a context value could make `tenant=evil` read
 * as something else. */
static int must_escape(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* JSON string. With utf8 (context keys and values, validated UTF-8 by the
 * library) valid UTF-8 is kept except must_escape() code points, written
 * as \uXXXX; without (references, untrusted bytes) every byte outside
 * printable ASCII is \u00XX-escaped. Either way the output is plain
 * printable text whose JSON value is exact. */
static void json_str(FILE *f, const char *s, int utf8)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp = *p;
        size_t n = utf8 ? utf8_next(p, &cp) : 1;
        if (n == 0) {
            fprintf(f, "\\u%04x", *p++);
            continue;
        }
        if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (must_escape(cp) || (!utf8 && cp >= 0x80))
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

/* Text form: valid UTF-8 as it is, except that a backslash is doubled, the
 * C0 controls and DEL are \xNN, the bidi controls are \uXXXX (see
 * must_escape), and every byte that is not part of valid UTF-8 is \xNN
 * (a lone 0x9B is CSI to 8-bit terminals). A C1 control as UTF-8
 * (U+0080..U+009F; U+009B is CSI to many terminals) is shown as its two
 * bytes, \xc2\xNN. With the backslash doubled, every escape reads back to
 * exactly one original. */
static void text_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp = 0;
        size_t n = utf8_next(p, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f) {
            fprintf(f, "\\x%02x", *p++);
        } else if (cp >= 0x80 && cp <= 0x9f) {
            fprintf(f, "\\x%02x\\x%02x", p[0], p[1]);
            p += n;
        } else if (must_escape(cp)) {
            fprintf(f, "\\u%04x", (unsigned)cp);
            p += n;
        } else if (cp == '\\') {
            fputs("\\\\", f);
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
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
        json_str(f, envelope_context_key(ctx, i), 1);
        fputc(':', f);
        json_str(f, envelope_context_value(ctx, i), 1);
    }
    fputs("},\"edks\":[", f);
    for (size_t i = 0; i < envelope_inspector_edk_count(ins); i++) {
        envelope_edk_info e;
        if (!envelope_inspector_edk(ins, i, &e))
            continue;
        fprintf(f, "%s{\"wrap_kind\":\"%s\",\"wrap_kind_id\":%d,\"kek\":", i ? "," : "",
                envelope_wrap_kind_name(e.wrap_kind), e.wrap_kind);
        json_str(f, e.reference, 0);
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
    fputs("}\n", f);
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
    fprintf(f, "context:       %zu pair%s\n", envelope_context_count(ctx),
            envelope_context_count(ctx) == 1 ? "" : "s");
    for (size_t i = 0; i < envelope_context_count(ctx); i++) {
        fputs("  ", f);
        text_str(f, envelope_context_key(ctx, i));
        fputc('=', f);
        text_str(f, envelope_context_value(ctx, i));
        fputc('\n', f);
    }
    fprintf(f, "EDKs:          %zu\n", envelope_inspector_edk_count(ins));
    for (size_t i = 0; i < envelope_inspector_edk_count(ins); i++) {
        envelope_edk_info e;
        if (!envelope_inspector_edk(ins, i, &e))
            continue;
        fprintf(f, "  %zu: %s kek=", i + 1, envelope_wrap_kind_name(e.wrap_kind));
        text_str(f, e.reference);
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
            if (!cli_common_option(c, ch, optarg)) {
                help(stderr);
                return CLI_EXIT_USAGE;
            }
        }
    }
    if (argc - optind > 1)
        return cli_fail(CLI_EXIT_USAGE, "inspect takes one input");
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
    if (envelope_inspector_has_header(ins)) {
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
