/*
 * secmem.h - the one allocator for secrets (DEKs, PINs, credentials).
 *
 * Contract:
 *  - envelope_secmem_alloc(n) returns n zeroed bytes on their own pages,
 *    mlock()ed (never swapped) and madvise(MADV_DONTDUMP)ed (never in a core
 *    dump), or NULL. If mlock fails (RLIMIT_MEMLOCK) the allocation still
 *    succeeds but envelope_secmem_locked() reports it; callers that must
 *    refuse unlocked memory check that.
 *  - envelope_secmem_free(p) is NULL-safe: it zeroes the whole mapping with
 *    OPENSSL_cleanse, unlocks and unmaps it.
 *  - Pages are not shared between allocations, so a stray write past one
 *    secret cannot reach another; a guard page follows every allocation.
 *  - Mappings are inherited by fork() (a child needs the PIN to log in
 *    again); caches of unwrapped keys clear themselves in a child instead.
 *
 * Allocation costs a system call; hot paths allocate once and reuse.
 */
#ifndef ENVELOPE_COMMON_SECMEM_H
#define ENVELOPE_COMMON_SECMEM_H

#include <stddef.h>

void *envelope_secmem_alloc(size_t n) __attribute__((warn_unused_result, malloc));
void envelope_secmem_free(void *p);
/* 1 if the allocation holding p is mlock()ed, 0 otherwise. */
int envelope_secmem_locked(const void *p);
/* Copy a NUL-terminated string into secret memory (for PINs). */
char *envelope_secmem_strdup(const char *s) __attribute__((warn_unused_result));
/* Process-wide hardening: PR_SET_DUMPABLE 0 unless ENVELOPE_ALLOW_DUMP is set. */
void envelope_secmem_harden_process(void);

#endif
