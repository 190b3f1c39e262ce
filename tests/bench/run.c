/* The load benchmark's driver:
 *     bench-run [-n RUNS] HELPER LIBRARY...
 * For each library, runs HELPER (bench-load) RUNS times with ldr and RUNS
 * times with dlopen, alternating, each run a fresh process, and prints the
 * medians side by side. RUNS defaults to $BENCH_RUNS, else 31. Then, in
 * fresh processes of their own (MEM_RUNS of each loader, alternating), the
 * memory an open leaves (bench-load -m): the heap it retains as the first
 * open of the process and as one more module, once the same library has
 * been opened and closed; the resident pages of the library's image.
 * Medians side by side. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_RUNS 31
/* Two runs for each of the 16 places a page can have in a 64 KiB window,
 * where the helper puts the image (bench-load -a): the pages resident
 * depend on it (the Rust cdylib: 64 to 80 pages), and both loaders get
 * each place alike. The heap figures are medians; the resident ones means
 * over the places, what a randomized load address leaves on average
 * (their medians, between two of those steps, flipped between runs). */
#define PLACES 16
#define MEM_RUNS (2 * PLACES)
/* A helper that hangs is killed (the alarm survives exec) and reported. */
#define HELPER_SECONDS 60
/* The cells of a row after the library's name. */
#define ROW "%-22s %-22s %6s %10s %8s"
/* Three groups of ldr, dlopen, ratio, then the span. */
#define MEM_GROUP " %7s %6s %5s"
#define MEM_ROW MEM_GROUP "  " MEM_GROUP "  " MEM_GROUP " %7s"

/* The figures a helper prints on one line: at most three. */
#define FIELDS 3

struct series {
    double *v[FIELDS];
    int n;
    char failure[512]; /* set when a run refused or crashed; no more runs */
};

static const char *helper;

static void series_init(struct series *s, int runs)
{
    *s = (struct series){ .n = 0 };
    for (int i = 0; i < FIELDS; i++)
        if (!(s->v[i] = calloc(runs, sizeof(double)))) {
            perror("calloc");
            exit(1);
        }
}

static void series_free(struct series *s)
{
    for (int i = 0; i < FIELDS; i++)
        free(s->v[i]);
}

/* How a helper run measures. */
enum what { TIME, MEMORY, MEMORY_WARM };

/* One helper run: HELPER [-m [-w] -a SLOT] MODE LIB, which prints
 * NFIELDS numbers. Returns 0 and appends them to S, or -1 with S->failure
 * set. */
static int run_once(enum what what, int slot, const char *mode, const char *lib, int nfields, struct series *s)
{
    char place[16];
    snprintf(place, sizeof place, "%d", slot);
    int fd[2];
    if (pipe(fd) < 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDOUT_FILENO);
        close(fd[1]);
        alarm(HELPER_SECONDS);
        if (what == MEMORY_WARM)
            execl(helper, helper, "-m", "-w", "-a", place, mode, lib, (char *)NULL);
        else if (what == MEMORY)
            execl(helper, helper, "-m", "-a", place, mode, lib, (char *)NULL);
        else
            execl(helper, helper, mode, lib, (char *)NULL);
        printf("refused: cannot run %s: %s\n", helper, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    char out[1024];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd[0], out + len, sizeof out - 1 - len)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            len += r;
    close(fd[0]);
    out[len] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        snprintf(s->failure, sizeof s->failure, "crashed: signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        return -1;
    }
    long long f[FIELDS];
    if (WEXITSTATUS(status) == 0 && sscanf(out, "%lld %lld %lld", &f[0], &f[1], &f[2]) >= nfields) {
        for (int i = 0; i < nfields; i++)
            s->v[i][s->n] = f[i];
        s->n++;
        return 0;
    }
    snprintf(s->failure, sizeof s->failure, "%.500s", *out ? out : "helper failed without output");
    return -1;
}

