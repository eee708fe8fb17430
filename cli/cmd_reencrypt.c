#include "cli.h"
int cmd_reencrypt(int argc, char **argv, cli_common *c)
{
    (void)argc; (void)argv; (void)c;
    return cli_usage("reencrypt", "not yet");
}
