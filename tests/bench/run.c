/* The load benchmark's driver:
 *     bench-run [-n RUNS] HELPER LIBRARY...
 * For each library, runs HELPER (bench-load) RUNS times with ldr and RUNS
 * times with dlopen, alternating, each run a fresh process, and prints the
 * medians side by side. RUNS defaults to $BENCH_RUNS, else 31. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_RUNS 31
/* A helper that hangs is killed (the alarm survives exec) and reported. */
#define HELPER_SECONDS 60
/* The cells of a row after the library's name. */
#define ROW "%-22s %-22s %6s %10s %8s"

struct series {
    double *open_us, *close_us;
    int n;
    char failure[512]; /* set when a run refused or crashed; no more runs */
};

static const char *helper;

/* One helper run. Returns 0 and the times, or -1 with S->failure set. */
static int run_once(const char *mode, const char *lib, struct series *s)
{
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
    long long open_ns, close_ns;
    if (WEXITSTATUS(status) == 0 && sscanf(out, "%lld %lld", &open_ns, &close_ns) == 2) {
        s->open_us[s->n] = open_ns / 1000.0;
        s->close_us[s->n] = close_ns / 1000.0;
        s->n++;
        return 0;
    }
    snprintf(s->failure, sizeof s->failure, "%.500s", *out ? out : "helper failed without output");
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void bench_library(const char *lib, int runs)
{
    printf("%-22s ", base_name(lib));
    fflush(stdout);
    if (access(lib, R_OK) < 0) {
        printf("not present\n");
        return;
    }
    struct series ldr = { calloc(runs, sizeof(double)), calloc(runs, sizeof(double)), 0, "" };
    struct series dl = { calloc(runs, sizeof(double)), calloc(runs, sizeof(double)), 0, "" };
    if (!ldr.open_us || !ldr.close_us || !dl.open_us || !dl.close_us) {
        perror("calloc");
        exit(1);
    }
    /* One unmeasured run of each first: both then find the file in the
     * page cache. */
    if (run_once("ldr", lib, &ldr) == 0)
        ldr.n = 0;
    if (run_once("dl", lib, &dl) == 0)
        dl.n = 0;
    for (int i = 0; i < runs; i++) {
        if (!*ldr.failure)
            run_once("ldr", lib, &ldr);
        if (!*dl.failure)
            run_once("dl", lib, &dl);
    }

    char ldr_cell[64] = "-", dl_cell[64] = "-", ratio[16] = "-", ldr_close[16] = "-", dl_close[16] = "-";
    double ldr_med = 0, dl_med = 0;
    if (!*ldr.failure) {
        ldr_med = median(ldr.open_us, ldr.n);
        snprintf(ldr_cell, sizeof ldr_cell, "%.0f (%.0f-%.0f)", ldr_med, ldr.open_us[0], ldr.open_us[ldr.n - 1]);
        snprintf(ldr_close, sizeof ldr_close, "%.0f", median(ldr.close_us, ldr.n));
    }
    if (!*dl.failure) {
        dl_med = median(dl.open_us, dl.n);
        snprintf(dl_cell, sizeof dl_cell, "%.0f (%.0f-%.0f)", dl_med, dl.open_us[0], dl.open_us[dl.n - 1]);
        snprintf(dl_close, sizeof dl_close, "%.0f", median(dl.close_us, dl.n));
    }
    if (ldr_med > 0 && dl_med > 0)
        snprintf(ratio, sizeof ratio, "%.2f", ldr_med / dl_med);
    printf(ROW, ldr_cell, dl_cell, ratio, ldr_close, dl_close);
    if (*ldr.failure)
        printf("  ldr %s", ldr.failure);
    if (*dl.failure)
        printf("  dlopen %s", dl.failure);
    printf("\n");
    free(ldr.open_us), free(ldr.close_us), free(dl.open_us), free(dl.close_us);
}

int main(int argc, char **argv)
{
    const char *runs_arg = getenv("BENCH_RUNS");
    int opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n') {
            fprintf(stderr, "usage: bench-run [-n RUNS] HELPER LIBRARY...\n");
            return 64;
        }
        if (*optarg)
            runs_arg = optarg;
    }
    if (argc - optind < 2) {
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
           "helper has only libc and libxxhash loaded, so both loaders load the same\n"
           "dependencies. A close of about 0 us means the library stays (NODELETE).\n");
    return 0;
}
