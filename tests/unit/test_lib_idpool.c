/*
 * test_lib_idpool.c - the message-id pool (lib/lib.c env_idpool_next):
 * ids never repeat within a process across refills, and a forked child
 * never draws an id its parent (or a sibling) draws, also when the child's
 * process id equals the one the pool was filled under.
 *
 * Pid reuse is simulated: this test is linked with -Wl,--wrap=getpid
 * (tests/unit/lib.cmake), so every getpid() call made by the library's
 * code goes to __wrap_getpid below, which can answer the pid of the
 * process that filled the pool, as a descendant given a dead ancestor's
 * pid would see it. The pool must refill on the fork itself, not on a
 * changed pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

#define N_IDS 200 /* more than three batches of 64 */

pid_t __real_getpid(void);
pid_t __wrap_getpid(void);
static pid_t fake_pid; /* 0: the real pid */

pid_t __wrap_getpid(void)
{
    return fake_pid != 0 ? fake_pid : __real_getpid();
}

static envelope_lib *lib;

static int setup(void **state)
{
    envelope_err err = {0};
    return envelope_lib_new(NULL, NULL, &lib, &err) == ENVELOPE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    envelope_lib_free(lib);
    return 0;
}

static void draw(env_idpool *p, uint8_t (*ids)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        envelope_err err = {0};
        assert_int_equal(env_idpool_next(p, lib, ids[i], &err), ENVELOPE_OK);
    }
}

static int overlap(uint8_t (*a)[32], size_t na, uint8_t (*b)[32], size_t nb)
{
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (memcmp(a[i], b[j], 32) == 0)
                return 1;
    return 0;
}

static void test_no_repeats_in_one_process(void **state)
{
    static env_idpool pool; /* zeroed, as a sealer's */
    static uint8_t ids[N_IDS][32];
    draw(&pool, ids, N_IDS);
    for (size_t i = 0; i < N_IDS; i++)
        for (size_t j = i + 1; j < N_IDS; j++)
            assert_memory_not_equal(ids[i], ids[j], 32);
}

/* Forks once; the child draws N_IDS ids (optionally pretending to have
 * the pid `child_pid`) and sends them back; the parent draws its next
 * N_IDS. No id may be drawn by both. */
static void fork_and_compare(env_idpool *pool, pid_t child_pid)
{
    static uint8_t mine[N_IDS][32], theirs[N_IDS][32];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        close(fds[0]);
        fake_pid = child_pid;
        for (size_t i = 0; i < N_IDS; i++) {
            envelope_err err = {0};
            if (env_idpool_next(pool, lib, theirs[i], &err) != ENVELOPE_OK)
                _exit(2);
        }
        _exit(write(fds[1], theirs, sizeof(theirs)) == (ssize_t)sizeof(theirs) ? 0 : 3);
    }
    close(fds[1]);
    draw(pool, mine, N_IDS);
    size_t got = 0;
    while (got < sizeof(theirs)) {
        ssize_t n = read(fds[0], (uint8_t *)theirs + got, sizeof(theirs) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(c, &st, 0), c);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_false(overlap(mine, N_IDS, theirs, N_IDS));
}

static void test_child_refills(void **state)
{
    static env_idpool pool;
    uint8_t first[1][32];
    draw(&pool, first, 1); /* a batch is live, 63 ids unused */
    fork_and_compare(&pool, 0);
}

/* The child's getpid() answers the pid the pool was filled under: the
 * pid-reuse case. Only a refill decided by the fork itself passes. */
static void test_child_refills_with_the_same_pid(void **state)
{
    static env_idpool pool;
    uint8_t first[1][32];
    draw(&pool, first, 1);
    fork_and_compare(&pool, __real_getpid());
}

/* Two generations: a child forks a grandchild that pretends to have the
 * child's pid, after the child drew from its refilled pool. */
static void test_grandchild_refills(void **state)
{
    static env_idpool pool;
    uint8_t first[1][32];
    draw(&pool, first, 1);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        uint8_t one[1][32];
        draw(&pool, one, 1);
        fork_and_compare(&pool, __real_getpid());
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(c, &st, 0), c);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_repeats_in_one_process),
        cmocka_unit_test(test_child_refills),
        cmocka_unit_test(test_child_refills_with_the_same_pid),
        cmocka_unit_test(test_grandchild_refills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
