/* A Rust cdylib (std only, built by the suite with cargo --offline): its
 * output, threads, thread_local! values with Drop impls counted as the
 * threads exit, panics caught with catch_unwind, HashMap, fs, env and the
 * command line that std reads in its initializer. Each test runs on the
 * dlopen'd copy (the oracle) and on ldr's. Skipped (77) without cargo. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/tls_util.h"


NO_LEAK_REPORT("Rust's std never frees its stdout buffer")

#define PLUGIN "librust_plugin.so"

extern char **environ;
static int main_argc;
static char **main_argv;

typedef int int_int_fn(int);
typedef int64_t threads_fn(uint32_t);
typedef uint32_t touch_fn(void);
typedef size_t drops_fn(void);
typedef uint64_t hashmap_fn(uint64_t);
typedef int64_t fs_fn(const char *, const char *);
typedef int env_fn(const char *, char *, size_t);
typedef int args_fn(char *, size_t);
typedef char *string_fn(uint32_t);
typedef void string_free_fn(char *);

static void call_hello(void *fn)
{
    ck_assert_int_eq(((int_int_fn *)fn)(41), 42);
}

START_TEST(test_println)
{
    struct lib l = lib_open(_i, fixture(PLUGIN));
    char *out = capture_stdout(call_hello, lib_sym(&l, "rust_hello"));
    ck_assert_msg(strcmp(out, "rust says hello 41\n") == 0, "[%s] stdout \"%s\"", tls_loader_names[_i], out);
    free(out);
    lib_close(&l);
}
END_TEST

static touch_fn *touch;

static void *call_touch(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)touch();
}

/* Threads spawned by Rust see fresh thread-locals; each one's Drop runs
 * when it exits, and so does that of a host thread that used one. */
START_TEST(test_threads_and_drops)
{
    const char *ln = tls_loader_names[_i];
    struct lib l = lib_open(_i, fixture(PLUGIN));
    drops_fn *drops = (drops_fn *)lib_sym(&l, "rust_drops");
    ck_assert_uint_eq(drops(), 0);
    int64_t total = ((threads_fn *)lib_sym(&l, "rust_threads"))(4);
    ck_assert_msg(total == 999 * 1000 / 2, "[%s] rust_threads(4) = %lld", ln, (long long)total);
    ck_assert_msg(drops() == 4, "[%s] %zu drops after 4 threads", ln, drops());
    total = ((threads_fn *)lib_sym(&l, "rust_threads"))(7);
    ck_assert_msg(total == 999 * 1000 / 2, "[%s] rust_threads(7) = %lld", ln, (long long)total);
    ck_assert_msg(drops() == 11, "[%s] %zu drops after 11 threads", ln, drops());
    touch = (touch_fn *)lib_sym(&l, "rust_touch");
    ck_assert_msg(in_thread(call_touch, NULL) == (void *)5,
                  "[%s] a host thread's thread_local was not fresh", ln);
    ck_assert_msg(drops() == 12, "[%s] %zu drops after a host thread's exit", ln, drops());
    lib_close(&l);
}
END_TEST

START_TEST(test_catch_unwind)
{
    const char *ln = tls_loader_names[_i];
    struct lib l = lib_open(_i, fixture(PLUGIN));
    int_int_fn *c = (int_int_fn *)lib_sym(&l, "rust_catch");
    ck_assert_msg(c(0) == 0, "[%s] rust_catch(0) = %d", ln, c(0));
    for (int k = 1; k < 20; k++)
        ck_assert_msg(c(k) == 1000 + k, "[%s] rust_catch(%d) = %d", ln, k, c(k));
    lib_close(&l);
}
END_TEST

static int_int_fn *catch_fn;

static void *catch_many(void *arg)
{
    for (int k = 1; k < 100; k++)
        if (catch_fn(k) != 1000 + k)
            return arg;
    return NULL;
}

