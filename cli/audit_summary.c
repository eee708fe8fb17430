/*
 * audit_summary.c - `envelope audit summary`: per KEK and per program, the
 * operations, failures, latency percentiles (nearest rank), the cache hit
 * rate of unwraps and the alarms, from the provider's audit lines.
 * Every string read is someone else's: escaped on output (cli_text_str,
 * cli_json_str).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit_cli.h"
#include "cli.h"

typedef struct {
    char *name;
    uint64_t ops, wrap, unwrap, rewrap, create, failures, hits, misses, alarms;
    uint64_t *lat;
    size_t nlat, caplat;
} group;

typedef struct {
    group *g;
    size_t n, cap;
} groups;

static group *group_of(groups *gs, const char *name)
{
    for (size_t i = 0; i < gs->n; i++)
        if (strcmp(gs->g[i].name, name) == 0)
            return &gs->g[i];
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? 2 * gs->cap : 16;
        group *g = realloc(gs->g, cap * sizeof(*g));
        if (g == NULL)
            return NULL;
        gs->g = g;
        gs->cap = cap;
    }
    group *g = &gs->g[gs->n];
    memset(g, 0, sizeof(*g));
    if ((g->name = strdup(name)) == NULL)
        return NULL;
    gs->n++;
    return g;
}

static const char *str_of(json_object *o, const char *k)
{
    json_object *m = NULL;
    return json_object_object_get_ex(o, k, &m) && json_object_is_type(m, json_type_string)
               ? json_object_get_string(m)
               : NULL;
}

static int add(group *g, const char *op, const char *result, const char *cache, int64_t lat)
{
    if (strcmp(op, "alarm") == 0) {
        g->alarms++;
        return 1;
    }
    if (strcmp(op, "alarm-clear") == 0)
        return 1;
    g->ops++;
    g->wrap += strcmp(op, "wrap") == 0;
    g->unwrap += strcmp(op, "unwrap") == 0;
    g->rewrap += strcmp(op, "rewrap") == 0;
    g->create += strcmp(op, "kek-create") == 0;
    g->failures += result != NULL && strcmp(result, "ok") != 0;
    if (strcmp(op, "unwrap") == 0 && cache != NULL && strcmp(cache, "refresh") != 0) {
        int hit = strcmp(cache, "hit") == 0 || strcmp(cache, "join") == 0;
        g->hits += hit;
        g->misses += !hit;
    }
    if (lat >= 0) {
        if (g->nlat == g->caplat) {
            size_t cap = g->caplat ? 2 * g->caplat : 64;
            uint64_t *l = realloc(g->lat, cap * sizeof(*l));
            if (l == NULL)
                return 0;
            g->lat = l;
            g->caplat = cap;
        }
        g->lat[g->nlat++] = (uint64_t)lat;
    }
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const group *g, unsigned p)
{
    if (g->nlat == 0)
        return 0;
    size_t rank = (g->nlat * p + 99) / 100; /* nearest rank, 1-based */
    return g->lat[rank > 0 ? rank - 1 : 0];
}

static void print_group(FILE *out, const group *g, const char *key, int json)
{
    qsort(g->lat, g->nlat, sizeof(uint64_t), cmp_u64);
    uint64_t cached = g->hits + g->misses;
    if (json) {
        fprintf(out, "{\"%s\":", key);
        cli_json_str(out, g->name, 0);
        fprintf(out,
                ",\"ops\":%llu,\"wrap\":%llu,\"unwrap\":%llu,\"rewrap\":%llu,\"kek_create\":%llu,"
                "\"failures\":%llu,\"latency_us\":{\"p50\":%llu,\"p99\":%llu},\"cache_hits\":%llu,"
                "\"cache_hit_rate\":",
                (unsigned long long)g->ops, (unsigned long long)g->wrap,
                (unsigned long long)g->unwrap, (unsigned long long)g->rewrap,
                (unsigned long long)g->create, (unsigned long long)g->failures,
                (unsigned long long)pct(g, 50), (unsigned long long)pct(g, 99),
                (unsigned long long)g->hits);
        if (cached > 0)
            fprintf(out, "%.4f", (double)g->hits / (double)cached);
        else
            fputs("null", out);
        fprintf(out, ",\"alarms\":%llu}", (unsigned long long)g->alarms);
        return;
    }
    fprintf(out, "%s ", key);
    cli_text_str(out, g->name);
    fprintf(out,
            "\n  ops=%llu wrap=%llu unwrap=%llu rewrap=%llu kek-create=%llu failures=%llu "
            "p50=%lluus p99=%lluus cache-hit-rate=",
            (unsigned long long)g->ops, (unsigned long long)g->wrap, (unsigned long long)g->unwrap,
            (unsigned long long)g->rewrap, (unsigned long long)g->create,
            (unsigned long long)g->failures, (unsigned long long)pct(g, 50),
            (unsigned long long)pct(g, 99));
    if (cached > 0)
        fprintf(out, "%.1f%%", 100.0 * (double)g->hits / (double)cached);
    else
        fputs("-", out);
    fprintf(out, " alarms=%llu\n", (unsigned long long)g->alarms);
}

