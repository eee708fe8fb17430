/*
 * audit_line.h - one audit line as text (docs/AUDIT.md, "The line"): the
 * pieces the writer thread (audit_writer.c) puts together, kept apart from
 * the ring and the sinks so that the unit test can check them alone.
 *
 * A line is one JSON object on one line, ASCII only (every byte outside
 * printable ASCII in a string is escaped as \u00XX, so any JSON parser
 * reads it and no terminal control reaches a reader). Its last member is
 * "hash": SHA-256, in hex, over the line's bytes up to and excluding
 * `,"hash":"`; the member before it, "prev", is the hash of the line before
 * it in its chain, or 64 zeros on the line that starts the chain.
 */
#ifndef ENVPROV_AUDIT_LINE_H
#define ENVPROV_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_LINE_TAG "{\"audit\":\"envelope/1\""
#define AUDIT_HASH_HEX 64
#define AUDIT_CHAIN_HEX 32
/* `,"hash":"` + 64 hex + `"}` */
#define AUDIT_HASH_SUFFIX_LEN (9 + AUDIT_HASH_HEX + 2)

/* A growing text buffer; every append keeps it NUL-terminated. On an
 * allocation failure `failed` is set and further appends do nothing. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} audit_buf;

void audit_buf_reserve(audit_buf *b, size_t more);
void audit_buf_put(audit_buf *b, const char *s, size_t n);
void audit_buf_str(audit_buf *b, const char *s);
void audit_buf_u64(audit_buf *b, uint64_t v);
void audit_buf_i64(audit_buf *b, int64_t v);
/* A JSON string: the quotes and s[0..n) escaped (see above). */
void audit_buf_json(audit_buf *b, const char *s, size_t n);
void audit_buf_hex(audit_buf *b, const unsigned char *p, size_t n);
/* RFC 3339 UTC with microseconds, quoted: "2026-12-07T22:46:23.123456Z". */
void audit_buf_time(audit_buf *b, uint64_t realtime_ns);

/* A KEK reference with its secrets and PIN hints removed: every pin-value
 * and pin-source attribute (path ';' or query '&'/'?' separated) is
 * dropped. Writes at most outsize-1 bytes and a NUL; returns the length. */
size_t audit_strip_uri(const char *uri, size_t n, char *out, size_t outsize);

/* The category of a provider reason (ENVCORE_R_*): "usage", "format",
 * "authentication", "backend", "policy", "audit", "alarm", "internal";
 * NULL for ENVCORE_R_OK. */
const char *audit_error_category(int reason);

/* If line[0..n) ends as an audit line does (`,"hash":"<64 hex>"}`), its hash
 * (64 hex, not NUL-terminated) and, when it has one, its "chain" value (32
 * hex), else NULL for each. */
const char *audit_line_hash(const char *line, size_t n);
const char *audit_line_chain(const char *line, size_t n);

#endif
