/* A C++ plugin in two libraries (libcxx_a.so needs libcxx_b.so):
 * exceptions thrown and caught within one library and across both, from
 * several threads; thread_local objects whose destructors run at thread
 * exit; static objects destroyed at close; iostreams. This host is C and
 * does not link libstdc++: the system loader brings it for the plugin.
 * Each test runs on the dlopen'd copy (the oracle) and on ldr's. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/cxx_shared.h"
#include "fixtures/host.h"
#include "fixtures/tls_util.h"

typedef int int_int_fn(int);
typedef int int_fn(void);
typedef void void_fn(void);
typedef int format_fn(char *, size_t);

static int_int_fn *catch_across, *catch_through, *catch_local, *b_self;
static int_fn *tl_touch;

/* Every kind of throw and catch, once; 0 if all gave what they must. */
static int exceptions_once(int k)
{
    if (catch_across(5 + k) != 5 + k)
        return 1;
    if (catch_through(3 + k) != 1003 + k)
        return 2;
    if (catch_through(0) <= 0) /* no throw: the call returns normally */
        return 3;
    if (catch_local(5) != 11 || catch_local(1) != 10)
        return 4;
    if (b_self(9 + k) != 9 + k)
        return 5;
    return 0;
}

static void *exceptions_thread(void *arg)
{
    for (int r = 0; r < 200; r++) {
        int e = exceptions_once((int)(intptr_t)arg + r);
        if (e)
            return (void *)(intptr_t)e;
    }
    return NULL;
}

static void load_exceptions(struct lib *l, struct lib *b)
{
    catch_across = (int_int_fn *)lib_sym(l, "cxx_catch_across");
    catch_through = (int_int_fn *)lib_sym(l, "cxx_catch_through");
    catch_local = (int_int_fn *)lib_sym(l, "cxx_catch_local");
    b_self = (int_int_fn *)lib_sym(b, "cxx_b_self");
}

/* Thrown in libcxx_b.so and caught in libcxx_a.so; thrown in libcxx_a.so,
 * through libcxx_b.so's frames (and their cleanups), caught back in
 * libcxx_a.so; thrown by libstdc++; thrown and caught inside libcxx_b.so.
 * In the main thread, then in four threads at once. */
START_TEST(test_exceptions)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
#ifndef __SANITIZE_ADDRESS__ /* the sanitizer runtimes bring libstdc++ along */
    ck_assert_msg(dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD) == NULL, "the host has libstdc++");
#endif
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    struct lib b = lib_open(loader, fixture("libcxx_b.so"));
    load_exceptions(&l, &b);
    ck_assert_msg(catch_across(5) == 5, "[%s] across: %d", ln, catch_across(5));
    ck_assert_msg(catch_through(3) == 1003, "[%s] through: %d", ln, catch_through(3));
    ck_assert_msg(catch_local(5) == 11, "[%s] local: %d", ln, catch_local(5));
    ck_assert_msg(b_self(9) == 9, "[%s] inside libcxx_b: %d", ln, b_self(9));
    ck_assert_int_eq(exceptions_once(0), 0);

    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, exceptions_thread, (void *)(intptr_t)(i * 1000)), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        ck_assert_int_eq(pthread_join(t[i], &ret), 0);
        ck_assert_msg(ret == NULL, "[%s] thread %d: check %d failed", ln, i, (int)(intptr_t)ret);
    }
    lib_close(&b);
    lib_close(&l);
}
END_TEST

/* The same after a close and a reopen at (usually) other addresses: the
 * unwinder must not use what it learnt of the first load. */
START_TEST(test_exceptions_reopen)
{
    int loader = _i;
    for (int round = 0; round < 3; round++) {
        struct lib l = lib_open(loader, fixture("libcxx_a.so"));
        struct lib b = lib_open(loader, fixture("libcxx_b.so"));
        load_exceptions(&l, &b);
        ck_assert_msg(exceptions_once(round) == 0, "[%s] round %d: check %d failed", tls_loader_names[loader],
                      round, exceptions_once(round));
        lib_close(&b);
        lib_close(&l);
    }
}
END_TEST

/* A C plugin opened while nothing in the process can unwind (libgcc_s is
 * not loaded yet): ldr's copy has its unwind tables wait, and the load
 * that brings the unwinder registers them, so that an exception from the
 * C++ plugin unwinds through the C plugin's frame. */
START_TEST(test_unwind_through_earlier_plugin)
{
    int loader = _i;
#ifndef __SANITIZE_ADDRESS__ /* the sanitizer runtimes bring libgcc_s along */
    ck_assert_msg(dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD) == NULL, "the host has libgcc_s");
