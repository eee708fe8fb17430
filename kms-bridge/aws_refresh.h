/*
 * aws_refresh.h - a slot's current credentials, and the one thread that
 * fetches and refreshes them.
 *
 * Contract:
 *  - Calls take a reference (aws_cred_acquire) for the whole request and
 *    drop it after (aws_cred_release): a refresh swaps in new credentials
 *    for later calls and never changes those of a call in flight; the old
 *    ones are wiped when their last call lets go.
 *  - Only the refresher thread runs the chain (aws_creds.h). It fetches
 *    on first use, and again before temporary credentials expire: at
 *    expiry minus min(5 min, half their lifetime). A call that finds no
 *    usable credentials (none yet, or within 10 s of expiry) wakes it and
 *    waits, up to its own timeout. A failed fetch is retried after 5 s
 *    (sooner never: no storm on STS or IMDS); waiting calls get its error.
 *  - aws_cred_invalidate: the service said the token has expired (clock
 *    skew, revoked session): the next acquire waits for a fresh fetch.
 *  - The thread starts on first use (and again in a forked child, where
 *    it does not exist) and stops in aws_refresh_shutdown (C_Finalize).
 */
#ifndef AWS_REFRESH_H
#define AWS_REFRESH_H

#include <stddef.h>
#include <time.h>

#include "aws_config.h"
#include "aws_creds.h"

#define KMS_REFRESH_MAX 8 /* holders: one per aws-kms slot (KMS_MAX_SLOTS) */

typedef struct aws_cred_holder {
    aws_creds *cur;
    char profile[AWS_PROFILE_MAX + 1];
    char region[AWS_REGION_MAX + 1];
    char ca_file[4096];
    long timeout_ms;
    int want;               /* a call waits for a fetch */
    unsigned long attempts; /* fetches finished, success or not */
    time_t retry_at;        /* after a failure */
    unsigned long fetches;  /* successful ones (for the debug log and tests) */
    char error[512];
    int registered;
} aws_cred_holder;

void aws_cred_holder_init(aws_cred_holder *h, const aws_slot_cfg *cfg, long timeout_ms);
/* Unregisters h and frees its credentials (after aws_refresh_shutdown). */
void aws_cred_holder_cleanup(aws_cred_holder *h);

/* A reference to usable credentials, or NULL with the reason in err
 * (the chain's error, or a timeout). */
aws_creds *aws_cred_acquire(aws_cred_holder *h, long timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void aws_cred_release(aws_cred_holder *h, aws_creds *c);
void aws_cred_invalidate(aws_cred_holder *h, const aws_creds *c);

/* Stops and joins the refresher thread (C_Finalize). */
void aws_refresh_shutdown(void);

#endif