static void free_groups(groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        free(gs->g[i].name);
        free(gs->g[i].lat);
    }
    free(gs->g);
}

int cli_audit_summary(FILE *f, const char *name, FILE *out, int json)
{
    groups keks = {0}, progs = {0};
    uint64_t lines = 0, skipped = 0, dropped = 0, lost = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (got = getline(&line, &cap, f)) != -1) {
        lines++;
        json_object *o = (size_t)got <= CLI_AUDIT_LINE_MAX ? json_tokener_parse(line) : NULL;
        const char *op = o != NULL ? str_of(o, "op") : NULL;
        const char *tag = o != NULL ? str_of(o, "audit") : NULL;
        if (op == NULL || tag == NULL || strcmp(tag, "envelope/1") != 0) {
            skipped++;
            json_object_put(o);
            continue;
        }
        json_object *m = NULL;
        if (strcmp(op, "dropped") == 0 || strcmp(op, "sink-recovered") == 0) {
            uint64_t n = json_object_object_get_ex(o, "count", &m)
                             ? (uint64_t)json_object_get_int64(m)
                             : 0;
            if (strcmp(op, "dropped") == 0)
                dropped += n;
            else
                lost += n;
            json_object_put(o);
            continue;
        }
        int64_t lat = json_object_object_get_ex(o, "latency_us", &m) &&
                              json_object_is_type(m, json_type_int)
                          ? json_object_get_int64(m)
                          : -1;
        const char *kek = str_of(o, "kek"), *prog = str_of(o, "prog");
        const char *result = str_of(o, "result"), *cache = str_of(o, "cache");
        group *gk = group_of(&keks, kek != NULL ? kek : "(none)");
        group *gp = group_of(&progs, prog != NULL ? prog : "(none)");
        if (gk == NULL || gp == NULL || !add(gk, op, result, cache, lat) ||
            !add(gp, op, result, cache, lat))
            rc = cli_fail(CLI_EXIT_INTERNAL, "out of memory");
        json_object_put(o);
    }
    free(line);
    if (rc == CLI_EXIT_OK && ferror(f))
        rc = cli_fail(CLI_EXIT_INTERNAL, "cannot read %s", name);
    if (rc == CLI_EXIT_OK && json) {
        fprintf(out,
                "{\"lines\":%llu,\"not_audit_lines\":%llu,\"dropped\":%llu,\"lost\":%llu,"
                "\"keks\":[",
                (unsigned long long)lines, (unsigned long long)skipped, (unsigned long long)dropped,
                (unsigned long long)lost);
        for (size_t i = 0; i < keks.n; i++) {
            if (i > 0)
                fputc(',', out);
            print_group(out, &keks.g[i], "kek", 1);
        }
        fputs("],\"programs\":[", out);
        for (size_t i = 0; i < progs.n; i++) {
            if (i > 0)
                fputc(',', out);
            print_group(out, &progs.g[i], "prog", 1);
        }
        fputs("]}\n", out);
    } else if (rc == CLI_EXIT_OK) {
        fprintf(out, "%llu lines (%llu not audit lines), %llu events dropped, %llu lost\n",
                (unsigned long long)lines, (unsigned long long)skipped, (unsigned long long)dropped,
                (unsigned long long)lost);
        for (size_t i = 0; i < keks.n; i++)
            print_group(out, &keks.g[i], "kek", 0);
        for (size_t i = 0; i < progs.n; i++)
            print_group(out, &progs.g[i], "prog", 0);
    }
    free_groups(&keks);
    free_groups(&progs);
    return rc;
}
