/* The closing lines of make bench:
 *     bench-summary RESULTS
 * RESULTS holds what the other programs recorded in this run, one
 * "KIND NAME VALUE..." line per row (bench.h). This prints one line per
 * target of the performance work: the measured median (a ratio ldr/system
 * loader, or an absolute time), the target, and whether it is met. The
 * targets live here, and only here; every number printed comes from
 * RESULTS. A target with no record (a library not present, a loader that
 * refused, no cargo for the Rust cdylib) is "not measured". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 256
#define MAX_VALUES 4
/* The width of the target column. */
#define WHAT "58"

struct record {
    char kind[16], name[128];
    double v[MAX_VALUES];
    int nv;
};

static struct record records[MAX_RECORDS];
static int nrecords;

/* What a target compares: ldr's median over the system loader's, or the
 * first value as it is (microseconds). */
enum measure { RATIO, ABSOLUTE_US };

struct target {
    const char *kind;
    const char *name; /* NULL: the worst row of KIND */
    const char *what;
    enum measure measure;
    double limit; /* met when the value is at most this (below, for ABSOLUTE_US) */
};

static const struct target targets[] = {
    { "load", "librust_plugin.so", "load, fresh process: Rust cdylib", RATIO, 0.8 },
    { "load", "libsqlite3.so.0", "load, fresh process: SQLite", RATIO, 0.8 },
    { "load", "libpython3.11.so.1.0", "load, fresh process: libpython3.11", RATIO, 0.8 },
    { "load", "libLLVM-15.so.1", "load, fresh process: libLLVM-15 + deps", RATIO, 0.8 },
    { "sym", "libLLVM-15.so.1", "ldr_sym/dlsym, every libLLVM-15 export", RATIO, 0.5 },
    { "tls", NULL, "thread_local access", RATIO, 1.0 },
    { "loop", NULL, "open+close loop, small plugin", RATIO, 0.8 },
    { "reload", NULL, "ldr_reload, unchanged file", ABSOLUTE_US, 5.0 },
    /* Per module: the heap one more module keeps, the loaders' one-time
     * set-up left out (bench-load -w: the same library opened and closed
     * first). The system loader's link_map,
     * scopes and search lists are the measure of bookkeeping that is not
     * too large. */
    { "heap", NULL, "heap kept per module", RATIO, 1.0 },
    /* The system loader's image pages after its open are those its
     * relocation (and the initializers, the same under both) touched. */
    { "rss", NULL, "image pages resident after open", RATIO, 1.0 },
};

static void read_records(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return; /* nothing recorded: every target is "not measured" */
    char line[512];
    while (nrecords < MAX_RECORDS && fgets(line, sizeof line, f)) {
        struct record *r = &records[nrecords];
        int used;
        if (sscanf(line, "%15s %127s%n", r->kind, r->name, &used) != 2)
            continue;
        char *p = line + used, *end;
        for (r->nv = 0; r->nv < MAX_VALUES; r->nv++, p = end) {
            r->v[r->nv] = strtod(p, &end);
            if (end == p)
                break;
        }
        if (r->nv > 0)
            nrecords++;
    }
    fclose(f);
}

/* The value of R for target T; 0 if it has none (a ratio over nothing). */
static int value_of(const struct target *t, const struct record *r, double *out)
{
    if (t->measure == ABSOLUTE_US) {
        *out = r->v[0];
        return 1;
    }
    if (r->nv < 2 || r->v[1] <= 0)
        return 0;
    *out = r->v[0] / r->v[1];
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench-summary RESULTS\n");
        return 64;
    }
    read_records(argv[1]);
    printf("\nSummary: each target, measured in this run (medians; ratios are ldr over the\n"
           "system loader; a target over several rows takes the worst of them).\n\n");
    printf("%-" WHAT "s %9s  %-9s %s\n", "target", "measured", "target", "verdict");
    int met = 0, judged = 0;
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        const struct target *t = &targets[i];
        const struct record *worst = NULL;
        double value = 0, v;
        int rows = 0;
        for (int j = 0; j < nrecords; j++) {
            const struct record *r = &records[j];
            if (strcmp(r->kind, t->kind) || (t->name && strcmp(r->name, t->name)) || !value_of(t, r, &v))
                continue;
            if (!worst || v > value)
                worst = r, value = v;
            rows++;
        }
        char what[256], cell[32], limit[32];
        if (rows > 1)
            snprintf(what, sizeof what, "%s (worst: %s)", t->what, worst->name);
        else
            snprintf(what, sizeof what, "%s", t->what);
        if (t->measure == ABSOLUTE_US) {
            snprintf(cell, sizeof cell, "%.2f us", value);
            snprintf(limit, sizeof limit, "< %.0f us", t->limit);
        } else {
            snprintf(cell, sizeof cell, "%.2f", value);
            snprintf(limit, sizeof limit, "<= %.2f", t->limit);
        }
        if (!worst) {
            printf("%-" WHAT "s %9s  %-9s not measured\n", what, "-", limit);
            continue;
        }
        /* Judged on the value as printed, so that the line never reads
         * 0.80 <= 0.80 "not met". */
        double shown = strtod(cell, NULL);
        int ok = t->measure == ABSOLUTE_US ? shown < t->limit : shown <= t->limit;
        printf("%-" WHAT "s %9s  %-9s %s\n", what, cell, limit, ok ? "met" : "not met");
        met += ok;
        judged++;
    }
    printf("\n%d of %zu targets met, %zu not measured.\n", met, sizeof targets / sizeof *targets,
           sizeof targets / sizeof *targets - judged);
    return 0;
}
