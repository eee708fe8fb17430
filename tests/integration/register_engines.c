/*
 * register_engines.c - what the openssl app does at start-up and a test
 * program must be able to do too: load the configuration and make every
 * configured ENGINE the one OpenSSL 3.0 asks for the algorithms it
 * implements. Deprecated API, so this file alone is built without
 * OPENSSL_NO_DEPRECATED (tests/integration/provider.cmake).
 */
#include <openssl/crypto.h>
#include <openssl/engine.h>

int test_register_all_engines(void);

int test_register_all_engines(void)
{
    if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
        return 0;
    ENGINE_register_all_complete();
    return 1;
}
