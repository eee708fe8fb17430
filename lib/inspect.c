/*
 * inspect.c - reading a message's structure without any key: the header
 * fields, the context, the EDKs (untrusted, shown as stored) and the frame
 * count, walking the frames in constant memory without decrypting them.
 * The first four bytes decide the form: a message (ENVL), or a suite 2 key
 * block (ENVK, held whole: at most ENVELOPE_MAX_KEYBLOCK_BYTES) or record
 * (ENVR: its 47-byte prefix kept, the rest counted), docs/FORMAT.md §10.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "suite2.h"

struct envelope_inspector {
    env_hdracc acc;
    int have_header;
    int done;
    envelope_context *ctx;
    char *refs[ENVELOPE_MAX_EDKS];
    size_t fs;
    uint64_t frames, plaintext;
    /* the frame being walked */
    uint8_t lenbuf[5];
    size_t lenhave;
    uint64_t skip; /* bytes of the current frame still to skip */
    int in_frame;
    envelope_err failure;
    int failed;
    /* the form (ENVELOPE_FORM_*), known once 4 bytes were seen */
    int form;
    uint8_t pre[ENV_REC_PREFIX_LEN + ENV_REC_NONCE_LEN];
    size_t prelen;
    uint8_t *kb; /* a key block's bytes */
    size_t kblen;
    uint64_t total; /* a record's length */
    const uint8_t *dek_id;
};

