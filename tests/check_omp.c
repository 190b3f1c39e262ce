/* An OpenMP plugin built with gcc -fopenmp: its libgomp.so.1 is loaded
 * with it (this host does not link libgomp), and it computes a parallel
 * reduction with a team of four threads, several times; its threadprivate
 * variable is TLS of libgomp's worker threads. The dlopen'd copy is the
 * oracle. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/tls_util.h"


NO_LEAK_REPORT("libgomp's pool threads still run at exit, and LeakSanitizer's thread tracer cannot cope")

typedef long sum_fn(long, int *, unsigned long *, long *);

#define TEAM 4
#define N 1000000L

START_TEST(test_reduction)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    ck_assert_msg(maps_lines("libgomp") == 0, "the host has libgomp");
    struct lib l = lib_open(loader, fixture("libomp_reduce.so"));
    ck_assert_msg(maps_lines("libgomp") > 0, "[%s] libgomp.so.1 was not loaded", ln);
    if (loader == TLS_LDR)
        ck_assert_msg(dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD) == NULL,
                      "[ldr] the system loader loaded libgomp, not ldr");
    sum_fn *sum = (sum_fn *)lib_sym(&l, "omp_sum");
    for (int round = 0; round < 3; round++) {
        int threads = 0;
        unsigned long mask = 0;
        long priv = 0;
        long n = N + round;
        long s = sum(n, &threads, &mask, &priv);
        ck_assert_msg(s == n * (n + 1) / 2, "[%s] sum %ld, want %ld", ln, s, n * (n + 1) / 2);
        ck_assert_msg(threads == TEAM, "[%s] a team of %d threads, want %d", ln, threads, TEAM);
        ck_assert_msg(mask == (1UL << TEAM) - 1, "[%s] threads %#lx took part", ln, mask);
        ck_assert_msg(priv == n, "[%s] threadprivate counts add up to %ld, want %ld", ln, priv, n);
    }
    /* Not closed: libgomp's idle pool threads are still running its code
     * after a parallel region ends, and the system loader's dlclose races
     * with them and crashes now and then. Unloading OpenMP is not part of
     * what this test can expect. */
}
END_TEST

int main(void)
{
    /* libgomp reads its settings when it is initialized. */
    setenv("OMP_NUM_THREADS", "4", 1);
    setenv("OMP_DYNAMIC", "false", 1);
    Suite *s = suite_create("omp");
    TCase *tc = tcase_create("omp");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_reduction, 0, TLS_NLOADERS);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
