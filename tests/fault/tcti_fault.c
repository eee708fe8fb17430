/*
 * tcti_fault.c - FAULT INJECTOR, for tests only: a TCTI in front of a real
 * one (the test's swtpm) that alters TPM responses on their way back, as an
 * interposer on the TPM bus would - something swtpm cannot be made to do.
 *
 *   TCTI string:  /path/tcti_fault.so:INNER     INNER = the real TCTI's
 *                                               "name:conf", e.g. swtpm:port=N
 *   ENVELOPE_FAULT_TCTI=WHAT:CC:FIRST:COUNT     read at every response
 *
 * WHAT is `rsp-hmac` (flip a bit of the response's last byte: the session
 * HMAC of a one-session response), `rsp-param` (flip a bit of the first
 * byte of the first response parameter's data, i.e. the ciphertext of an
 * encrypted parameter) or `rc-nonce` (replace the answer by TPM_RC_NONCE for
 * session 1, after the TPM ran the command: the caller's nonces are then
 * out of step with the TPM's, as after a lost response). Only successful responses with sessions to command
 * code CC (hex) count; the FIRST-th (1-based) to the (FIRST+COUNT-1)-th are
 * altered. The count restarts whenever the variable's value changes, so a
 * test arms a fault with setenv. Every altered response is reported on
 * stderr ("tcti_fault: altered ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_tcti.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_tpm2_types.h>

#define FAULT_MAGIC 0x7463746966617531ULL

typedef struct {
    TSS2_TCTI_CONTEXT_COMMON_V2 common;
    TSS2_TCTI_CONTEXT *inner;
    uint32_t cc; /* of the command last sent */
} fault_ctx;

static char spec_seen[128];
static unsigned long matched;

#define FAULT(ctx) ((fault_ctx *)(void *)(ctx))

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static TSS2_RC fault_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *cmd)
{
    FAULT(ctx)->cc = size >= 10 ? get32(cmd + 6) : 0;
    return Tss2_Tcti_Transmit(FAULT(ctx)->inner, size, cmd);
}

static void maybe_alter(const fault_ctx *f, uint8_t *rsp, size_t *size)
{
    size_t len = *size;
    const char *spec = getenv("ENVELOPE_FAULT_TCTI");
    char what[32];
    unsigned cc;
    unsigned long first, count;

    if (spec == NULL || strlen(spec) >= sizeof(spec_seen))
        return;
    if (strcmp(spec, spec_seen) != 0) {
        memcpy(spec_seen, spec, strlen(spec) + 1); /* bounded above */
        matched = 0;
    }
    if (sscanf(spec, "%31[^:]:%x:%lu:%lu", what, &cc, &first, &count) != 4)
        return;
    /* tag TPM_ST_SESSIONS, rc 0: header(10) | parameterSize(4) | params | auths */
    if (len < 20 || f->cc != cc || rsp[0] != 0x80 || rsp[1] != 0x02 || get32(rsp + 6) != 0)
        return;
    matched++;
    if (matched < first || matched >= first + count)
        return;
    if (strcmp(what, "rsp-hmac") == 0)
        rsp[len - 1] ^= 0x01;
    else if (strcmp(what, "rsp-param") == 0)
        rsp[16] ^= 0x01; /* after parameterSize and the TPM2B's size */
    else if (strcmp(what, "rc-nonce") == 0) {
        /* TPM_ST_NO_SESSIONS, size 10, TPM_RC_NONCE + TPM_RC_S + TPM_RC_1 */
        static const uint8_t err[10] = {0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x8f};
        memcpy(rsp, err, sizeof(err));
        *size = sizeof(err);
    } else
        return;
    fprintf(stderr, "tcti_fault: altered %s of response %lu to 0x%x\n", what, matched, cc);
}

static TSS2_RC fault_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *rsp, int32_t timeout)
{
    TSS2_RC rc = Tss2_Tcti_Receive(FAULT(ctx)->inner, size, rsp, timeout);

    if (rc == TSS2_RC_SUCCESS && rsp != NULL)
        maybe_alter(FAULT(ctx), rsp, size);
    return rc;
}

static void fault_finalize(TSS2_TCTI_CONTEXT *ctx)
{
    Tss2_TctiLdr_Finalize(&FAULT(ctx)->inner);
}

static TSS2_RC fault_cancel(TSS2_TCTI_CONTEXT *ctx)
{
    return Tss2_Tcti_Cancel(FAULT(ctx)->inner);
}

static TSS2_RC fault_poll(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
    return Tss2_Tcti_GetPollHandles(FAULT(ctx)->inner, h, n);
}

static TSS2_RC fault_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
    return Tss2_Tcti_SetLocality(FAULT(ctx)->inner, locality);
}

static TSS2_RC fault_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
    return Tss2_Tcti_MakeSticky(FAULT(ctx)->inner, handle, sticky);
}

static TSS2_RC fault_init(TSS2_TCTI_CONTEXT *ctx, size_t *size, const char *conf)
{
    fault_ctx *f = FAULT(ctx);

    if (size == NULL)
        return TSS2_TCTI_RC_BAD_VALUE;
    if (ctx == NULL) {
        *size = sizeof(fault_ctx);
        return TSS2_RC_SUCCESS;
    }
    if (conf == NULL || *size < sizeof(fault_ctx))
        return TSS2_TCTI_RC_BAD_VALUE;
    memset(f, 0, sizeof(*f));
    if (Tss2_TctiLdr_Initialize(conf, &f->inner) != TSS2_RC_SUCCESS)
        return TSS2_TCTI_RC_IO_ERROR;
    f->common.v1.magic = FAULT_MAGIC;
    f->common.v1.version = 2;
    f->common.v1.transmit = fault_transmit;
    f->common.v1.receive = fault_receive;
    f->common.v1.finalize = fault_finalize;
    f->common.v1.cancel = fault_cancel;
    f->common.v1.getPollHandles = fault_poll;
    f->common.v1.setLocality = fault_locality;
    f->common.makeSticky = fault_sticky;
    return TSS2_RC_SUCCESS;
}

static const TSS2_TCTI_INFO info = {
    .version = 2,
    .name = "tcti-fault",
    .description = "envelope test fault injector in front of a real TCTI",
    .config_help = "INNER_TCTI_NAME:INNER_CONF",
    .init = fault_init,
};

/* the one symbol the TCTI loader looks up (the build hides the others) */
__attribute__((visibility("default"))) const TSS2_TCTI_INFO *Tss2_Tcti_Info(void);
const TSS2_TCTI_INFO *Tss2_Tcti_Info(void)
{
    return &info;
}
