/*
 * progress.c - the progress bar on stderr, drawn only for a person
 * watching (a terminal, an input over CLI_PROGRESS_MIN, no --quiet).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p, const cli_common *c, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    /* Only for a person watching: a terminal on stderr, a big input. */
    p->on = !c->quiet && isatty(STDERR_FILENO) && (total == 0 || total > CLI_PROGRESS_MIN);
    p->total = total;
    p->start = p->last = now();
}

static void draw(cli_progress *p)
{
    double el = now() - p->start;
    double rate = el > 0 ? (double)p->done / el / 1048576.0 : 0;
    if (p->total > 0) {
        int pct = (int)(p->done * 100 / p->total), bars = pct * 30 / 100;
        fprintf(stderr, "\r[%.*s%*s] %3d%% %8.1f MiB/s", bars, "##############################",
                30 - bars, "", pct, rate);
    } else {
        fprintf(stderr, "\r%10.1f MiB %8.1f MiB/s", (double)p->done / 1048576.0, rate);
    }
}

void cli_progress_add(cli_progress *p, uint64_t n)
{
    p->done += n;
    if (!p->on || (p->total == 0 && p->done < CLI_PROGRESS_MIN))
        return;
    double t = now();
    if (t - p->last < 0.1)
        return;
    p->last = t;
    draw(p);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on && (p->total > 0 || p->done >= CLI_PROGRESS_MIN)) {
        draw(p);
        fputc('\n', stderr);
    }
}
