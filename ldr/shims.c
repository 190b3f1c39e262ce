/* ldr's own implementations of functions an old host glibc lacks, for
 * plugins built on a newer one (compat.c decides when one is used). Each
 * does what the newer glibc does, with what every glibc since 2.17 has:
 * the __xstat interface, older functions, or the system call itself. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "ldr_internal.h"

/* The stat family for hosts before glibc 2.33, whose libc exports only
 * the __xstat interface (stat() was a static wrapper then): the system
 * calls themselves, which every kernel ldr runs on has and whose struct
 * stat is glibc's struct stat64 on x86_64. Calling them directly keeps
 * libldr free of versioned references to those compat symbols. */
static int shim_stat(const char *path, struct stat64 *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

static int shim_lstat(const char *path, struct stat64 *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static int shim_fstat(int fd, struct stat64 *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

static int shim_fstatat(int dirfd, const char *path, struct stat64 *st, int flags)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

static int shim_mknod(const char *path, mode_t mode, dev_t dev)
{
    return (int)syscall(SYS_mknodat, AT_FDCWD, path, mode, dev);
}

static int shim_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    return (int)syscall(SYS_mknodat, dirfd, path, mode, dev);
}

/* ldr's own fstat and stat: plain calls would need GLIBC_2.33 when ldr
 * is built on a newer glibc. */
int ldr_fstat(int fd, struct stat *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

int ldr_stat(const char *path, struct stat *st)
{
    return (int)syscall(SYS_stat, path, st);
}

/* glibc 2.33's struct mallinfo2 (older headers lack it): mallinfo's fields
 * as size_t. mallinfo is deprecated where mallinfo2 exists, and only used
 * where it does not. */
struct mallinfo_wide {
    size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static struct mallinfo_wide shim_mallinfo2(void)
{
    struct mallinfo m = mallinfo();
    /* The int fields wrap past 2 GiB; unsigned they reach 4. */
    return (struct mallinfo_wide){(unsigned)m.arena, (unsigned)m.ordblks, (unsigned)m.smblks,
                              (unsigned)m.hblks, (unsigned)m.hblkhd, (unsigned)m.usmblks,
                              (unsigned)m.fsmblks, (unsigned)m.uordblks, (unsigned)m.fordblks,
                              (unsigned)m.keepcost};
}
#pragma GCC diagnostic pop

/* C23 strto*: base 0 or 2 also takes a 0b/0B prefix. Anything else is the
 * old function's business, errors and end pointer included. */
#define STRTO_C23(NAME, T, CH, OLD, SPACE, MIN, MAX, SIGNED)                                     \
    static T NAME(const CH *s, CH **end, int base)                                              \
    {                                                                                           \
        const CH *p = s;                                                                        \
        while (SPACE(*p))                                                                       \
            p++;                                                                                \
        bool neg = *p == '-';                                                                   \
        if (*p == '-' || *p == '+')                                                             \
            p++;                                                                                \
        if ((base != 0 && base != 2) || p[0] != '0' || (p[1] != 'b' && p[1] != 'B') ||        \
            (p[2] != '0' && p[2] != '1'))                                                       \
            return OLD(s, end, base);                                                           \
        uintmax_t mag = 0;                                                                      \
        bool over = false;                                                                      \
        for (p += 2; *p == '0' || *p == '1'; p++) {                                             \
            over |= mag > UINTMAX_MAX / 2;                                                      \
            mag = mag * 2 + (uintmax_t)(*p - '0');                                              \
        }                                                                                       \
        if (end)                                                                                \
            *end = (CH *)p;                                                                     \
        uintmax_t limit = SIGNED ? (uintmax_t)(MAX) + neg : (uintmax_t)(MAX);                   \
        if (over || mag > limit) {                                                              \
            errno = ERANGE;                                                                     \
            return SIGNED && neg ? (MIN) : (MAX);                                               \
        }                                                                                       \
        return neg ? (T)(0 - mag) : (T)mag;                                                     \
    }
#define IS_SPACE(c) isspace((unsigned char)(c))
STRTO_C23(c23_strtol, long, char, strtol, IS_SPACE, LONG_MIN, LONG_MAX, 1)
STRTO_C23(c23_strtoul, unsigned long, char, strtoul, IS_SPACE, 0, ULONG_MAX, 0)
STRTO_C23(c23_strtoll, long long, char, strtoll, IS_SPACE, LLONG_MIN, LLONG_MAX, 1)
STRTO_C23(c23_strtoull, unsigned long long, char, strtoull, IS_SPACE, 0, ULLONG_MAX, 0)
STRTO_C23(c23_strtoimax, intmax_t, char, strtoimax, IS_SPACE, INTMAX_MIN, INTMAX_MAX, 1)
STRTO_C23(c23_strtoumax, uintmax_t, char, strtoumax, IS_SPACE, 0, UINTMAX_MAX, 0)
STRTO_C23(c23_wcstol, long, wchar_t, wcstol, iswspace, LONG_MIN, LONG_MAX, 1)
STRTO_C23(c23_wcstoul, unsigned long, wchar_t, wcstoul, iswspace, 0, ULONG_MAX, 0)
STRTO_C23(c23_wcstoll, long long, wchar_t, wcstoll, iswspace, LLONG_MIN, LLONG_MAX, 1)
STRTO_C23(c23_wcstoull, unsigned long long, wchar_t, wcstoull, iswspace, 0, ULLONG_MAX, 0)

/* strlcpy and friends: copy what fits, always terminate, return the
 * length of what was asked for. */
#define LCPY(NAME, CH, LEN)                                                                     \
    static size_t NAME(CH *dst, const CH *src, size_t size)                                     \
    {                                                                                           \
        size_t n = LEN(src);                                                                    \
        if (size) {                                                                             \
            size_t k = n < size ? n : size - 1;                                                 \
            memcpy(dst, src, k * sizeof(CH));                                                   \
            dst[k] = 0;                                                                         \
        }                                                                                       \
        return n;                                                                               \
    }
#define LCAT(NAME, CPY, CH, LEN)                                                                \
    static size_t NAME(CH *dst, const CH *src, size_t size)                                     \
    {                                                                                           \
        size_t d = 0;                                                                           \
        while (d < size && dst[d])                                                              \
            d++;                                                                                \
        if (d == size)                                                                          \
            return size + LEN(src);                                                             \
        return d + CPY(dst + d, src, size - d);                                                 \
    }
LCPY(shim_strlcpy, char, strlen)
LCPY(shim_wcslcpy, wchar_t, wcslen)
LCAT(shim_strlcat, shim_strlcpy, char, strlen)
LCAT(shim_wcslcat, shim_wcslcpy, wchar_t, wcslen)

static ssize_t shim_getrandom(void *buf, size_t len, unsigned flags)
{
    return syscall(SYS_getrandom, buf, len, flags);
}

static int shim_getentropy(void *buf, size_t len)
{
    if (len > 256) {
        errno = EIO;
        return -1;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = shim_getrandom((char *)buf + done, len - done, 0);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            done += n;
    }
    return 0;
}

static void *shim_reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

static ssize_t shim_copy_file_range(int in, off64_t *inoff, int out, off64_t *outoff, size_t len, unsigned flags)
{
    return syscall(SYS_copy_file_range, in, inoff, out, outoff, len, flags);
}

static int shim_memfd_create(const char *name, unsigned flags)
{
    return syscall(SYS_memfd_create, name, flags);
}

static int shim_mlock2(const void *addr, size_t len, unsigned flags)
{
    return syscall(SYS_mlock2, addr, len, flags);
}

static int shim_pkey_alloc(unsigned flags, unsigned rights)
{
    return syscall(SYS_pkey_alloc, flags, rights);
}

static int shim_pkey_free(int key)
{
    return syscall(SYS_pkey_free, key);
}

static int shim_pkey_mprotect(void *addr, size_t len, int prot, int key)
{
    return syscall(SYS_pkey_mprotect, addr, len, prot, key);
}

static int shim_statx(int dirfd, const char *path, int flags, unsigned mask, void *buf)
{
    return syscall(SYS_statx, dirfd, path, flags, mask, buf);
}

static int shim_renameat2(int olddir, const char *oldpath, int newdir, const char *newpath, unsigned flags)
{
    return syscall(SYS_renameat2, olddir, oldpath, newdir, newpath, flags);
}

static pid_t shim_gettid(void)
{
    return syscall(SYS_gettid);
}

static int shim_tgkill(pid_t tgid, pid_t tid, int sig)
{
    return syscall(SYS_tgkill, tgid, tid, sig);
}

static ssize_t shim_getdents64(int fd, void *buf, size_t len)
{
    return syscall(SYS_getdents64, fd, buf, len);
}

/* Glibc 2.34 made pthread_kill of a thread that has exited but is not yet
 * joined succeed; the old one says ESRCH. */
static int shim_pthread_kill(pthread_t t, int sig)
{
    int r = pthread_kill(t, sig);
    return r == ESRCH ? 0 : r;
}

/* Never 1: the caller would skip the locks other threads rely on. */
static char shim_single_threaded;

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static int shim_close_range(unsigned first, unsigned last, int flags)
{
    return syscall(SYS_close_range, first, last, flags);
}

static void shim_closefrom(int low)
{
    if (shim_close_range(low, ~0u, 0) == 0)
        return;
    struct rlimit rl;
    int high = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < INT_MAX
                   ? (int)rl.rlim_cur
                   : 65536;
    for (int fd = low; fd < high; fd++)
        close(fd);
}

static int shim_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    return syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

static int shim_timespec_getres(struct timespec *ts, int base)
{
    if (base != TIME_UTC)
        return 0;
    if (ts)
        clock_getres(CLOCK_REALTIME, ts);
    return base;
}

/* arc4random: the kernel's generator, which is what glibc 2.36 uses too. */
static void shim_arc4random_buf(void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = shim_getrandom((char *)buf + done, len - done, 0);
        if (n > 0)
            done += n;
        else if (errno != EINTR)
            abort(); /* glibc aborts too: there is no error to return */
    }
}

static uint32_t shim_arc4random(void)
{
    uint32_t v;
    shim_arc4random_buf(&v, sizeof v);
    return v;
}

static uint32_t shim_arc4random_uniform(uint32_t bound)
{
    if (bound < 2)
        return 0;
    /* Rejection sampling: no value is more likely than another. */
    uint32_t floor = -bound % bound, v;
    do
        v = shim_arc4random();
    while (v < floor);
    return v % bound;
}

static void *shim_memset_explicit(void *p, int c, size_t n)
{
    memset(p, c, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* the stores must happen */
    return p;
}

/* C11 threads over pthreads, as glibc implements them. */
static int thrd_status(int err)
{
    return err == 0 ? thrd_success : err == ENOMEM ? thrd_nomem : err == EBUSY ? thrd_busy
           : err == ETIMEDOUT ? thrd_timedout : thrd_error;
}

struct thrd_start {
    thrd_start_t fn;
    void *arg;
};

static void *thrd_trampoline(void *p)
{
    struct thrd_start s = *(struct thrd_start *)p;
    free(p);
    return (void *)(intptr_t)s.fn(s.arg);
}

static int shim_thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
    struct thrd_start *s = malloc(sizeof *s);
    if (!s)
        return thrd_nomem;
    *s = (struct thrd_start){fn, arg};
    int r = pthread_create((pthread_t *)t, NULL, thrd_trampoline, s);
    if (r)
        free(s);
    return thrd_status(r);
}

static thrd_t shim_thrd_current(void)
{
    return pthread_self();
}

static int shim_thrd_detach(thrd_t t)
{
    return thrd_status(pthread_detach(t));
}

static int shim_thrd_equal(thrd_t a, thrd_t b)
{
    return pthread_equal(a, b);
}

static void shim_thrd_exit(int res)
{
    pthread_exit((void *)(intptr_t)res);
}

static int shim_thrd_join(thrd_t t, int *res)
{
    void *v;
    int r = pthread_join(t, &v);
    if (r == 0 && res)
        *res = (int)(intptr_t)v;
    return thrd_status(r);
}

static int shim_thrd_sleep(const struct timespec *d, struct timespec *rem)
{
    if (nanosleep(d, rem) == 0)
        return 0;
    return errno == EINTR ? -1 : -2;
}

static void shim_thrd_yield(void)
{
    sched_yield();
}

static int shim_mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int r = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    return thrd_status(r);
}

static int shim_mtx_lock(mtx_t *m)
{
    return thrd_status(pthread_mutex_lock((pthread_mutex_t *)m));
}

static int shim_mtx_timedlock(mtx_t *m, const struct timespec *t)
{
    return thrd_status(pthread_mutex_timedlock((pthread_mutex_t *)m, t));
}

static int shim_mtx_trylock(mtx_t *m)
{
    return thrd_status(pthread_mutex_trylock((pthread_mutex_t *)m));
}

static int shim_mtx_unlock(mtx_t *m)
{
    return thrd_status(pthread_mutex_unlock((pthread_mutex_t *)m));
}

static void shim_mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

static int shim_cnd_init(cnd_t *c)
{
    return thrd_status(pthread_cond_init((pthread_cond_t *)c, NULL));
}

static int shim_cnd_signal(cnd_t *c)
{
    return thrd_status(pthread_cond_signal((pthread_cond_t *)c));
}

static int shim_cnd_broadcast(cnd_t *c)
{
    return thrd_status(pthread_cond_broadcast((pthread_cond_t *)c));
}

static int shim_cnd_wait(cnd_t *c, mtx_t *m)
{
    return thrd_status(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

static int shim_cnd_timedwait(cnd_t *c, mtx_t *m, const struct timespec *t)
{
    return thrd_status(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, t));
}

static void shim_cnd_destroy(cnd_t *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}

static int shim_tss_create(tss_t *k, tss_dtor_t dtor)
{
    return thrd_status(pthread_key_create((pthread_key_t *)k, dtor));
}

static void *shim_tss_get(tss_t k)
{
    return pthread_getspecific(k);
}

static int shim_tss_set(tss_t k, void *v)
{
    return thrd_status(pthread_setspecific(k, v));
}

static void shim_tss_delete(tss_t k)
{
    pthread_key_delete(k);
}

static void shim_call_once(once_flag *f, void (*fn)(void))
{
    pthread_once((pthread_once_t *)f, fn);
}

static const struct {
    const char *name;
    void *addr;
} shims[] = {
    {"stat", (void *)shim_stat},
    {"stat64", (void *)shim_stat},
    {"lstat", (void *)shim_lstat},
    {"lstat64", (void *)shim_lstat},
    {"fstat", (void *)shim_fstat},
    {"fstat64", (void *)shim_fstat},
    {"fstatat", (void *)shim_fstatat},
    {"fstatat64", (void *)shim_fstatat},
    {"mknod", (void *)shim_mknod},
    {"mknodat", (void *)shim_mknodat},
    {"mallinfo2", (void *)shim_mallinfo2},
    {"__isoc23_strtol", (void *)c23_strtol},
    {"__isoc23_strtoul", (void *)c23_strtoul},
    {"__isoc23_strtoll", (void *)c23_strtoll},
    {"__isoc23_strtoull", (void *)c23_strtoull},
    {"__isoc23_strtoimax", (void *)c23_strtoimax},
    {"__isoc23_strtoumax", (void *)c23_strtoumax},
    {"__isoc23_wcstol", (void *)c23_wcstol},
    {"__isoc23_wcstoul", (void *)c23_wcstoul},
    {"__isoc23_wcstoll", (void *)c23_wcstoll},
    {"__isoc23_wcstoull", (void *)c23_wcstoull},
    {"strlcpy", (void *)shim_strlcpy},
    {"strlcat", (void *)shim_strlcat},
    {"wcslcpy", (void *)shim_wcslcpy},
    {"wcslcat", (void *)shim_wcslcat},
    {"getrandom", (void *)shim_getrandom},
    {"getentropy", (void *)shim_getentropy},
    {"reallocarray", (void *)shim_reallocarray},
    {"copy_file_range", (void *)shim_copy_file_range},
    {"memfd_create", (void *)shim_memfd_create},
    {"mlock2", (void *)shim_mlock2},
    {"pkey_alloc", (void *)shim_pkey_alloc},
    {"pkey_free", (void *)shim_pkey_free},
    {"pkey_mprotect", (void *)shim_pkey_mprotect},
    {"statx", (void *)shim_statx},
    {"renameat2", (void *)shim_renameat2},
    {"gettid", (void *)shim_gettid},
    {"tgkill", (void *)shim_tgkill},
    {"getdents64", (void *)shim_getdents64},
    {"pthread_kill", (void *)shim_pthread_kill},
    {"__libc_single_threaded", (void *)&shim_single_threaded},
    {"close_range", (void *)shim_close_range},
    {"closefrom", (void *)shim_closefrom},
    {"execveat", (void *)shim_execveat},
    {"timespec_getres", (void *)shim_timespec_getres},
    {"arc4random", (void *)shim_arc4random},
    {"arc4random_buf", (void *)shim_arc4random_buf},
    {"arc4random_uniform", (void *)shim_arc4random_uniform},
    {"memset_explicit", (void *)shim_memset_explicit},
    {"thrd_create", (void *)shim_thrd_create},
    {"thrd_current", (void *)shim_thrd_current},
    {"thrd_detach", (void *)shim_thrd_detach},
    {"thrd_equal", (void *)shim_thrd_equal},
    {"thrd_exit", (void *)shim_thrd_exit},
    {"thrd_join", (void *)shim_thrd_join},
    {"thrd_sleep", (void *)shim_thrd_sleep},
    {"thrd_yield", (void *)shim_thrd_yield},
    {"mtx_init", (void *)shim_mtx_init},
    {"mtx_lock", (void *)shim_mtx_lock},
    {"mtx_timedlock", (void *)shim_mtx_timedlock},
    {"mtx_trylock", (void *)shim_mtx_trylock},
    {"mtx_unlock", (void *)shim_mtx_unlock},
    {"mtx_destroy", (void *)shim_mtx_destroy},
    {"cnd_init", (void *)shim_cnd_init},
    {"cnd_signal", (void *)shim_cnd_signal},
    {"cnd_broadcast", (void *)shim_cnd_broadcast},
    {"cnd_wait", (void *)shim_cnd_wait},
    {"cnd_timedwait", (void *)shim_cnd_timedwait},
    {"cnd_destroy", (void *)shim_cnd_destroy},
    {"tss_create", (void *)shim_tss_create},
    {"tss_get", (void *)shim_tss_get},
    {"tss_set", (void *)shim_tss_set},
    {"tss_delete", (void *)shim_tss_delete},
    {"call_once", (void *)shim_call_once},
};

void *find_shim(const char *name)
{
    for (size_t i = 0; i < sizeof shims / sizeof shims[0]; i++)
        if (strcmp(shims[i].name, name) == 0)
            return shims[i].addr;
    return NULL;
}
