/*
 * test_err.h - what tests assert about a raised error: the reason and the
 * message of the newest error on this thread's OpenSSL error queue, where
 * core/errors.c puts every raised error (as ERR_LIB_USER outside a
 * provider). Reading does not consume it.
 */
#ifndef ENVELOPE_TEST_ERR_H
#define ENVELOPE_TEST_ERR_H

int test_err_reason(void);          /* 0 if the queue is empty */
const char *test_err_message(void); /* "" if none */
void test_err_clear(void);

#endif