#endif
    struct lib c = lib_open(loader, fixture("libc_call.so"));
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    int (*via)(void *, int) = (int (*)(void *, int))lib_sym(&l, "cxx_catch_via");
    ck_assert_int_eq(via(lib_sym(&c, "c_call"), 4), 1004);
    lib_close(&l);
    lib_close(&c);
}
END_TEST

/* A namespace-scope object is constructed at load and destroyed at close,
 * a function-local static at its first use and before the other. */
START_TEST(test_static_objects)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    host_trace[0] = '\0';
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    ck_assert_msg(strcmp(host_trace, "cxx-static+,") == 0, "[%s] after load: \"%s\"", ln, host_trace);
    ((void_fn *)lib_sym(&l, "cxx_local_static"))();
    ((void_fn *)lib_sym(&l, "cxx_local_static"))();
    ck_assert_msg(strcmp(host_trace, "cxx-static+,cxx-local+,") == 0, "[%s] after use: \"%s\"", ln, host_trace);
    lib_close(&l);
    ck_assert_msg(strcmp(host_trace, "cxx-static+,cxx-local+,cxx-local-,cxx-static-,") == 0,
                  "[%s] after close: \"%s\"", ln, host_trace);
}
END_TEST

static void *touch_twice(void *arg)
{
    (void)arg;
    int a = tl_touch();
    int b = tl_touch();
    return (void *)(intptr_t)(a == 8 && b == 9);
}

/* Each thread gets its own thread_local object, constructed on first use,
 * destroyed when the thread exits. */
START_TEST(test_thread_local)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    struct lib_range r = lib_range(&l);
    tl_touch = (int_fn *)lib_sym(&l, "cxx_tl_touch");
    host_trace[0] = '\0';
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, touch_twice, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *ok;
        ck_assert_int_eq(pthread_join(t[i], &ok), 0);
        ck_assert_msg(ok != NULL, "[%s] thread %d did not see a fresh object of its own", ln, i);
    }
    ck_assert_msg(strcmp(host_trace, "cxx-tl-,cxx-tl-,cxx-tl-,") == 0, "[%s] trace \"%s\"", ln, host_trace);
    ck_assert_msg(in_thread(touch_twice, NULL) != NULL, "[%s] a later thread's object", ln);
    lib_close(&l);
    if (loader == TLS_LDR)
        ck_assert_msg(pages_mapped(r.start, r.size) == 0, "[ldr] libcxx_a.so still mapped after close");
}
END_TEST

/* A thread that still owes a thread_local destructor keeps the library
 * mapped past its close, until the thread exits and the destructor ran. */
START_TEST(test_thread_local_keeps_module)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    struct servant s;
    servant_start(&s);
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    struct lib_range r = lib_range(&l);
    tl_touch = (int_fn *)lib_sym(&l, "cxx_tl_touch");
    host_trace[0] = '\0';
    ck_assert_msg(servant_run(&s, touch_twice, NULL) != NULL, "[%s] fresh object", ln);
    lib_close(&l);
    ck_assert_msg(pages_mapped(r.start, r.size) == pages_in(r.start, r.size),
                  "[%s] unmapped while a thread owes a thread_local destructor", ln);
    ck_assert_msg(strstr(host_trace, "cxx-tl-") == NULL, "[%s] destructor ran early: \"%s\"", ln, host_trace);
    servant_stop(&s);
    ck_assert_msg(strstr(host_trace, "cxx-tl-,") != NULL && count_in(host_trace, "cxx-tl-") == 1,
                  "[%s] after the thread's exit: \"%s\"", ln, host_trace);
    if (loader == TLS_LDR)
        ck_assert_msg(pages_mapped(r.start, r.size) == 0, "[ldr] still mapped after the destructor ran");
}
END_TEST

static void call_cout(void *fn)
{
    ((void_fn *)fn)();
}

START_TEST(test_iostreams)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    char buf[64];
    struct lib l = lib_open(loader, fixture("libcxx_a.so"));
    int n = ((format_fn *)lib_sym(&l, "cxx_format"))(buf, sizeof buf);
    ck_assert_int_eq(n, (int)strlen(CXX_FORMAT_EXPECTED));
    ck_assert_msg(strcmp(buf, CXX_FORMAT_EXPECTED) == 0, "[%s] ostringstream gave \"%s\"", ln, buf);
    char *out = capture_stdout(call_cout, lib_sym(&l, "cxx_cout"));
    ck_assert_msg(strcmp(out, CXX_COUT_EXPECTED) == 0, "[%s] std::cout wrote \"%s\"", ln, out);
    free(out);
    lib_close(&l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cxx");
    TCase *tc = tcase_create("cxx");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_exceptions, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_exceptions_reopen, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_unwind_through_earlier_plugin, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_static_objects, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_thread_local, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_thread_local_keeps_module, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_iostreams, 0, TLS_NLOADERS);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
