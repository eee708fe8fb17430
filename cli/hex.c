/*
 * hex.c - bytes (message ids, key ids) as lowercase hex.
 */
#include <stdio.h>

#include "cli.h"

void cli_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}
