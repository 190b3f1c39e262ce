/* The soak: a plugin opened, called and closed thousands of times must
 * cost nothing. After a warm-up (malloc arenas, stacks and the like settle
 * in its first cycles), resident memory, /proc/self/maps lines, open
 * descriptors and TLS module ids must stay flat to the end.
 *
 * The Rust plugin (tests/rust/soak) spawns threads that fill a
 * thread_local! buffer with a destructor, and joins them; the C++ one
 * (librl_tls.so) has a thread touch a thread_local object with a
 * destructor. LDR_SOAK_CYCLES sets the number of cycles (default 10,000;
 * 200 under valgrind), the first half, at most 500, warm-up. Under
 * valgrind (LDR_UNDER_VALGRIND) only what the plugins report is checked:
 * valgrind's own mappings and memory are not the program's. Pthread keys
 * are checked too: Rust's std creates one in each copy of itself. */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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
    unsigned key; /* the pthread key a new one would get: the lowest free */
};

/* The measurements allocate nothing: a malloc of their own could grow the
 * heap (one more maps line) and look like a leak. */
static char proc_buf[1 << 18], maps_before[1 << 18];

/* The content of the /proc file PATH in proc_buf, 0-terminated. */
static const char *read_proc(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    ck_assert_int_ge(fd, 0);
    for (ssize_t r; (r = read(fd, proc_buf + n, sizeof proc_buf - 1 - n)) > 0;)
        n += (size_t)r;
    close(fd);
    ck_assert_uint_lt(n, sizeof proc_buf - 1);
    proc_buf[n] = '\0';
    return proc_buf;
}

static long rss_kb(void)
{
    const char *p = strstr(read_proc("/proc/self/status"), "\nVmRSS:");
    ck_assert_ptr_nonnull(p);
    return strtol(p + strlen("\nVmRSS:"), NULL, 10);
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static int count_fds(void)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int n = 0;
    ck_assert_int_ge(dir, 0);
    for (long r; (r = syscall(SYS_getdents64, dir, proc_buf, sizeof proc_buf)) > 0;)
        for (long at = 0; at < r;) {
            const char *name = proc_buf + at + 19; /* d_ino, d_off, d_reclen, d_type */
            unsigned short reclen;
            memcpy(&reclen, proc_buf + at + 16, sizeof reclen);
            n += name[0] != '.';
            at += reclen;
        }
    close(dir);
    return n - 1; /* the directory's own descriptor */
}

static struct usage measure(void)
{
    struct usage u;
    u.rss_kb = rss_kb();
    u.maps = count_lines(read_proc("/proc/self/maps"));
    u.fds = count_fds();
    pthread_key_t key;
    ck_assert_int_eq(pthread_key_create(&key, NULL), 0);
    ck_assert_int_eq(pthread_key_delete(key), 0);
    u.key = key;
    return u;
}

/* The lines of A that B does not have, each after PREFIX. */
static void lines_missing(const char *prefix, const char *a, const char *b)
{
    for (const char *p = a; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p + 1) : strlen(p);
        int found = 0;
        for (const char *q = b; *q && !found;) {
            const char *qe = strchr(q, '\n');
            size_t qn = qe ? (size_t)(qe - q + 1) : strlen(q);
            found = qn == n && memcmp(p, q, n) == 0;
            q += qn;
        }
        if (!found)
            fprintf(stderr, "%s%.*s", prefix, (int)n, p);
        p += n;
    }
}

static int under_valgrind(void)
{
    return getenv("LDR_UNDER_VALGRIND") != NULL;
}

static int cycles(void)
{
    const char *s = getenv("LDR_SOAK_CYCLES");
    int n = s ? atoi(s) : under_valgrind() ? 200 : 10000;
    return n > 1 ? n : 10000;
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
    double t0 = now();
    for (int i = 0; i < n; i++) {
        if (i == warm) {
            before = measure();
            strcpy(maps_before, read_proc("/proc/self/maps"));
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
            "soak %s: %d cycles in %.2f s (%.2f ms each); after %d: VmRSS %ld kB, %d maps lines, %d fds, "
            "next pthread key %u; at the end: VmRSS %ld kB, %d maps lines, %d fds, next pthread key %u; "
            "TLS module ids: %#zx in warm-up, %#zx at most\n",
            what, n, t2 - t0, (t2 - t0) * 1000 / n, warm, before.rss_kb, before.maps, before.fds, before.key,
            after.rss_kb, after.maps, after.fds, after.key, max_warm_id, max_id);
    /* No id beyond those the warm-up used: ids are given back. */
    ck_assert_uint_eq(max_id, max_warm_id);
    ck_assert_int_eq(maps_lines(path), 0);
    if (under_valgrind())
        return;
    if (after.maps != before.maps) {
        const char *maps_after = read_proc("/proc/self/maps");
        lines_missing("maps after warm-up only: ", maps_before, maps_after);
        lines_missing("maps at the end only:    ", maps_after, maps_before);
    }
    ck_assert_int_eq(after.fds, before.fds);
    ck_assert_uint_eq(after.key, before.key);
#ifndef __SANITIZE_ADDRESS__ /* its allocator maps as it goes; its quarantine keeps memory */
    ck_assert_int_eq(after.maps, before.maps);
    ck_assert_msg(after.rss_kb - before.rss_kb < 1024, "VmRSS grew by %ld kB", after.rss_kb - before.rss_kb);
#endif
}

#ifdef LDR_HAVE_CARGO
typedef uint64_t runfn(uint32_t threads, uint32_t n);
typedef size_t sizefn(void);

/* Rust's thread::spawn leaves a thread_local destructor (std's spawn
 * hooks) owed by the thread that calls it: a host thread that calls
 * soak_run keeps the plugin mapped until it exits, as glibc keeps a
 * dlclose'd library. Each cycle calls from a thread of its own, which has
 * exited by the ldr_close, so that every cycle really unloads. */
static void *rust_call(void *arg)
{
    runfn *run = (runfn *)arg;
    return (void *)(uintptr_t)run(2, 100);
}

static size_t rust_cycle(const char *path, int i)
{
    ldr_module *m = ldr_open(path, 0);
    ck_assert_msg(m != NULL, "cycle %d: ldr_open: %s", i, ldr_error());
    runfn *run = (runfn *)ldr_sym(m, "soak_run");
    sizefn *drops = (sizefn *)ldr_sym(m, "soak_drops");
    sizefn *tls_id = (sizefn *)ldr_sym(m, "soak_tls_id");
    ck_assert(run && drops && tls_id);
    pthread_t t;
    void *sum;
    ck_assert_int_eq(pthread_create(&t, NULL, rust_call, (void *)run), 0);
    ck_assert_int_eq(pthread_join(t, &sum), 0);
    /* Each thread t sums (t + 1) * (0 + 1 + ... + 99). */
    ck_assert_uint_eq((uintptr_t)sum, (1 + 2) * 4950);
    /* A fresh copy each time, whose threads' thread_local buffers were
     * dropped when they exited. */
    ck_assert_msg(drops() == 2, "cycle %d: %zu thread_local buffers dropped, not 2", i, drops());
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
    /* glibc makes a new malloc arena (a 64 MiB mapping) when threads
     * contend, whenever that happens: one arena keeps /proc/self/maps about
     * ldr's mappings alone. */
    mallopt(M_ARENA_MAX, 1);
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