static void bench_library(const char *lib, int runs)
{
    printf("%-22s ", bench_base_name(lib));
    fflush(stdout);
    if (access(lib, R_OK) < 0) {
        printf("not present\n");
        return;
    }
    struct series ldr, dl;
    series_init(&ldr, runs);
    series_init(&dl, runs);
    /* One unmeasured run of each first: both then find the file in the
     * page cache. */
    if (run_once(TIME, -1, "ldr", lib, 2, &ldr) == 0)
        ldr.n = 0;
    if (run_once(TIME, -1, "dl", lib, 2, &dl) == 0)
        dl.n = 0;
    for (int i = 0; i < runs; i++) {
        if (!*ldr.failure)
            run_once(TIME, -1, "ldr", lib, 2, &ldr);
        if (!*dl.failure)
            run_once(TIME, -1, "dl", lib, 2, &dl);
    }

    char ldr_cell[64] = "-", dl_cell[64] = "-", ratio[16] = "-", ldr_close[16] = "-", dl_close[16] = "-";
    double ldr_med = 0, dl_med = 0;
    if (!*ldr.failure) {
        ldr_med = bench_median(ldr.v[0], ldr.n) / 1000;
        snprintf(ldr_cell, sizeof ldr_cell, "%.0f (%.0f-%.0f)", ldr_med, ldr.v[0][0] / 1000,
                 ldr.v[0][ldr.n - 1] / 1000);
        snprintf(ldr_close, sizeof ldr_close, "%.0f", bench_median(ldr.v[1], ldr.n) / 1000);
    }
    if (!*dl.failure) {
        dl_med = bench_median(dl.v[0], dl.n) / 1000;
        snprintf(dl_cell, sizeof dl_cell, "%.0f (%.0f-%.0f)", dl_med, dl.v[0][0] / 1000, dl.v[0][dl.n - 1] / 1000);
        snprintf(dl_close, sizeof dl_close, "%.0f", bench_median(dl.v[1], dl.n) / 1000);
    }
    if (ldr_med > 0 && dl_med > 0) {
        snprintf(ratio, sizeof ratio, "%.2f", ldr_med / dl_med);
        bench_record("load %s %.3f %.3f", bench_base_name(lib), ldr_med, dl_med);
    }
    printf(ROW, ldr_cell, dl_cell, ratio, ldr_close, dl_close);
    if (*ldr.failure)
        printf("  ldr %s", ldr.failure);
    if (*dl.failure)
        printf("  dlopen %s", dl.failure);
    printf("\n");
    series_free(&ldr);
    series_free(&dl);
}

/* Bytes as KiB, with a decimal where a small figure needs one. */
static void kib_cell(char *cell, size_t size, double bytes, int decimals)
{
    snprintf(cell, size, "%.*f", decimals, bytes / 1024);
}

/* LDR / DL as a cell, "-" when DL is not positive. */
static void ratio_cell(char *cell, size_t size, double ldr, double dl)
{
    if (dl > 0)
        snprintf(cell, size, "%.2f", ldr / dl);
    else
        snprintf(cell, size, "-");
}

/* The resident figure of runs V[0..MEM_RUNS), run I at place I % PLACES:
 * the mean over the places of the larger of a place's two runs. Now and
 * then a fault maps fewer of its neighbours than the same fault did
 * before (12 to 25 pages fewer, under either loader), never more. */
static double resident_figure(const double *v)
{
    double sum = 0;
    for (int i = 0; i < PLACES; i++)
        sum += v[i] > v[i + PLACES] ? v[i] : v[i + PLACES];
    return sum / PLACES;
}

/* MEM_RUNS runs of each loader, alternating, measuring WHAT: 0 and the
 * figures in LDR[] and DL[] (heap, resident, span: see MEM_RUNS), or -1
 * with the reason printed. */
static int memory_runs(enum what what, const char *lib, double ldr_med[3], double dl_med[3])
{
    struct series ldr, dl;
    series_init(&ldr, MEM_RUNS);
    series_init(&dl, MEM_RUNS);
    for (int i = 0; i < MEM_RUNS; i++) {
        if (!*ldr.failure)
            run_once(what, i, "ldr", lib, 3, &ldr);
        if (!*dl.failure)
            run_once(what, i, "dl", lib, 3, &dl);
    }
    int ok = !*ldr.failure && !*dl.failure;
    if (ok)
        for (int i = 0; i < 3; i++) {
            ldr_med[i] = i == 1 ? resident_figure(ldr.v[i]) : bench_median(ldr.v[i], ldr.n);
            dl_med[i] = i == 1 ? resident_figure(dl.v[i]) : bench_median(dl.v[i], dl.n);
        }
    else if (*ldr.failure)
        printf(" ldr %s\n", ldr.failure);
    else
        printf(" dlopen %s\n", dl.failure);
    series_free(&ldr);
    series_free(&dl);
    return ok ? 0 : -1;
}

