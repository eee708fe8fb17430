/* test_err.c - see test_err.h. */
#include "test_err.h"

#include <openssl/err.h>

int test_err_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    return e != 0 ? ERR_GET_REASON(e) : 0;
}

const char *test_err_message(void)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);
    return e != 0 && data != NULL && (flags & ERR_TXT_STRING) ? data : "";
}

void test_err_clear(void)
{
    ERR_clear_error();
}