/* Panics caught in several host threads at once. */
START_TEST(test_catch_unwind_threads)
{
    struct lib l = lib_open(_i, fixture(PLUGIN));
    catch_fn = (int_int_fn *)lib_sym(&l, "rust_catch");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, catch_many, (void *)(intptr_t)(i + 1)), 0);
    for (int i = 0; i < 3; i++) {
        void *r;
        ck_assert_int_eq(pthread_join(t[i], &r), 0);
        ck_assert_msg(r == NULL, "[%s] thread %d: a panic was not caught right", tls_loader_names[_i], i);
    }
    lib_close(&l);
}
END_TEST

START_TEST(test_hashmap)
{
    struct lib l = lib_open(_i, fixture(PLUGIN));
    hashmap_fn *h = (hashmap_fn *)lib_sym(&l, "rust_hashmap");
    for (uint64_t n = 1; n < 5000; n = n * 3 + 1) {
        uint64_t want = 0;
        for (uint64_t i = 1; i < n; i += 2)
            want += i * i;
        ck_assert_msg(h(n) == want, "[%s] rust_hashmap(%llu) = %llu, want %llu", tls_loader_names[_i],
                      (unsigned long long)n, (unsigned long long)h(n), (unsigned long long)want);
    }
    char *s = ((string_fn *)lib_sym(&l, "rust_string"))(30);
    ck_assert_str_eq(s, "abcdefghijklmnopqrstuvwxyzabcd");
    ((string_free_fn *)lib_sym(&l, "rust_string_free"))(s);
    lib_close(&l);
}
END_TEST

START_TEST(test_fs)
{
    char dir[] = "/tmp/ldr-rust-XXXXXX", path[64], got[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/file.txt", dir);
    struct lib l = lib_open(_i, fixture(PLUGIN));
    int64_t size = ((fs_fn *)lib_sym(&l, "rust_fs"))(path, "written by rust");
    ck_assert_msg(size == 20, "[%s] rust_fs returned %lld", tls_loader_names[_i], (long long)size);
    lib_close(&l);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    ck_assert_str_eq(got, "written by rust+rust");
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_env_args)
{
    const char *ln = tls_loader_names[_i];
    char buf[8192], want[8192] = "";
    setenv("LDR_RUST_TEST_VAR", "value set by the host", 1);
    struct lib l = lib_open(_i, fixture(PLUGIN));
    env_fn *env = (env_fn *)lib_sym(&l, "rust_env");
    ck_assert_int_eq(env("LDR_RUST_TEST_VAR", buf, sizeof buf), (int)strlen("value set by the host"));
    ck_assert_str_eq(buf, "value set by the host");
    setenv("LDR_RUST_TEST_VAR", "changed later", 1);
    ck_assert_int_gt(env("LDR_RUST_TEST_VAR", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "changed later");
    ck_assert_int_eq(env("LDR_RUST_TEST_UNSET_VAR", buf, sizeof buf), -2);

    /* std::env::args() comes from what the initializers were given. */
    for (int i = 0; i < main_argc; i++) {
        if (i)
            strcat(want, "\n");
        strcat(want, main_argv[i]);
    }
    int n = ((args_fn *)lib_sym(&l, "rust_args"))(buf, sizeof buf);
    ck_assert_msg(n == main_argc, "[%s] std::env::args() has %d arguments, main %d", ln, n, main_argc);
    ck_assert_msg(strcmp(buf, want) == 0, "[%s] std::env::args() \"%s\", want \"%s\"", ln, buf, want);
    lib_close(&l);
}
END_TEST

int main(int argc, char **argv)
{
#ifndef LDR_HAVE_CARGO
    (void)argc;
    (void)argv;
    puts("cargo was not found by configure: the Rust plugin is not built");
    return 77;
#else
    main_argc = argc;
    main_argv = argv;
    Suite *s = suite_create("rust");
    TCase *tc = tcase_create("rust");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_println, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_threads_and_drops, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_catch_unwind, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_catch_unwind_threads, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_hashmap, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_fs, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_env_args, 0, TLS_NLOADERS);
    suite_add_tcase(s, tc);
    return run_suite(s);
#endif
}
