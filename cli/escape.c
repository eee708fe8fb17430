/*
 * escape.c - showing untrusted strings (a message's context and KEK
 * references, a token's labels) on a terminal or in JSON without letting
 * them drive the terminal or reorder the line around them (docs/envelope.1,
 * "inspect": the escapes are documented there).
 */
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

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
void cli_json_str(FILE *f, const char *s, int utf8)
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
void cli_text_str(FILE *f, const char *s)
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
