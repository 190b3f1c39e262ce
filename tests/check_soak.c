/* The soak: a plugin opened, called and closed thousands of times must
 * cost nothing. After a warm-up (malloc arenas, stacks and the like settle
 * in its first cycles), resident memory, /proc/self/maps lines, open
 * descriptors and TLS module ids must stay flat to the end.
 *
 * The Rust plugin (tests/rust/soak) spawns threads that fill a
 * thread_local! buffer with a destructor, and joins them; the C++ one
 * (librl_tls.so) has a thread touch a thread_local object with a
 * destructor. LDR_SOAK_CYCLES sets the number of cycles (default 1000;
 * `make check-soak` runs 10,000), the first half, at most 500, warm-up.
 * Under valgrind (LDR_UNDER_VALGRIND) only the counts the plugin reports
 * are checked: valgrind's own mappings and memory are not the program's. */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldr.h>

#include "fixtures/rl_host.h"
#include "fixtures/testutil.h"

/* What the C++ fixture calls (exported: -rdynamic). */
char rl_log[4096];
int rl_inits, rl_finis;
const char *rl_open_path;
static int tls_dtors;

void rl_note(const char *what)
{
    if (strcmp(what, "tls-dtor") == 0)
        __atomic_add_fetch(&tls_dtors, 1, __ATOMIC_SEQ_CST);
}

struct usage {
    long rss_kb;
    int maps, fds;
};

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    ck_assert_int_ge(kb, 0);
    return kb;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static struct usage measure(void)
{
    return (struct usage){status_kb("VmRSS"), maps_lines(NULL), count_fds()};
}

static int cycles(void)
{
    const char *s = getenv("LDR_SOAK_CYCLES");
    int n = s ? atoi(s) : 1000;
    return n > 1 ? n : 1000;
}

static int under_valgrind(void)
{
    return getenv("LDR_UNDER_VALGRIND") != NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* One open/call/close cycle; returns the module's TLS id (or 0). */
typedef size_t cycle_fn(const char *path, int i);

static void soak(const char *what, const char *path, cycle_fn *cycle)
{
    int n = cycles();
    int warm = n / 2 < 500 ? n / 2 : 500;
    size_t max_warm_id = 0, max_id = 0;
    struct usage before = {0}, after;
    double t0 = now(), t1 = t0;
    for (int i = 0; i < n; i++) {
        if (i == warm) {
            before = measure();
            t1 = now();
        }
        size_t id = cycle(path, i);
        if (i < warm && id > max_warm_id)
            max_warm_id = id;
        if (id > max_id)
            max_id = id;
    }
    double t2 = now();
    after = measure();
    fprintf(stderr,
            "soak %s: %d cycles in %.2f s (%.2f ms each); after %d: VmRSS %ld kB, %d maps lines, %d fds; "
            "at the end: VmRSS %ld kB, %d maps lines, %d fds; TLS module ids: %#zx in warm-up, %#zx at most\n",
            what, n, t2 - t0, (t2 - t0) * 1000 / n, warm, before.rss_kb, before.maps, before.fds, after.rss_kb,
            after.maps, after.fds, max_warm_id, max_id);
    (void)t1;
    /* No id beyond those the warm-up used: ids are given back. */
    ck_assert_uint_eq(max_id, max_warm_id);
    ck_assert_int_eq(maps_lines(path), 0);
    if (under_valgrind())
        return;
    ck_assert_int_eq(after.fds, before.fds);
    ck_assert_int_eq(after.maps, before.maps);
    ck_assert_msg(after.rss_kb - before.rss_kb < 1024, "VmRSS grew by %ld kB", after.rss_kb - before.rss_kb);
}

#ifdef LDR_HAVE_CARGO
typedef uint64_t runfn(uint32_t threads, uint32_t n);
typedef size_t sizefn(void);

static size_t rust_cycle(const char *path, int i)
{
    ldr_module *m = ldr_open(path, 0);
    ck_assert_msg(m != NULL, "cycle %d: ldr_open: %s", i, ldr_error());
    runfn *run = (runfn *)ldr_sym(m, "soak_run");
    sizefn *drops = (sizefn *)ldr_sym(m, "soak_drops");
    sizefn *tls_id = (sizefn *)ldr_sym(m, "soak_tls_id");
    ck_assert(run && drops && tls_id);
    /* Each thread t sums (t + 1) * (0 + 1 + ... + 99). */
    ck_assert_uint_eq(run(2, 100), (1 + 2) * 4950);
    /* A fresh copy each time, whose threads' thread_local buffers were
     * dropped when they exited. */
    ck_assert_uint_eq(drops(), 2);
    size_t id = tls_id();
    ck_assert_uint_ne(id, 0);
    ck_assert_int_eq(ldr_close(m), 0);
    return id;
}

START_TEST(test_soak_rust)
{
    soak("rust", fixture("librl_soak.so"), rust_cycle);
}
END_TEST
#endif

typedef int touchfn(int);

static void *touch_thread(void *arg)
{
    touchfn *touch = (touchfn *)arg;
    return (void *)(intptr_t)touch(3);
}

static size_t cxx_cycle(const char *path, int i)
{
    ldr_module *m = ldr_open(path, 0);
    ck_assert_msg(m != NULL, "cycle %d: ldr_open: %s", i, ldr_error());
    touchfn *touch = (touchfn *)ldr_sym(m, "rl_tls_touch");
    ck_assert_ptr_nonnull(touch);
    pthread_t t;
    void *v;
    ck_assert_int_eq(pthread_create(&t, NULL, touch_thread, (void *)touch), 0);
    ck_assert_int_eq(pthread_join(t, &v), 0);
    ck_assert_int_eq((int)(intptr_t)v, 3);
    ck_assert_int_eq(tls_dtors, i + 1);
    ck_assert_int_eq(ldr_close(m), 0);
    return 0;
}

START_TEST(test_soak_cxx)
{
    soak("c++", fixture("librl_tls.so"), cxx_cycle);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("soak");
    TCase *tc = tcase_create("soak");
    tcase_set_timeout(tc, 3600);
#ifdef LDR_HAVE_CARGO
    tcase_add_test(tc, test_soak_rust);
#endif
    tcase_add_test(tc, test_soak_cxx);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