envelope_status envelope_inspector_new(envelope_inspector **out, envelope_err *err)
{
    env_err_clear(err);
    if (out == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_inspector_new: out is NULL");
    envelope_inspector *in = OPENSSL_zalloc(sizeof(*in));
    if (in == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    envelope_status s = env_hdracc_init(&in->acc, err);
    if (s != ENVELOPE_OK) {
        envelope_inspector_free(in);
        return s;
    }
    *out = in;
    return ENVELOPE_OK;
}

static envelope_status on_header(envelope_inspector *in, envelope_err *err)
{
    const env_header *h = &in->acc.h;
    ENV_GUARD(env_context_decode(h->ctx_enc, h->ctx_enc_len, &in->ctx, err));
    for (size_t i = 0; i < h->edk_count; i++) {
        if ((in->refs[i] = OPENSSL_malloc(h->edks[i].uri_len + 1)) == NULL)
            return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
        memcpy(in->refs[i], h->edks[i].uri, h->edks[i].uri_len);
        in->refs[i][h->edks[i].uri_len] = '\0';
    }
    in->fs = h->frame_size;
    in->have_header = 1;
    return ENVELOPE_OK;
}

static envelope_status walk(envelope_inspector *in, const uint8_t *p, size_t n, envelope_err *err)
{
    while (n > 0) {
        if (in->done)
            return env_fail(err, ENVELOPE_ERR_TRAILING_DATA, "bytes follow the final frame");
        if (in->skip > 0) {
            size_t k = in->skip < n ? (size_t)in->skip : n;
            in->skip -= k;
            p += k;
            n -= k;
            if (in->skip == 0) {
                in->frames++;
                in->in_frame = 0;
                in->lenhave = 0;
                if (in->lenbuf[0] == 0x01)
                    in->done = 1;
            }
            continue;
        }
        in->lenbuf[in->lenhave++] = *p++;
        n--;
        if (in->frames + 1 > ENVELOPE_MAX_FRAMES)
            return env_fail(err, ENVELOPE_ERR_TOO_MANY_FRAMES, "more than 2^32-1 frames");
        if (in->lenbuf[0] == 0x00) {
            in->skip = in->fs + ENV_TAG_LEN;
            in->plaintext += in->fs;
        } else if (in->lenbuf[0] != 0x01) {
            return env_fail(err, ENVELOPE_ERR_FRAME_TYPE, "frame %llu has unknown type 0x%02x",
                            (unsigned long long)in->frames + 1, in->lenbuf[0]);
        } else if (in->lenhave == 5) {
            uint32_t len = ((uint32_t)in->lenbuf[1] << 24) | ((uint32_t)in->lenbuf[2] << 16) |
                           ((uint32_t)in->lenbuf[3] << 8) | in->lenbuf[4];
            if (len > in->fs || (len == 0 && in->frames != 0))
                return env_fail(err, ENVELOPE_ERR_FRAME_LENGTH, "final frame length %u not allowed",
                                len);
            in->skip = (uint64_t)len + ENV_TAG_LEN;
            in->plaintext += len;
        }
        in->in_frame = 1;
    }
    return ENVELOPE_OK;
}

/* Key blocks and records: collected, then read at final. */
static envelope_status compact_update(envelope_inspector *in, const uint8_t *buf, size_t len,
                                      envelope_err *err)
{
    if (in->form == ENVELOPE_FORM_RECORD) {
        size_t k = sizeof(in->pre) - in->prelen < len ? sizeof(in->pre) - in->prelen : len;
        memcpy(in->pre + in->prelen, buf, k);
        in->prelen += k;
        in->total += len;
        return ENVELOPE_OK;
    }
    if (in->kb == NULL && (in->kb = OPENSSL_malloc(ENVELOPE_MAX_KEYBLOCK_BYTES)) == NULL)
        return env_fail(err, ENVELOPE_ERR_NOMEM, "out of memory");
    if (len > ENVELOPE_MAX_KEYBLOCK_BYTES - in->kblen)
        return env_fail(err, ENVELOPE_ERR_TRAILING_DATA,
                        "key block is over %u bytes, the format's limit",
                        ENVELOPE_MAX_KEYBLOCK_BYTES);
    memcpy(in->kb + in->kblen, buf, len);
    in->kblen += len;
    return ENVELOPE_OK;
}

static envelope_status compact_final(envelope_inspector *in, envelope_err *err)
{
    env_header *h = &in->acc.h;
    if (in->form == ENVELOPE_FORM_RECORD) {
        const uint8_t *id = NULL;
        if (in->total > SIZE_MAX)
            return env_fail(err, ENVELOPE_ERR_FRAME_LENGTH, "record too long");
        /* the checks of envelope_record_dek_id on the prefix, with the length */
        uint8_t probe[ENVELOPE_RECORD_OVERHEAD] = {0};
        memcpy(probe, in->pre, in->prelen);
        size_t n = in->total < sizeof(probe) ? (size_t)in->total : sizeof(probe);
        ENV_GUARD(envelope_record_dek_id(probe, n, &id, err));
        if (in->total - ENVELOPE_RECORD_OVERHEAD > ENVELOPE_RECORD_MAX_PLAINTEXT)
            return env_fail(err, ENVELOPE_ERR_FRAME_LENGTH,
                            "record carries more than %u bytes of ciphertext",
                            ENVELOPE_RECORD_MAX_PLAINTEXT);
        h->version = in->pre[4];
        h->suite = (uint16_t)((in->pre[5] << 8) | in->pre[6]);
        h->total_len = ENV_REC_PREFIX_LEN + ENV_REC_NONCE_LEN;
        in->dek_id = in->pre + 7;
        in->plaintext = in->total - ENVELOPE_RECORD_OVERHEAD;
        in->have_header = 1;
        return ENVELOPE_OK;
    }
    env_kb_parsed p;
    ENV_GUARD(env_kb_parse(in->kb ? in->kb : (const uint8_t *)"", in->kblen, &p, err));
    *h = p.h;
    in->dek_id = p.id;
    ENV_GUARD(on_header(in, err));
    in->fs = 0;
    return ENVELOPE_OK;
}

envelope_status envelope_inspector_update(envelope_inspector *in, const uint8_t *buf, size_t len,
                                          envelope_err *err)
{
    env_err_clear(err);
    if (in == NULL || (buf == NULL && len > 0))
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_inspector_update: NULL argument");
    if (in->failed) {
        if (err)
            *err = in->failure;
        return in->failure.code;
    }
    if (len == 0) /* nothing to read (buf may be NULL) */
        return ENVELOPE_OK;
    envelope_status s = ENVELOPE_OK;
    if (in->form == 0 && in->acc.len + len >= 4) {
        /* the magic: the header accumulator holds what came before */
        uint8_t m[4];
        size_t have = in->acc.len;
        memcpy(m, in->acc.buf, have);
        memcpy(m + have, buf, 4 - have);
        in->form = memcmp(m, ENV_KB_MAGIC, 4) == 0    ? ENVELOPE_FORM_KEYBLOCK
                   : memcmp(m, ENV_REC_MAGIC, 4) == 0 ? ENVELOPE_FORM_RECORD
                                                      : ENVELOPE_FORM_MESSAGE;
        if (in->form != ENVELOPE_FORM_MESSAGE) {
            in->acc.len = 0;
            s = compact_update(in, m, have, err);
        }
    } else if (in->form == 0) {
        /* fewer than 4 bytes so far: keep them where a message's go */
        memcpy(in->acc.buf + in->acc.len, buf, len);
        in->acc.len += len;
        return ENVELOPE_OK;
    }
    if (s == ENVELOPE_OK && in->form != ENVELOPE_FORM_MESSAGE)
        s = compact_update(in, buf, len, err);
    else if (s == ENVELOPE_OK && !in->have_header) {
        s = env_hdracc_feed(&in->acc, &buf, &len, err);
        if (s == ENVELOPE_ERR_TRUNCATED)
            return ENVELOPE_OK;
        if (s == ENVELOPE_OK)
            s = on_header(in, err);
    }
    if (s == ENVELOPE_OK && in->form == ENVELOPE_FORM_MESSAGE)
        s = walk(in, buf, len, err);
    if (s != ENVELOPE_OK) {
        in->failed = 1;
        if (err)
            in->failure = *err;
        else
            in->failure.code = s;
    }
    return s;
}

envelope_status envelope_inspector_final(envelope_inspector *in, envelope_err *err)
{
    env_err_clear(err);
    if (in == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_inspector_final: NULL argument");
    if (in->failed) {
        if (err)
            *err = in->failure;
        return in->failure.code;
    }
    if (in->form == ENVELOPE_FORM_KEYBLOCK || in->form == ENVELOPE_FORM_RECORD) {
        envelope_status s = in->have_header ? ENVELOPE_OK : compact_final(in, err);
        if (s != ENVELOPE_OK) {
            in->failed = 1;
            in->failure.code = s;
            if (err)
                in->failure = *err;
        }
        return s;
    }
    if (!in->have_header)
        return env_fail(err, ENVELOPE_ERR_TRUNCATED, "input ends inside the message header");
    if (!in->done)
        return env_fail(err, ENVELOPE_ERR_TRUNCATED,
                        "message ends before its final frame (truncated)");
    return ENVELOPE_OK;
}

int envelope_inspector_has_header(const envelope_inspector *in)
{
    return in && in->have_header;
}

int envelope_inspector_version(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.version : 0;
}

int envelope_inspector_suite(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.suite : 0;
}

int envelope_inspector_flags(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.flags : 0;
}

const uint8_t *envelope_inspector_message_id(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.message_id : NULL;
}

size_t envelope_inspector_frame_size(const envelope_inspector *in)
{
    return in && in->have_header ? in->fs : 0;
}

size_t envelope_inspector_header_len(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.total_len : 0;
}

const envelope_context *envelope_inspector_context(const envelope_inspector *in)
{
    return in ? in->ctx : NULL;
}

size_t envelope_inspector_edk_count(const envelope_inspector *in)
{
    return in && in->have_header ? in->acc.h.edk_count : 0;
}

int envelope_inspector_edk(const envelope_inspector *in, size_t i, envelope_edk_info *out)
{
    if (in == NULL || !in->have_header || i >= in->acc.h.edk_count || out == NULL)
        return 0;
    const env_edk *e = &in->acc.h.edks[i];
    out->wrap_kind = e->kind;
    out->reference = in->refs[i];
    out->key_id = e->key_id;
    out->key_id_len = e->key_id_len;
    out->wrapped_len = e->wrapped_len;
    return 1;
}

int envelope_inspector_form(const envelope_inspector *in)
{
    return in && in->form ? in->form : ENVELOPE_FORM_MESSAGE;
}

const uint8_t *envelope_inspector_dek_id(const envelope_inspector *in)
{
    return in && in->have_header ? in->dek_id : NULL;
}

uint64_t envelope_inspector_frame_count(const envelope_inspector *in)
{
    return in ? in->frames : 0;
}

uint64_t envelope_inspector_plaintext_len(const envelope_inspector *in)
{
    return in ? in->plaintext : 0;
}

void envelope_inspector_free(envelope_inspector *in)
{
    if (in == NULL)
        return;
    env_hdracc_cleanup(&in->acc);
    OPENSSL_free(in->kb);
    envelope_context_free(in->ctx);
    for (size_t i = 0; i < ENVELOPE_MAX_EDKS; i++)
        OPENSSL_free(in->refs[i]);
    OPENSSL_free(in);
}
