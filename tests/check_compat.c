/* Old-glibc fallbacks (ldr/compat.c, ldr/shims.c): one test per row of
 * the table, the shims' behaviour against glibc's own functions, and a
 * plugin built against a newer glibc than this machine's, loaded for real.
 * Linked with the static libldr: the table is internal. */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>

#include <ldr.h>

#include "ldr_internal.h" /* first: check.h defines a fail() macro */
#include "fixtures/testutil.h"

/* A name each pattern row stands for. */
static const char *example(const char *pattern)
{
    static const char *const map[][2] = {
        {"pthread_cond_*", "pthread_cond_wait"}, {"pthread_*affinity_np", "pthread_getaffinity_np"},
        {"totalorder*", "totalorder"},         {"pthread_*", "pthread_key_create"},
        {"sem_*", "sem_init"},                 {"__pthread_*", "__pthread_key_create"},
        {"thrd_*", "thrd_create"},             {"mtx_*", "mtx_lock"},
        {"cnd_*", "cnd_wait"},                 {"tss_*", "tss_get"},
        {"dl*", "dlsym"},                      {"timer_*", "timer_create"},
        {"mq_*", "mq_open"},                   {"shm_*", "shm_open"},
        {"aio_*", "aio_read"},                 {"lio_listio*", "lio_listio"},
        {"login*", "login_tty"},               {"gai_*", "gai_suspend"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], pattern) == 0)
            return map[i][1];
    ck_assert_msg(strpbrk(pattern, "*?[") == NULL, "pattern row %s has no example here", pattern);
    return pattern;
}

static char trace_path[64];

static void trace_to_file(void)
{
    snprintf(trace_path, sizeof trace_path, "/tmp/ldr-compat-trace.%d", (int)getpid());
    setenv("LDR_DEBUG", "versions", 1);
    setenv("LDR_DEBUG_OUTPUT", trace_path, 1);
    trace_setup();
}

