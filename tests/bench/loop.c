/* Open and close in a loop, in one process:
 *     bench-loop PLUGIN
 * ldr_open(PLUGIN, 0) + ldr_close against dlopen(PLUGIN, RTLD_NOW |
 * RTLD_LOCAL) + dlclose, ROUNDS rounds of ITERS iterations each, rounds
 * alternating; microseconds per open+close, median (min-max) over rounds.
 * Every return value is checked: a loader that fails an open or a close,
 * or keeps the plugin mapped after its close (the loop would then time a
 * reference count, not a load), is reported and not timed.
 * Then ldr_reload(m, 0) of the unchanged file: RELOAD_CALLS calls a round,
 * ROUNDS rounds, microseconds per call against RELOAD_TARGET_US. The first
 * call is shown apart: ldr_open leaves the file's hash to the first reload
 * (ldr/api.c), a cost paid once per module. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ldr.h"

#define ROUNDS 21
#define ITERS 100
#define RELOAD_CALLS 1000
#define RELOAD_TARGET_US 5.0

static const char *path;
static char failure[512];

/* One open + close of PATH. 0, or -1 with FAILURE set. */
static int cycle(int use_ldr)
{
    if (use_ldr) {
        ldr_module *m = ldr_open(path, 0);
        if (!m || ldr_close(m)) {
            const char *e = ldr_error();
            snprintf(failure, sizeof failure, "ldr %s failed: %s", m ? "ldr_close" : "ldr_open",
                     e ? e : "(no message)");
            return -1;
        }
    } else {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h || dlclose(h)) {
            const char *e = dlerror();
            snprintf(failure, sizeof failure, "%s failed: %s", h ? "dlclose" : "dlopen", e ? e : "(no message)");
            return -1;
        }
    }
    return 0;
}

/* Microseconds per open + close over one round; -1 on failure. */
static double round_us(int use_ldr)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < ITERS; i++)
        if (cycle(use_ldr) < 0)
            return -1;
    return (bench_now_ns() - t0) / ITERS / 1000;
}

/* Whether a mapping of the file REAL (a real path) is in this process. */
static int mapped(const char *real)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[4096];
    size_t len = strlen(real);
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t n = strlen(line);
        found = n > len && line[n - len - 1] == ' ' && !strcmp(line + n - len, real);
    }
    fclose(f);
    return found;
}

/* After its close, no loader may still map the plugin. 0 if so, -1 with
 * FAILURE set. */
static int closes_for_real(int use_ldr)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(failure, sizeof failure, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (cycle(use_ldr) < 0)
        return -1;
    if (mapped(real)) {
        snprintf(failure, sizeof failure, "%s: the plugin stays mapped after its close", use_ldr ? "ldr" : "dlopen");
        return -1;
    }
    return 0;
}

static void bench_loop(void)
{
    printf("\nOpen + close in a loop, in one process: %s, ldr_open+ldr_close\n"
           "against dlopen(RTLD_NOW|RTLD_LOCAL)+dlclose, %d rounds of %d each,\n"
           "alternating; microseconds per open+close, median (min-max) over rounds.\n\n",
           bench_base_name(path), ROUNDS, ITERS);
    printf("%-22s %-21s %-21s %6s\n", "loop", "ldr", "dlopen", "ratio");
    printf("%-22s ", "open+close");
    fflush(stdout);
    /* An unmeasured round of each first: the file in the page cache, the
     * loaders' one-time set-up done. */
    if (closes_for_real(1) < 0 || closes_for_real(0) < 0 || round_us(1) < 0 || round_us(0) < 0) {
        printf("refused: %s\n", failure);
        return;
    }
    double t_ldr[ROUNDS], t_dl[ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        if ((t_ldr[r] = round_us(1)) < 0 || (t_dl[r] = round_us(0)) < 0) {
            printf("refused: %s\n", failure);
            return;
        }
    double med_ldr, med_dl;
    bench_pair(t_ldr, t_dl, ROUNDS, 1, &med_ldr, &med_dl);
    printf("\n");
    bench_record("loop %s %.3f %.3f", bench_base_name(path), med_ldr, med_dl);
}

/* One ldr_reload of the unchanged file: 0, or -1 with FAILURE set unless
 * it answered 0 (unchanged). */
static int reload_unchanged(ldr_module *m)
{
    int r = ldr_reload(m, 0);
    if (r != 0) {
        const char *e = ldr_error();
        snprintf(failure, sizeof failure, "%s", r > 0 ? "the file changed: it reloaded" : e ? e : "(no message)");
        return -1;
    }
    return 0;
}

static void bench_reload(void)
{
    printf("\nldr_reload(m, 0) of the unchanged file, %d rounds of %d calls; microseconds\n"
           "per call, median (min-max) over rounds; target: under %.0f us.\n\n",
           ROUNDS, RELOAD_CALLS, RELOAD_TARGET_US);
    printf("%-22s %-21s %s\n", "reload", "ldr_reload", "target");
    printf("%-22s ", "unchanged file");
    fflush(stdout);
    ldr_module *m = ldr_open(path, 0);
    if (!m) {
        printf("refused: ldr_open: %s\n", ldr_error());
        return;
    }
    double t0 = bench_now_ns();
    int rc = reload_unchanged(m);
    double first = (bench_now_ns() - t0) / 1000, t[ROUNDS];
    for (int r = 0; r < ROUNDS && rc == 0; r++) {
        t0 = bench_now_ns();
        for (int i = 0; i < RELOAD_CALLS && rc == 0; i++)
            rc = reload_unchanged(m);
        t[r] = (bench_now_ns() - t0) / RELOAD_CALLS / 1000;
    }
    if (rc < 0) {
        printf("refused: ldr_reload: %s\n", failure);
        ldr_close(m);
        return;
    }
    char a[64];
    double med = bench_cell(a, sizeof a, t, ROUNDS, 2);
    printf("%-21s < %.0f us  %s\n", a, RELOAD_TARGET_US, med < RELOAD_TARGET_US ? "PASS" : "FAIL");
    printf("%-22s %-21.2f (not judged: ldr_open leaves the file's hash to it)\n", "first call", first);
    bench_record("reload %s %.4f %.4f", bench_base_name(path), med, first);
    ldr_close(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench-loop PLUGIN\n");
        return 64;
    }
    path = argv[1];
    bench_loop();
    bench_reload();
    return 0;
}
