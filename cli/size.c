/*
 * size.c - byte counts given on the command line ("65536", "64K", "1M",
 * "64KiB").
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli.h"

int cli_parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return 0;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if (*end == 'i' && (end[1] == 'B' || end[1] == 'b'))
        end += 2;
    if (*end != '\0' || v > SIZE_MAX / mul)
        return 0;
    *out = (size_t)(v * mul);
    return 1;
}