static bool traced(const char *what)
{
    FILE *f = fopen(trace_path, "r");
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* Each row does on this machine what it promises: a fallback binds to the
 * function the row names, a shim to ldr's own, a refusal says why. */
START_TEST(row)
{
    const struct compat_rule *r = &compat_rules[_i];
    const char *name = example(r->name);
    trace_to_file();
    struct module from = {.path = "plugin.so"};
    struct symref ref;
    symref_init(&ref, name, r->since);
    struct binding b;
    bool ok = compat_find(&from, &ref, &b);
    char asked[256];
    snprintf(asked, sizeof asked, "%s@%s", name, r->since);
    ck_assert_msg(traced(asked), "no versions trace line for %s", asked);
    switch (r->kind) {
    case COMPAT_OLDER: {
        void *lib = r->target ? dlopen(r->target, RTLD_NOW) : RTLD_DEFAULT;
        ck_assert_msg(!r->target || lib, "%s: %s", r->target, dlerror());
        /* The host's own definition comes first, as everywhere: under the
         * sanitizers that is their interceptor. */
        void *want = dlsym(RTLD_DEFAULT, name);
        if (!want)
            want = dlsym(lib, name);
        ck_assert_msg(want != NULL, "%s: this machine has no %s at all", asked, name);
        ck_assert_msg(ok, "%s: no fallback: %s", asked, b.where);
        ck_assert_ptr_eq((void *)b.value, want);
        break;
    }
    case COMPAT_RENAME: {
        void *want = r->version ? dlvsym(RTLD_DEFAULT, r->target, r->version) : dlsym(RTLD_DEFAULT, r->target);
        ck_assert_msg(ok == (want != NULL), "%s: bound %d, %s here %p", asked, ok, r->target, want);
        if (ok)
            ck_assert_ptr_eq((void *)b.value, want);
        break;
    }
    case COMPAT_SHIM:
        ck_assert_msg(ok, "%s: %s", asked, b.where);
        ck_assert_ptr_nonnull(find_shim(name));
        ck_assert_ptr_eq((void *)b.value, find_shim(name));
        ck_assert_str_eq(b.where, "ldr shim");
        break;
    case COMPAT_BY_LDR:
    case COMPAT_UNSAFE:
        ck_assert_msg(!ok, "%s: bound although the table refuses it", asked);
        ck_assert_str_eq(b.where, r->why);
        break;
    }
    unlink(trace_path);
}
END_TEST

/* A row is found by the version asked: the same name at another version
 * is not covered, and an unknown glibc version says why. */
START_TEST(uncovered)
{
    struct module from = {.path = "plugin.so"};
    struct symref ref;
    struct binding b;
    symref_init(&ref, "strlcpy", "GLIBC_2.99");
    ck_assert(!compat_find(&from, &ref, &b));
    ck_assert_ptr_nonnull(strstr(b.where, "glibc predates"));
    symref_init(&ref, "_ZNSt8__detail15_List_node_base4swapERS0_S1_", "GLIBCXX_3.4.99");
    ck_assert(!compat_find(&from, &ref, &b));
    ck_assert_ptr_nonnull(strstr(b.where, "libstdc++"));
    symref_init(&ref, "frob", "FOO_2");
    ck_assert(!compat_find(&from, &ref, &b));
    ck_assert_ptr_null(b.where);
}
END_TEST

#define SHIM(type, name) ((type)find_shim(name))

START_TEST(strto_c23)
{
    typedef long strtol_fn(const char *, char **, int);
    typedef unsigned long long strtoull_fn(const char *, char **, int);
    strtol_fn *c23 = SHIM(strtol_fn *, "__isoc23_strtol");
    char *end;
    ck_assert_int_eq(c23("0b101", &end, 0), 5);
    ck_assert_int_eq(*end, '\0');
    ck_assert_int_eq(c23("  -0B1111z", &end, 2), -15);
    ck_assert_int_eq(*end, 'z');
    ck_assert_int_eq(c23("0b", &end, 0), 0); /* "0", then "b" is not part of it */
    ck_assert_str_eq(end, "b");
    ck_assert_int_eq(c23("0b101", NULL, 16), 0xb101);
    ck_assert_int_eq(c23("017", NULL, 0), 15);
    errno = 0;
    ck_assert_int_eq(c23("0b1" "000000000000000000000000000000000000000000000000000000000000000", NULL, 0), LONG_MAX);
    ck_assert_int_eq(errno, ERANGE);
    errno = 0;
    ck_assert_int_eq(c23("-0b1" "000000000000000000000000000000000000000000000000000000000000000", NULL, 0), LONG_MIN);
    ck_assert_int_eq(errno, 0);
    strtoull_fn *u = SHIM(strtoull_fn *, "__isoc23_strtoull");
    ck_assert(u("-0b1", NULL, 0) == ULLONG_MAX);
    typedef long wcstol_fn(const wchar_t *, wchar_t **, int);
    ck_assert_int_eq(SHIM(wcstol_fn *, "__isoc23_wcstol")(L"0b11", NULL, 0), 3);
}
END_TEST

START_TEST(lcpy)
{
    typedef size_t lfn(char *, const char *, size_t);
    char buf[8];
    ck_assert_uint_eq(SHIM(lfn *, "strlcpy")(buf, "abcdefghij", sizeof buf), 10);
    ck_assert_str_eq(buf, "abcdefg");
    ck_assert_uint_eq(SHIM(lfn *, "strlcpy")(buf, "ab", sizeof buf), 2);
    ck_assert_uint_eq(SHIM(lfn *, "strlcat")(buf, "cdefghij", sizeof buf), 10);
    ck_assert_str_eq(buf, "abcdefg");
    ck_assert_uint_eq(SHIM(lfn *, "strlcpy")(buf, "xyz", 0), 3);
    ck_assert_str_eq(buf, "abcdefg");
}
END_TEST

START_TEST(stat_family)
{
    typedef int stat_fn(const char *, struct stat *);
    typedef int fstat_fn(int, struct stat *);
    typedef int fstatat_fn(int, const char *, struct stat *, int);
    struct stat mine, theirs;
    ck_assert_int_eq(stat("/etc/passwd", &theirs), 0);
    ck_assert_int_eq(SHIM(stat_fn *, "stat64")("/etc/passwd", &mine), 0);
    ck_assert_int_eq(mine.st_size, theirs.st_size);
    ck_assert_int_eq(mine.st_ino, theirs.st_ino);
    ck_assert_int_eq(SHIM(fstatat_fn *, "fstatat")(AT_FDCWD, "/etc/passwd", &mine, 0), 0);
    ck_assert_int_eq(mine.st_size, theirs.st_size);
    int fd = open("/etc/passwd", O_RDONLY);
    ck_assert_int_eq(SHIM(fstat_fn *, "fstat")(fd, &mine), 0);
    ck_assert_int_eq(mine.st_mtime, theirs.st_mtime);
    ck_assert_int_eq(ldr_fstat(fd, &mine), 0);
    ck_assert_int_eq(mine.st_size, theirs.st_size);
    close(fd);
    errno = 0;
    ck_assert_int_eq(SHIM(stat_fn *, "lstat")("/nonexistent", &mine), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(syscalls)
{
    typedef pid_t tid_fn(void);
    ck_assert_int_eq(SHIM(tid_fn *, "gettid")(), (pid_t)syscall(SYS_gettid));
    typedef int entropy_fn(void *, size_t);
    unsigned char a[32] = {0}, z[32] = {0};
    ck_assert_int_eq(SHIM(entropy_fn *, "getentropy")(a, sizeof a), 0);
    ck_assert(memcmp(a, z, sizeof a) != 0);
    ck_assert_int_eq(SHIM(entropy_fn *, "getentropy")(a, 257), -1);
    typedef uint32_t uniform_fn(uint32_t);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_lt(SHIM(uniform_fn *, "arc4random_uniform")(7), 7);
    typedef void *realloc_fn(void *, size_t, size_t);
    errno = 0;
    ck_assert_ptr_null(SHIM(realloc_fn *, "reallocarray")(NULL, SIZE_MAX / 2, 3));
    ck_assert_int_eq(errno, ENOMEM);
    typedef int memfd_fn(const char *, unsigned);
    int fd = SHIM(memfd_fn *, "memfd_create")("ldr", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 900), 900);
    typedef void closefrom_fn(int);
    SHIM(closefrom_fn *, "closefrom")(900);
    ck_assert_int_eq(fcntl(900, F_GETFD), -1);
    close(fd);
    ck_assert_int_eq(*SHIM(char *, "__libc_single_threaded"), 0);
}
END_TEST

static int worker(void *arg)
{
    typedef int tss_set_fn(tss_t, void *);
    typedef void *tss_get_fn(tss_t);
    tss_t *key = arg;
    SHIM(tss_set_fn *, "tss_set")(*key, (void *)7);
    return (int)(intptr_t)SHIM(tss_get_fn *, "tss_get")(*key) * 6;
}

START_TEST(c11_threads)
{
    typedef int create_fn(thrd_t *, thrd_start_t, void *);
    typedef int join_fn(thrd_t, int *);
    typedef int tss_create_fn(tss_t *, tss_dtor_t);
    typedef void *tss_get_fn(tss_t);
    typedef int mtx_init_fn(mtx_t *, int);
    typedef int mtx_fn(mtx_t *);
    tss_t key;
    ck_assert_int_eq(SHIM(tss_create_fn *, "tss_create")(&key, NULL), thrd_success);
    thrd_t t;
    int res = 0;
    ck_assert_int_eq(SHIM(create_fn *, "thrd_create")(&t, worker, &key), thrd_success);
    ck_assert_int_eq(SHIM(join_fn *, "thrd_join")(t, &res), thrd_success);
    ck_assert_int_eq(res, 42);
    ck_assert_ptr_null(SHIM(tss_get_fn *, "tss_get")(key)); /* per thread */
    mtx_t m;
    ck_assert_int_eq(SHIM(mtx_init_fn *, "mtx_init")(&m, mtx_recursive), thrd_success);
    ck_assert_int_eq(SHIM(mtx_fn *, "mtx_lock")(&m), thrd_success);
    ck_assert_int_eq(SHIM(mtx_fn *, "mtx_trylock")(&m), thrd_success);
    ck_assert_int_eq(SHIM(mtx_fn *, "mtx_unlock")(&m), thrd_success);
    ck_assert_int_eq(SHIM(mtx_fn *, "mtx_unlock")(&m), thrd_success);
}
END_TEST

/* The whole path: a plugin linked against a newer libc, loaded by ldr. */
START_TEST(newer_plugin)
{
    trace_to_file();
    ldr_module *m = ldr_open(fixture("libnewlibc.so"), 0);
    ck_assert_msg(m != NULL, "%s", ldr_error());
    int (*check)(void) = (int (*)(void))ldr_sym(m, "newlibc_check");
    ck_assert_ptr_nonnull(check);
    ck_assert_int_eq(check(), 0);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert(traced("strlcpy@GLIBC_2.38 -> ldr shim"));
    ck_assert(traced("__isoc23_sscanf@GLIBC_2.38 -> libc.so.6 __isoc99_sscanf@GLIBC_2.7"));
    unlink(trace_path);
}
END_TEST

START_TEST(strict_refuses)
{
    ck_assert_ptr_null(ldr_open(fixture("libnewlibc.so"), LDR_STRICT));
    const char *e = ldr_error();
    ck_assert_ptr_nonnull(strstr(e, "strlcpy@GLIBC_2.38"));
    ck_assert_ptr_null(ldr_open(fixture("libnewlibc_missing.so"), 0));
    e = ldr_error();
    ck_assert_msg(strstr(e, "1 undefined symbol: ldr_test_missing@GLIBC_2.99 (the host's glibc predates") != NULL,
                  "%s", e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compat");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, row, 0, (int)compat_nrules);
    tcase_add_test(tc, uncovered);
    suite_add_tcase(s, tc);
    tc = tcase_create("shims");
    tcase_add_test(tc, strto_c23);
    tcase_add_test(tc, lcpy);
    tcase_add_test(tc, stat_family);
    tcase_add_test(tc, syscalls);
    tcase_add_test(tc, c11_threads);
    suite_add_tcase(s, tc);
    tc = tcase_create("plugin");
    tcase_add_test(tc, newer_plugin);
    tcase_add_test(tc, strict_refuses);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
