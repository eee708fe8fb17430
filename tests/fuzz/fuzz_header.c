/*
 * fuzz_header.c - libFuzzer target for the message header parser and the
 * parts of a reader that run before any key is used: the one-shot parser,
 * the streaming header accumulator fed in uneven pieces (both must agree),
 * the context decoder, the untrusted-reference check and the key-less
 * inspector walking the frames. The inspector reads all three forms of
 * docs/FORMAT.md (message ENVL, key block ENVK, record ENVR): its verdict
 * is checked against the parser of the form the magic names.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "suite2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the form's own parser says of the input, without a key. */
static envelope_status compact_verdict(const uint8_t *data, size_t size)
{
    envelope_err e;
    if (size >= 4 && memcmp(data, ENV_REC_MAGIC, 4) == 0) {
        const uint8_t *id = NULL;
        envelope_status s = envelope_record_dek_id(data, size, &id, &e);
        if (s == ENVELOPE_OK && (id != data + 7 || size < ENVELOPE_RECORD_OVERHEAD))
            abort(); /* the DEK id is bytes [7..23) of a record at least the overhead long */
        if (s == ENVELOPE_OK && size - ENVELOPE_RECORD_OVERHEAD > ENVELOPE_RECORD_MAX_PLAINTEXT)
            return ENVELOPE_ERR_FRAME_LENGTH;
        return s;
    }
    env_kb_parsed p;
    envelope_status s = env_kb_parse(data, size, &p, &e);
    if (s == ENVELOPE_OK) {
        envelope_context *c = NULL;
        if (p.h.total_len > size ||
            env_context_decode(p.h.ctx_enc, p.h.ctx_enc_len, &c, &e) != ENVELOPE_OK)
            abort(); /* the parser already validated the context */
        envelope_context_free(c);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int compact = size >= 4 &&
                  (memcmp(data, ENV_REC_MAGIC, 4) == 0 || memcmp(data, ENV_KB_MAGIC, 4) == 0);
    envelope_status cs = compact ? compact_verdict(data, size) : ENVELOPE_ERR_BAD_MAGIC;
    if (!compact) /* the key block parser sees every input too */
        (void)compact_verdict(data, size);
    env_header h;
    size_t need = 0;
    envelope_err e;
    envelope_status s = env_header_parse(data, size, &h, &need, &e);
    if (s == ENVELOPE_ERR_TRUNCATED && (need <= size || need > ENV_MAX_HEADER))
        abort(); /* a short read must ask for more, and never for too much */
    if (s == ENVELOPE_OK) {
        if (h.total_len > size || h.body_len + ENV_TAG_LEN > h.total_len)
            abort();
        envelope_context *c = NULL;
        if (env_context_decode(h.ctx_enc, h.ctx_enc_len, &c, &e) != ENVELOPE_OK)
            abort(); /* the parser already validated it */
        envelope_context_free(c);
        for (size_t i = 0; i < h.edk_count; i++) {
            char ref[ENVELOPE_MAX_KEK_URI + 1];
            (void)env_uri_check_untrusted(h.edks[i].uri, h.edks[i].uri_len, ref, sizeof(ref), &e);
        }
    }
    /* The accumulator, fed in pieces of a size taken from the input. */
    env_hdracc a;
    if (env_hdracc_init(&a, &e) != ENVELOPE_OK)
        return 0;
    size_t step = size ? (size_t)data[0] % 97 + 1 : 1;
    const uint8_t *p = data;
    size_t left = size;
    envelope_status as = ENVELOPE_ERR_TRUNCATED;
    while (as == ENVELOPE_ERR_TRUNCATED && left > 0) {
        size_t n = left < step ? left : step, before = n;
        as = env_hdracc_feed(&a, &p, &n, &e);
        left -= before - n;
    }
    if ((s == ENVELOPE_OK) != (as == ENVELOPE_OK))
        abort();
    if (as != s)
        abort(); /* the stream's verdict is the one-shot's, error for error */
    if (s == ENVELOPE_OK && a.h.total_len != h.total_len)
        abort();
    env_hdracc_cleanup(&a);
    envelope_inspector *in = NULL;
    if (envelope_inspector_new(&in, &e) == ENVELOPE_OK) {
        int ok = envelope_inspector_update(in, data, size, &e) == ENVELOPE_OK &&
                 envelope_inspector_final(in, &e) == ENVELOPE_OK;
        if (ok && !compact && s != ENVELOPE_OK)
            abort(); /* the inspector read a message whose header does not parse */
        if (ok && compact && cs != ENVELOPE_OK)
            abort(); /* ... or a key block or record its parser refuses */
        if (compact && memcmp(data, ENV_REC_MAGIC, 4) == 0 && ok != (cs == ENVELOPE_OK))
            abort(); /* a record's checks need no key: the verdicts are the same */
        envelope_inspector_free(in);
    }
    return 0;
}
