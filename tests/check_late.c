/* libldr loaded late, with dlopen, by a host that was not linked with it:
 * its own thread-local storage must fit the small static TLS surplus the
 * system loader keeps for that, and it must still load TLS plugins
 * (dynamic, and initial-exec through its pool) and run their code. */
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixtures/host.h"

typedef void *open_fn(const char *, int);
typedef void *sym_fn(void *, const char *);
typedef const char *error_fn(void);
typedef void *addr_fn(int);
typedef long sum_fn(long, int *, unsigned long *, long *);

static int main_argc;
static char **main_argv;
static open_fn *ldr_open_p;
static sym_fn *ldr_sym_p;
static error_fn *ldr_error_p;

static char *path_of(const char *rel)
{
    const char *b = getenv("LDR_BUILD");
    ck_assert_msg(b != NULL, "run through make check");
    char *p;
    ck_assert_int_ge(asprintf(&p, "%s/%s", b, rel), 0);
    return p;
}

static void load_libldr(void)
{
    char *p = path_of(".libs/libldr.so.0");
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen(%s): %s", p, dlerror());
    ldr_open_p = (open_fn *)dlsym(h, "ldr_open");
    ldr_sym_p = (sym_fn *)dlsym(h, "ldr_sym");
    ldr_error_p = (error_fn *)dlsym(h, "ldr_error");
    ck_assert(ldr_open_p && ldr_sym_p && ldr_error_p);
    free(p);
}

static void *plugin_sym(const char *fixture, const char *name)
{
    char *p = path_of(fixture);
    void *m = ldr_open_p(p, 0);
    ck_assert_msg(m != NULL, "ldr_open(%s): %s", p, ldr_error_p());
    void *s = ldr_sym_p(m, name);
    ck_assert_msg(s != NULL, "%s: no %s", p, name);
    free(p);
    return s;
}

static addr_fn *tls_addr;

static void *other_thread(void *arg)
{
    (void)arg;
    return tls_addr(0);
}

START_TEST(test_late_tls)
{
    load_libldr();
    tls_addr = (addr_fn *)plugin_sym("tests/build/libtls_gd.so", "tls_addr");
    void *mine = tls_addr(0), *theirs;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &theirs), 0);
    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_nonnull(theirs);
    ck_assert_ptr_ne(mine, theirs);
    ck_assert_ptr_eq(tls_addr(0), mine);
}
END_TEST

/* libgomp's initial-exec TLS goes to the pool in libldr's own static TLS. */
START_TEST(test_late_openmp)
{
    load_libldr();
    sum_fn *sum = (sum_fn *)plugin_sym("tests/build/libomp_reduce.so", "omp_sum");
    int threads = 0;
    unsigned long mask = 0;
    long priv = 0;
    ck_assert_int_eq(sum(1000, &threads, &mask, &priv), 1000L * 1001 / 2);
}
END_TEST

/* glibc hands a library it loads late the program's arguments for its
 * initializers; libldr passes them on to its modules' initializers. */
START_TEST(test_late_initializer_arguments)
{
    load_libldr();
    plugin_sym("tests/build/libinit.so", "init_present");
    ck_assert_int_eq(host_ctor_args.called, 1);
    ck_assert_int_eq(host_ctor_args.argc, main_argc);
    ck_assert_ptr_eq(host_ctor_args.argv, main_argv);
}
END_TEST

int main(int argc, char **argv)
{
    main_argc = argc;
    main_argv = argv;
    Suite *s = suite_create("late");
    TCase *tc = tcase_create("late");
    tcase_add_test(tc, test_late_tls);
    tcase_add_test(tc, test_late_openmp);
    tcase_add_test(tc, test_late_initializer_arguments);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