static void memory_library(const char *lib)
{
    if (access(lib, R_OK) < 0)
        return;
    const char *name = bench_base_name(lib);
    printf("%-22s", name);
    fflush(stdout);
    /* [0] heap, [1] resident, [2] span. */
    double first_ldr[3], first_dl[3], more_ldr[3] = { 0 }, more_dl[3] = { 0 };
    if (memory_runs(MEMORY, lib, first_ldr, first_dl) < 0 ||
        memory_runs(MEMORY_WARM, lib, more_ldr, more_dl) < 0)
        return;
    char c[10][32] = { "-", "-", "-", "-", "-", "-" };
    kib_cell(c[0], sizeof c[0], first_ldr[0], 1);
    kib_cell(c[1], sizeof c[1], first_dl[0], 1);
    ratio_cell(c[2], sizeof c[2], first_ldr[0], first_dl[0]);
    kib_cell(c[3], sizeof c[3], more_ldr[0], 1);
    kib_cell(c[4], sizeof c[4], more_dl[0], 1);
    ratio_cell(c[5], sizeof c[5], more_ldr[0], more_dl[0]);
    kib_cell(c[6], sizeof c[6], first_ldr[1], 0);
    kib_cell(c[7], sizeof c[7], first_dl[1], 0);
    ratio_cell(c[8], sizeof c[8], first_ldr[1], first_dl[1]);
    kib_cell(c[9], sizeof c[9], first_ldr[2], 0);
    printf(MEM_ROW "\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
    bench_record("heap-first %s %.0f %.0f", name, first_ldr[0], first_dl[0]);
    bench_record("heap %s %.0f %.0f", name, more_ldr[0], more_dl[0]);
    bench_record("rss %s %.0f %.0f %.0f", name, first_ldr[1], first_dl[1], first_ldr[2]);
}

int main(int argc, char **argv)
{
    const char *runs_arg = getenv("BENCH_RUNS");
    int opt, bad = 0;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n' && *optarg) /* make passes -n '' when BENCH_RUNS is unset */
            runs_arg = optarg;
        else if (opt != 'n')
            bad = 1;
    }
    if (bad || argc - optind < 2) {
        fprintf(stderr, "usage: bench-run [-n RUNS] HELPER LIBRARY...\n");
        return 64;
    }
    int runs = runs_arg && *runs_arg ? atoi(runs_arg) : DEFAULT_RUNS;
    if (runs < 1) {
        fprintf(stderr, "bench-run: bad number of runs '%s'\n", runs_arg);
        return 64;
    }
    helper = argv[optind];

    printf("Load + close, ldr (ldr_open, default flags: initializers run) against the system\n"
           "loader (dlopen RTLD_NOW|RTLD_LOCAL), %d runs each, alternating, each run a fresh\n"
           "process; times in microseconds, median (min-max); ratio = ldr/dlopen medians.\n\n",
           runs);
    printf("%-22s " ROW "\n", "library", "ldr_open", "dlopen", "ratio", "ldr_close", "dlclose");
    for (int i = optind + 1; i < argc; i++)
        bench_library(argv[i], runs);
    printf("\nOnly the open and the close calls are timed (CLOCK_MONOTONIC), not process\n"
           "start-up; one unmeasured run of each loader warms the page cache first. The\n"
           "helper has only libldr.so and what it needs (libc, libxxhash) loaded, the same\n"
           "in both runs, so both loaders load the same dependencies. A close of about\n"
           "0 us means the library stays (NODELETE).\n");

    printf("\nMemory after the open, same loaders, %d runs each in fresh processes of their\n"
           "own (not the timed ones), alternating; KiB. Heap, medians: what the open keeps\n"
           "on the malloc heap, mallinfo2 uordblks+hblkhd after minus before (loader\n"
           "bookkeeping, dependencies included, and what initializers allocate, the same\n"
           "under both), as the first open of the process and, after an open and a close\n"
           "of the same library, as one more module: without the loaders' one-time set-up\n"
           "for the process and for the library's system dependencies (about 0 for one\n"
           "that stays loaded, NODELETE).\n"
           "Resident, means: Rss of the library's own image (its PT_LOAD span at its load\n"
           "bias, /proc/self/smaps) after the first open, of `span' KiB mapped; the image\n"
           "placed at each of the 16 pages of a 64 KiB window in turn, the same for both\n"
           "(the kernel maps the cached pages around a fault in its 64 KiB window), twice,\n"
           "the larger of the two.\n\n",
           MEM_RUNS);
    printf("%-22s %-21s  %-21s  %s\n", "", "heap, first open", "heap, one more module", "image resident");
    printf("%-22s" MEM_ROW "\n", "library", "ldr", "dl", "ratio", "ldr", "dl", "ratio", "ldr", "dl", "ratio", "span");
    for (int i = optind + 1; i < argc; i++)
        memory_library(argv[i]);
    return 0;
}
