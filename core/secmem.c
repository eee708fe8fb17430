/*
 * secmem.c - page-aligned, locked, non-dumpable, wiped secret allocations.
 * See secmem.h for the contract.
 */
#include "secmem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Header at the start of the mapping; the caller's bytes follow it. */
struct secmem_hdr {
    uint64_t magic;
    size_t map_len; /* bytes mapped, excluding the trailing guard page */
    size_t user_len;
    int locked;
};

#define SECMEM_MAGIC 0x53454d454e56454cULL /* "LEVNEMES" */

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

void *envelope_secmem_alloc(size_t n)
{
    size_t pg = page_size();
    size_t need = sizeof(struct secmem_hdr) + n;
    if (n == 0 || need < n || need > SIZE_MAX - 2 * pg)
        return NULL;
    size_t map_len = (need + pg - 1) / pg * pg;
    uint8_t *base = mmap(NULL, map_len + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* Guard page: an overrun faults instead of reading the next secret. */
    if (mprotect(base + map_len, pg, PROT_NONE) != 0) {
        munmap(base, map_len + pg);
        return NULL;
    }
#ifdef MADV_DONTDUMP
    (void)madvise(base, map_len, MADV_DONTDUMP);
#endif
    struct secmem_hdr *h = (struct secmem_hdr *)base;
    h->magic = SECMEM_MAGIC;
    h->map_len = map_len;
    h->user_len = n;
    h->locked = mlock(base, map_len) == 0;
    return base + sizeof(*h);
}

static struct secmem_hdr *header_of(const void *p)
{
    struct secmem_hdr *h = (struct secmem_hdr *)((uint8_t *)(uintptr_t)p -
                                                 sizeof(struct secmem_hdr));
    if (h->magic != SECMEM_MAGIC)
        abort(); /* not from this allocator: a bug, never continue */
    return h;
}

void envelope_secmem_free(void *p)
{
    if (p == NULL)
        return;
    struct secmem_hdr *h = header_of(p);
    size_t pg = page_size();
    size_t map_len = h->map_len;
    int locked = h->locked;
    OPENSSL_cleanse(h, map_len);
    if (locked)
        (void)munlock(h, map_len);
    (void)munmap(h, map_len + pg);
}

int envelope_secmem_locked(const void *p)
{
    return p != NULL && header_of(p)->locked;
}

char *envelope_secmem_strdup(const char *s)
{
    size_t n = strlen(s);
    char *d = envelope_secmem_alloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

void envelope_secmem_harden_process(void)
{
    if (secure_getenv("ENVELOPE_ALLOW_DUMP") == NULL) /* not in setuid programs */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
