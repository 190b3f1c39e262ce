/* Concurrent use: threads opening, using and closing modules at once, and
 * ldr_error() being per thread. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/testutil.h"

#define THREADS 4
#define ROUNDS 200

typedef int intfn(void);
typedef int lenfn(const char *);

static const char *paths[2];
static const int values[2] = { 3 * 2, 5 * 2 }; /* THR_VALUE, doubled by the ctor */

struct job {
    int id;
    char failure[256]; /* empty if all went well */
};

/* Like ck_assert, but from a thread: records the first failure and stops. */
#define EXPECT(job, cond, ...)                                              \
    do {                                                                    \
        if (!(cond)) {                                                      \
            snprintf((job)->failure, sizeof (job)->failure, __VA_ARGS__);   \
            return NULL;                                                    \
        }                                                                   \
    } while (0)

static void *cycle(void *arg)
{
    struct job *job = arg;
    for (int r = 0; r < ROUNDS; r++) {
        int k = (job->id + r) % 2;
        ldr_module *m = ldr_open(paths[k], 0);
        EXPECT(job, m != NULL, "round %d: ldr_open(%s): %s", r, paths[k], ldr_error());
        intfn *value = (intfn *)ldr_sym(m, "thr_value");
        lenfn *len = (lenfn *)ldr_sym(m, "thr_len");
        EXPECT(job, value && len, "round %d: symbols missing in %s", r, paths[k]);
        int v = value();
        /* Other threads may hold the module open, constructors run once. */
        EXPECT(job, v == values[k], "round %d: thr_value() = %d, not %d", r, v, values[k]);
        EXPECT(job, len("four") == 4, "round %d: thr_len() is wrong", r);
        EXPECT(job, ldr_close(m) == 0, "round %d: ldr_close: %s", r, ldr_error());
        EXPECT(job, ldr_error() == NULL, "round %d: stray error", r);
    }
    return NULL;
}

/* Fails on purpose, over and over: its errors are its own. */
static void *fail_open(void *arg)
{
    struct job *job = arg;
    char path[64];
    for (int r = 0; r < ROUNDS; r++) {
        snprintf(path, sizeof path, "/nonexistent/t%d/r%d.so", job->id, r);
        EXPECT(job, ldr_open(path, 0) == NULL, "%s opened", path);
        const char *e = ldr_error();
        EXPECT(job, e != NULL && strncmp(e, path, strlen(path)) == 0,
               "round %d: error \"%s\" is not about %s", r, e ? e : "(null)", path);
        EXPECT(job, ldr_error() == NULL, "round %d: error not cleared", r);
    }
    return NULL;
}

static void run(void *(*fn[])(void *), int n)
{
    pthread_t t[8];
    struct job jobs[8];
    for (int i = 0; i < n; i++) {
        jobs[i].id = i;
        jobs[i].failure[0] = '\0';
        ck_assert_int_eq(pthread_create(&t[i], NULL, fn[i], &jobs[i]), 0);
    }
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
}

/* 4 threads, 200 rounds each of open/sym/call/close on two fixtures. */
START_TEST(test_concurrent_open_close)
{
    void *(*fn[THREADS])(void *) = { cycle, cycle, cycle, cycle };
    paths[0] = fixture("libthr_a.so");
    paths[1] = fixture("libthr_b.so");
    run(fn, THREADS);
    /* Everything was closed: nothing of the fixtures is left mapped. */
    ck_assert_int_eq(maps_lines("libthr_"), 0);
}
END_TEST

/* Errors raised in one thread are not seen by, or lost to, the others. */
START_TEST(test_error_per_thread)
{
    void *(*fn[THREADS])(void *) = { cycle, fail_open, cycle, fail_open };
    paths[0] = fixture("libthr_a.so");
    paths[1] = fixture("libthr_b.so");
    run(fn, THREADS);
}
END_TEST

/* A host thread loads and unloads a library, RTLD_GLOBAL, over and over,
 * while loads by ldr look into the host's objects: a load reads an object
 * loaded at run time only once it holds it, so that the unloading cannot
 * take the tables from under it. librtuser.so imports rt_value, which only
 * that library defines: each load either binds it (2) or fails naming it. */
static volatile int churning;

static void *churn(void *arg)
{
    const char *path = arg;
    while (churning) {
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (h)
            dlclose(h);
    }
    return NULL;
}

START_TEST(test_host_unloads_during_loads)
{
    pthread_t t;
    churning = 1;
    ck_assert_int_eq(pthread_create(&t, NULL, churn, (void *)fixture("librtglobal.so")), 0);
    int bound = 0, refused = 0;
    for (int r = 0; r < ROUNDS; r++) {
        ldr_module *m = ldr_open(fixture("librtuser.so"), LDR_NOINIT);
        if (!m) {
            const char *e = ldr_error();
            ck_assert_msg(e && strstr(e, "rt_value"), "%s", e ? e : "(no message)");
            refused++;
            continue;
        }
        bound++;
        ck_assert_int_eq(ldr_close(m), 0);
    }
    churning = 0;
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(bound + refused, ROUNDS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_concurrent_open_close);
    tcase_add_test(tc, test_error_per_thread);
    tcase_add_test(tc, test_host_unloads_during_loads);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
