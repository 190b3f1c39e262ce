/* Reloading, snapshots, loads from memory, and unloading: ldr_reload with
 * an unchanged, a changed and a broken file, slots (ldr_bind) and hooks
 * (ldr_on_reload), an in-place rewrite under LDR_SNAPSHOT, ldr_open_mem,
 * an initializer that calls ldr_open, a thread_local destructor that keeps
 * its module mapped, DF_1_NODELETE, and threads hammering all of it.
 *
 * A reloaded plugin lives in a scratch directory of its own, where the
 * tests replace it as a build would: a new file renamed over the old one
 * (a new inode), or, under LDR_SNAPSHOT, new bytes written into the same
 * file. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ldr.h>

#include "fixtures/rl_host.h"
#include "fixtures/testutil.h"

typedef int intfn(void);

/* What the fixtures call (exported: the program links with -rdynamic). */
char rl_log[4096];
int rl_inits, rl_finis;
const char *rl_open_path;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void rl_note(const char *what)
{
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(rl_log);
    snprintf(rl_log + n, sizeof rl_log - n, "%s,", what);
    pthread_mutex_unlock(&log_lock);
}

/* ---- files ---- */

static char scratch_dir[4096];

/* A fresh, empty directory under the build tree for this test. */
static const char *scratch(void)
{
    const char *top = getenv("LDR_BUILD");
    ck_assert_ptr_nonnull(top);
    snprintf(scratch_dir, sizeof scratch_dir, "%s/tests/build/rl-scratch-XXXXXX", top);
    ck_assert_ptr_nonnull(mkdtemp(scratch_dir));
    return scratch_dir;
}

static void scratch_remove(void)
{
    DIR *d = opendir(scratch_dir);
    struct dirent *e;
    char p[8192];
    if (!d)
        return;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", scratch_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(scratch_dir);
}

static char *in_scratch(const char *name)
{
    char *p;
    ck_assert_int_ne(asprintf(&p, "%s/%s", scratch_dir, name), -1);
    return p;
}

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_gt(n, 0);
    rewind(f);
    void *buf = malloc((size_t)n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Writes LEN bytes of DATA into PATH with FLAGS (O_TRUNC: same inode). */
static void write_bytes(const char *path, int flags, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | flags, 0755);
    ck_assert_msg(fd >= 0, "cannot open %s for writing", path);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        ck_assert_int_gt(n, 0);
        done += (size_t)n;
    }
    ck_assert_int_eq(close(fd), 0);
}

/* Puts the first LEN bytes of fixture FROM (all if LEN is 0) at DEST the
 * way a linker does: a new file, renamed over the old one. */
static void install(const char *from, const char *dest, size_t len)
{
    size_t size;
    void *data = read_file(fixture(from), &size);
    char *tmp;
    ck_assert_int_ne(asprintf(&tmp, "%s.new", dest), -1);
    write_bytes(tmp, O_CREAT | O_TRUNC, data, len && len < size ? len : size);
    ck_assert_int_eq(rename(tmp, dest), 0);
    free(tmp);
    free(data);
}

/* Rewrites DEST in place with fixture FROM: same inode, new bytes. */
static void rewrite_in_place(const char *from, const char *dest)
{
    size_t size;
    void *data = read_file(fixture(from), &size);
    write_bytes(dest, O_TRUNC, data, size);
    free(data);
}

/* Moves the time stamps of PATH forward without touching its content. */
static void touch(const char *path)
{
    struct timespec t[2];
    ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &t[0]), 0);
    t[0].tv_sec += 5;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* ---- modules ---- */

struct range {
    uintptr_t start;
    size_t size;
};

static struct range range_of(ldr_module *m)
{
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    /* The reservation starts at the load bias for these fixtures (their
     * first segment is at 0). */
    return (struct range){info.base, info.size};
}

static int range_mapped(struct range r)
{
    return pages_mapped(r.start, r.size) == pages_in(r.start, r.size);
}

/* Every page of R is gone: mincore and msync both answer ENOMEM (valgrind
 * reports an msync of unmapped memory as an error: mincore only there). */
static void assert_unmapped(struct range r)
{
    ck_assert_uint_eq(pages_mapped(r.start, r.size), 0);
    if (getenv("LDR_UNDER_VALGRIND"))
        return;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    errno = 0;
    ck_assert_int_eq(msync((void *)(r.start & ~(uintptr_t)(pg - 1)), pg, MS_ASYNC), -1);
    ck_assert_int_eq(errno, ENOMEM);
}

static int hook_calls;
static ldr_module *hook_handle;

static void on_reload(ldr_module *m, void *arg)
{
    hook_calls++;
    hook_handle = m;
    ck_assert_ptr_eq(arg, &hook_calls);
    rl_note("hook");
}

/* The error of the last call, which must mention every one of WANT. */
static void assert_error(const char *what, const char *want1, const char *want2)
{
    const char *e = ldr_error();
    ck_assert_msg(e != NULL, "%s: no error message", what);
    ck_assert_msg(strstr(e, want1) != NULL, "%s: \"%s\" does not mention \"%s\"", what, e, want1);
    ck_assert_msg(!want2 || strstr(e, want2) != NULL, "%s: \"%s\" does not mention \"%s\"", what, e,
                  want2);
}

/* ---- reload ---- */

START_TEST(test_reload_unchanged)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    /* A snapshot is hashed at load: even a touch before any reload is
     * judged by the content. */
    ldr_module *s = open_ok(path, LDR_SNAPSHOT);
    touch(path);
    ck_assert_int_eq(ldr_reload(s, 0), 0);
    ck_assert_int_eq(ldr_close(s), 0);
    rl_log[0] = '\0';
    /* Otherwise the first reload hashes what is there, while the time
     * stamps still vouch for it; after that the content decides. */
    ldr_module *m = open_ok(path, 0);
    struct range r = range_of(m);
    ck_assert_int_eq(ldr_reload(m, 0), 0);
    touch(path);
    ck_assert_int_eq(ldr_reload(m, 0), 0);
    ck_assert_int_eq(ldr_reload(m, 0), 0);
    /* The same bytes in a new file (a new inode) are still unchanged. */
    install("librl_v1.so", path, 0);
    touch(path);
    ck_assert_int_eq(ldr_reload(m, 0), 0);
    ck_assert_str_eq(rl_log, "init:1,");
    ck_assert_uint_eq(range_of(m).start, r.start);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 1);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert_str_eq(rl_log, "init:1,fini:1,");
    assert_unmapped(r);
    free(path);
    scratch_remove();
}
END_TEST

START_TEST(test_reload_changed)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    ldr_module *m = open_ok(path, 0);
    void *version = NULL, *only_v1 = NULL, *absent = (void *)1;
    ck_assert_int_eq(ldr_bind(m, "rl_version", &version), 0);
    ck_assert_int_eq(ldr_bind(m, "rl_only_v1", &only_v1), 0);
    ck_assert_int_eq(ldr_bind(m, "rl_nowhere", &absent), 0);
    ck_assert_int_eq(ldr_on_reload(m, on_reload, &hook_calls), 0);
    ck_assert_ptr_eq(version, sym_ok(m, "rl_version"));
    ck_assert_ptr_nonnull(only_v1);
    ck_assert_ptr_null(absent);
    ck_assert_int_eq(((intfn *)version)(), 1);
    intfn *count_old = (intfn *)sym_ok(m, "rl_count");
    ck_assert_int_eq(count_old(), 1001);
    struct range old = range_of(m);
    void *old_version = version;

    install("librl_v2.so", path, 0);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    /* Old finalizer, then new initializer, then the hook (once). */
    ck_assert_str_eq(rl_log, "init:1,fini:1,init:2,hook,");
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_ptr_eq(hook_handle, m);
    /* The slots follow; one the new file does not export is NULL. */
    ck_assert_ptr_ne(version, old_version);
    ck_assert_ptr_eq(version, sym_ok(m, "rl_version"));
    ck_assert_int_eq(((intfn *)version)(), 2);
    ck_assert_ptr_null(only_v1);
    ck_assert_ptr_null(ldr_sym(m, "rl_only_v1"));
    ck_assert_ptr_nonnull(ldr_error());
    ck_assert_ptr_null(absent);
    /* Fresh data: the new module's counter starts over. */
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_count"))(), 2001);
    /* The old image is gone. */
    assert_unmapped(old);
    struct range now = range_of(m);
    ck_assert_uint_ne(now.start, old.start);
    ck_assert(range_mapped(now));
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    ck_assert_uint_eq(info.refs, 1);
    ck_assert_str_eq(info.path, path);

    /* Unchanged now; then back to version 1. */
    ck_assert_int_eq(ldr_reload(m, 0), 0);
    install("librl_v1.so", path, 0);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_int_eq(hook_calls, 2);
    ck_assert_int_eq(((intfn *)version)(), 1);
    ck_assert_ptr_nonnull(only_v1);
    ck_assert_int_eq(((intfn *)only_v1)(), 1);
    assert_unmapped(now);

    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert_str_eq(rl_log, "init:1,fini:1,init:2,hook,fini:2,init:1,hook,fini:1,");
    ck_assert_int_eq(rl_inits, 3);
    ck_assert_int_eq(rl_finis, 3);
    ck_assert_int_eq(maps_lines(scratch_dir), 0);
    free(path);
    scratch_remove();
}
END_TEST

/* A reload that fails leaves the old module running, untouched. */
static void check_broken(const char *broken, size_t len, const char *reason)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    ldr_module *m = open_ok(path, 0);
    void *version = NULL;
    ck_assert_int_eq(ldr_bind(m, "rl_version", &version), 0);
    ck_assert_int_eq(ldr_on_reload(m, on_reload, &hook_calls), 0);
    intfn *count = (intfn *)sym_ok(m, "rl_count");
    ck_assert_int_eq(count(), 1001);
    struct range r = range_of(m);
    int lines = maps_lines(NULL), file_lines = maps_lines(scratch_dir);

    install(broken, path, len);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ldr_reload(m, 0), -1);
        assert_error("broken reload", path, reason);
        ck_assert_str_eq(rl_log, "init:1,");
        ck_assert_int_eq(hook_calls, 0);
        ck_assert_ptr_eq(version, sym_ok(m, "rl_version"));
        ck_assert_int_eq(((intfn *)version)(), 1);
        ck_assert_int_eq(count(), 1002 + i); /* its data is untouched too */
        ck_assert(range_mapped(r));
        ck_assert_uint_eq(range_of(m).start, r.start);
        /* The failed load left nothing mapped behind (valgrind's own
         * mappings come and go: there, only the file's are counted). */
        ck_assert_int_eq(maps_lines(scratch_dir), file_lines);
        if (!getenv("LDR_UNDER_VALGRIND"))
            ck_assert_int_eq(maps_lines(NULL), lines);
    }

    install("librl_v2.so", path, 0);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_str_eq(rl_log, "init:1,fini:1,init:2,hook,");
    ck_assert_int_eq(((intfn *)version)(), 2);
    assert_unmapped(r);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert_int_eq(maps_lines(scratch_dir), 0);
    free(path);
    scratch_remove();
}

START_TEST(test_reload_truncated)
{
    check_broken("librl_v2.so", 3000, "trunc");
}
END_TEST

START_TEST(test_reload_missing_symbol)
{
    check_broken("librl_broken.so", 0, "rl_missing_function");
}
END_TEST

START_TEST(test_reload_vanished)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    ldr_module *m = open_ok(path, 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(ldr_reload(m, 0), -1);
    assert_error("reload of a deleted file", path, NULL);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 1);
    install("librl_v2.so", path, 0);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 2);
    ck_assert_int_eq(ldr_close(m), 0);
    free(path);
    scratch_remove();
}
END_TEST

/* Two ldr_open of the file share one handle; a reload moves both. */
START_TEST(test_reload_shared_handle)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    ldr_module *a = open_ok(path, 0);
    ldr_module *b = open_ok(path, 0);
    ck_assert_ptr_eq(a, b);
    install("librl_v2.so", path, 0);
    ck_assert_int_eq(ldr_reload(a, 0), 1);
    ck_assert_int_eq(((intfn *)sym_ok(b, "rl_version"))(), 2);
    /* Opening the path again finds the reloaded module. */
    ldr_module *c = open_ok(path, 0);
    ck_assert_ptr_eq(c, a);
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(a, &info), 0);
    ck_assert_uint_eq(info.refs, 3);
    struct range r = range_of(a);
    ck_assert_int_eq(ldr_close(a), 0);
    ck_assert_int_eq(ldr_close(b), 0);
    ck_assert(range_mapped(r));
    ck_assert_int_eq(((intfn *)sym_ok(c, "rl_version"))(), 2);
    ck_assert_int_eq(ldr_close(c), 0);
    assert_unmapped(r);
    ck_assert_int_eq(ldr_close(c), -1); /* each handle is closed once */
    ck_assert_ptr_nonnull(ldr_error());
    ck_assert_int_eq(ldr_reload(c, 0), -1);
    assert_error("reload of a closed handle", "invalid module handle", NULL);
    ck_assert_str_eq(rl_log, "init:1,fini:1,init:2,fini:2,");
    free(path);
    scratch_remove();
}
END_TEST

/* ---- LDR_SNAPSHOT ---- */

START_TEST(test_snapshot_rewrite_in_place)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    ldr_module *m = open_ok(path, LDR_SNAPSHOT);
    /* The image comes from a private copy, not from the file. */
    ck_assert_int_gt(maps_lines("memfd:librl.so"), 0);
    ck_assert_int_eq(maps_lines(scratch_dir), 0);
    void *version = NULL;
    ck_assert_int_eq(ldr_bind(m, "rl_version", &version), 0);
    intfn *count = (intfn *)sym_ok(m, "rl_count");
    struct range old = range_of(m);

    /* What cp over the file does: same inode, new bytes. */
    rewrite_in_place("librl_v2.so", path);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_uint_eq(after.st_ino, before.st_ino);
    /* Loaded code and data are as they were. */
    ck_assert_int_eq(((intfn *)version)(), 1);
    ck_assert_int_eq(count(), 1001);
    ck_assert_int_eq(count(), 1002);
    /* The same path opened again is still this module. */
    ldr_module *again = open_ok(path, 0);
    ck_assert_ptr_eq(again, m);
    ck_assert_int_eq(ldr_close(again), 0);

    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_int_eq(((intfn *)version)(), 2);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_count"))(), 2001);
    ck_assert_str_eq(rl_log, "init:1,fini:1,init:2,");
    assert_unmapped(old);
    /* The reloaded module is a snapshot too: rewrite it once more. */
    ck_assert_int_gt(maps_lines("memfd:librl.so"), 0);
    rewrite_in_place("librl_v1.so", path);
    ck_assert_int_eq(((intfn *)version)(), 2);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_int_eq(((intfn *)version)(), 1);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert_int_eq(maps_lines("memfd:librl.so"), 0);
    free(path);
    scratch_remove();
}
END_TEST

/* LDR_SNAPSHOT given to ldr_reload: the next module is a private copy. */
START_TEST(test_snapshot_on_reload)
{
    scratch();
    char *path = in_scratch("librl.so");
    install("librl_v1.so", path, 0);
    ldr_module *m = open_ok(path, 0);
    ck_assert_int_gt(maps_lines(scratch_dir), 0);
    install("librl_v2.so", path, 0);
    ck_assert_int_eq(ldr_reload(m, LDR_SNAPSHOT), 1);
    ck_assert_int_eq(maps_lines(scratch_dir), 0);
    ck_assert_int_gt(maps_lines("memfd:librl.so"), 0);
    rewrite_in_place("librl_v1.so", path);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 2);
    ck_assert_int_eq(ldr_reload(m, 0), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 1);
    ck_assert_int_eq(ldr_close(m), 0);
    free(path);
    scratch_remove();
}
END_TEST

/* ---- ldr_open_mem ---- */

START_TEST(test_open_mem)
{
    size_t size;
    void *image = read_file(fixture("librl_v1.so"), &size);
    ldr_module *m = ldr_open_mem("rl-mem-plugin", image, size, 0);
    ck_assert_msg(m != NULL, "ldr_open_mem: %s", ldr_error());
    /* The caller's buffer is not needed once the call returns. */
    memset(image, 0, size);
    free(image);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_count"))(), 1001);
    ck_assert_int_gt(maps_lines("memfd:rl-mem-plugin"), 0);
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    ck_assert_str_eq(info.path, "rl-mem-plugin");
    Dl_info dl;
    ck_assert_int_eq(ldr_addr(sym_ok(m, "rl_version"), &dl), 1);
    ck_assert_str_eq(dl.dli_sname, "rl_version");
    ck_assert_int_eq(ldr_reload(m, 0), -1);
    assert_error("reload from memory", "rl-mem-plugin", "memory");
    ck_assert_int_eq(((intfn *)sym_ok(m, "rl_version"))(), 1);
    struct range r = range_of(m);
    ck_assert_int_eq(ldr_close(m), 0);
    assert_unmapped(r);
    ck_assert_int_eq(maps_lines("memfd:rl-mem-plugin"), 0);
    ck_assert_str_eq(rl_log, "init:1,fini:1,");
}
END_TEST

START_TEST(test_open_mem_bad)
{
    static const char junk[] = "this is not an ELF file, not even close to one";
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    while (readdir(d))
        fds++;
    closedir(d);
    ck_assert_ptr_null(ldr_open_mem("rl-junk", junk, sizeof junk, 0));
    assert_error("junk from memory", "rl-junk", NULL);
    size_t size;
    void *image = read_file(fixture("librl_v1.so"), &size);
    ck_assert_ptr_null(ldr_open_mem("rl-half", image, size / 2, 0));
    assert_error("half an image from memory", "rl-half", NULL);
    free(image);
    ck_assert_ptr_null(ldr_open_mem(NULL, junk, sizeof junk, 0));
    ck_assert_ptr_nonnull(ldr_error());
    ck_assert_int_eq(maps_lines("memfd:rl-"), 0);
    int now = 0;
    d = opendir("/proc/self/fd");
    while (readdir(d))
        now++;
    closedir(d);
    ck_assert_int_eq(now, fds);
}
END_TEST

/* ---- initializers, thread_local destructors, NODELETE ---- */

START_TEST(test_init_opens)
{
    rl_open_path = fixture("librl_v2.so");
    ldr_module *m = open_ok(fixture("librl_opener.so"), 0);
    ck_assert_str_eq(rl_log, "init:2,opener:opened,");
    ck_assert_int_eq(((intfn *)sym_ok(m, "opener_inner_version"))(), 2);
    ck_assert_int_gt(maps_lines("librl_v2.so"), 0);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert_str_eq(rl_log, "init:2,opener:opened,fini:2,opener:closed,");
    ck_assert_int_eq(maps_lines("librl_v2.so"), 0);
    ck_assert_int_eq(maps_lines("librl_opener.so"), 0);
}
END_TEST

static pthread_barrier_t touched, release;
static ldr_module *tls_mod;

static void *tls_thread(void *arg)
{
    (void)arg;
    int (*touch_fn)(int) = (int (*)(int))ldr_sym(tls_mod, "rl_tls_touch");
    int v = touch_fn ? touch_fn(7) : -1;
    pthread_barrier_wait(&touched);
    pthread_barrier_wait(&release);
    return (void *)(intptr_t)v;
}

START_TEST(test_thread_dtor_keeps_mapped)
{
    tls_mod = open_ok(fixture("librl_tls.so"), 0);
    struct range r = range_of(tls_mod);
    pthread_t t;
    ck_assert_int_eq(pthread_barrier_init(&touched, NULL, 2), 0);
    ck_assert_int_eq(pthread_barrier_init(&release, NULL, 2), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, tls_thread, NULL), 0);
    pthread_barrier_wait(&touched);
    /* The thread owes the module a destructor: closing keeps it mapped. */
    ck_assert_int_eq(ldr_close(tls_mod), 0);
    ck_assert(range_mapped(r));
    ck_assert_str_eq(rl_log, "");
    pthread_barrier_wait(&release);
    void *v;
    ck_assert_int_eq(pthread_join(t, &v), 0);
    ck_assert_int_eq((int)(intptr_t)v, 7);
    /* The destructor ran at the thread's exit, then the module went. */
    ck_assert_str_eq(rl_log, "tls-dtor,");
    assert_unmapped(r);
    ck_assert_int_eq(maps_lines("librl_tls.so"), 0);
}
END_TEST

START_TEST(test_nodelete)
{
    ldr_module *m = open_ok(fixture("librl_nodelete.so"), 0);
    intfn *value = (intfn *)sym_ok(m, "rl_nodelete_value");
    struct range r = range_of(m);
    ck_assert_int_eq(ldr_close(m), 0);
    ck_assert(range_mapped(r));
    ck_assert_int_eq(value(), 42);
    /* Opened again, it is the same module at the same place. */
    m = open_ok(fixture("librl_nodelete.so"), 0);
    ck_assert_uint_eq(range_of(m).start, r.start);
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

/* ---- threads ---- */

#define HAMMER_THREADS 8
#define HAMMER_SECONDS 3

/* Two plugins, P (versions 1 and 2) and Q (11 and 12). Six threads open
 * one, look a function up, call it and close it, over and over; two hold
 * a handle each and swap their plugin's file and reload it. A reload
 * replaces code other threads might be running, so the callers hold a
 * read lock from ldr_sym to the end of the call and the reloaders a write
 * lock around ldr_reload alone: ldr_open and ldr_close run freely beside
 * every reload. */
static pthread_rwlock_t code_lock; /* writers first: see test_threads_hammer */
static char *plugin_path[2];
static const char *plugin_fixture[2][2] = {{"librl_v1.so", "librl_v2.so"},
                                           {"librl_q1.so", "librl_q2.so"}};
static const int plugin_value[2][2] = {{1, 2}, {11, 12}};
static volatile int hammer_stop;
static int hammer_hooks[2];

struct hammer {
    int id;
    long calls, opens, reloads, unchanged;
    char failure[512];
};

#define EXPECT(job, cond, ...)                                                \
    do {                                                                      \
        if (!(cond)) {                                                        \
            snprintf((job)->failure, sizeof(job)->failure, __VA_ARGS__);      \
            return NULL;                                                      \
        }                                                                     \
    } while (0)

static void count_hook(ldr_module *m, void *arg)
{
    (void)m;
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

static void *hammer_user(void *arg)
{
    struct hammer *job = arg;
    unsigned seed = (unsigned)job->id * 7919u;
    while (!__atomic_load_n(&hammer_stop, __ATOMIC_ACQUIRE)) {
        int k = (int)(rand_r(&seed) % 2);
        ldr_module *m = ldr_open(plugin_path[k], 0);
        EXPECT(job, m != NULL, "ldr_open(%s): %s", plugin_path[k], ldr_error());
        job->opens++;
        for (int i = 0; i < 4; i++) {
            pthread_rwlock_rdlock(&code_lock);
            intfn *version = (intfn *)ldr_sym(m, "rl_version");
            intfn *count = (intfn *)ldr_sym(m, "rl_count");
            int v = version ? version() : -1;
            int c = count ? count() : -1;
            pthread_rwlock_unlock(&code_lock);
            EXPECT(job, v == plugin_value[k][0] || v == plugin_value[k][1],
                   "plugin %d answered version %d", k, v);
            EXPECT(job, c > v * 1000 && c - v * 1000 < 100000000, "plugin %d counted %d", k, c);
            job->calls++;
        }
        EXPECT(job, ldr_close(m) == 0, "ldr_close: %s", ldr_error());
    }
    return NULL;
}

static void *hammer_reloader(void *arg)
{
    struct hammer *job = arg;
    int k = job->id - (HAMMER_THREADS - 2);
    ldr_module *m = ldr_open(plugin_path[k], 0);
    EXPECT(job, m != NULL, "ldr_open(%s): %s", plugin_path[k], ldr_error());
    EXPECT(job, ldr_on_reload(m, count_hook, &hammer_hooks[k]) == 0, "ldr_on_reload: %s", ldr_error());
    int which = 0;
    while (!__atomic_load_n(&hammer_stop, __ATOMIC_ACQUIRE)) {
        which = !which;
        /* Nothing in ldr is locked while the file changes. */
        install(plugin_fixture[k][which], plugin_path[k], 0);
        pthread_rwlock_wrlock(&code_lock);
        int r = ldr_reload(m, 0);
        const char *e = r < 0 ? ldr_error() : NULL;
        pthread_rwlock_unlock(&code_lock);
        EXPECT(job, r == 1, "ldr_reload of %s returned %d: %s", plugin_path[k], r, e ? e : "");
        job->reloads++;
        /* Unchanged right after: the hash says so. */
        EXPECT(job, ldr_reload(m, 0) == 0, "second ldr_reload did something");
        job->unchanged++;
        pthread_rwlock_rdlock(&code_lock);
        intfn *version = (intfn *)ldr_sym(m, "rl_version");
        int v = version ? version() : -1;
        pthread_rwlock_unlock(&code_lock);
        EXPECT(job, v == plugin_value[k][which], "after reload: version %d, not %d", v,
               plugin_value[k][which]);
        usleep(1000);
    }
    EXPECT(job, ldr_close(m) == 0, "ldr_close: %s", ldr_error());
    return NULL;
}

START_TEST(test_threads_hammer)
{
    scratch();
    plugin_path[0] = in_scratch("librl_p.so");
    plugin_path[1] = in_scratch("librl_q.so");
    install(plugin_fixture[0][0], plugin_path[0], 0);
    install(plugin_fixture[1][0], plugin_path[1], 0);
    /* Six readers would starve the reloaders under the default policy. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    ck_assert_int_eq(pthread_rwlock_init(&code_lock, &attr), 0);
    pthread_rwlockattr_destroy(&attr);
    pthread_t t[HAMMER_THREADS];
    struct hammer jobs[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        jobs[i] = (struct hammer){.id = i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, i < HAMMER_THREADS - 2 ? hammer_user : hammer_reloader,
                                        &jobs[i]), 0);
    }
    sleep(HAMMER_SECONDS);
    __atomic_store_n(&hammer_stop, 1, __ATOMIC_RELEASE);
    long calls = 0, opens = 0, reloads = 0;
    for (int i = 0; i < HAMMER_THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
        calls += jobs[i].calls;
        opens += jobs[i].opens;
        reloads += jobs[i].reloads;
    }
    fprintf(stderr, "hammer: %ld opens, %ld calls, %ld reloads in %d s\n", opens, calls, reloads,
            HAMMER_SECONDS);
    /* Valgrind runs it all some twenty times slower. */
    ck_assert_int_gt(opens, getenv("LDR_UNDER_VALGRIND") ? 10 : 1000);
    ck_assert_int_gt(reloads, getenv("LDR_UNDER_VALGRIND") ? 1 : 20);
    /* One hook call per successful reload, no more, no less. */
    ck_assert_int_eq(hammer_hooks[0], jobs[HAMMER_THREADS - 2].reloads);
    ck_assert_int_eq(hammer_hooks[1], jobs[HAMMER_THREADS - 1].reloads);
    /* Everything closed: every initializer had its finalizer, and nothing
     * of either plugin is mapped. */
    ck_assert_int_eq(rl_inits, rl_finis);
    ck_assert_int_gt(rl_inits, reloads);
    ck_assert_int_eq(maps_lines(scratch_dir), 0);
    free(plugin_path[0]);
    free(plugin_path[1]);
    scratch_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reload");
    tcase_add_test(tc, test_reload_unchanged);
    tcase_add_test(tc, test_reload_changed);
    tcase_add_test(tc, test_reload_truncated);
    tcase_add_test(tc, test_reload_missing_symbol);
    tcase_add_test(tc, test_reload_vanished);
    tcase_add_test(tc, test_reload_shared_handle);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshot");
    tcase_add_test(tc, test_snapshot_rewrite_in_place);
    tcase_add_test(tc, test_snapshot_on_reload);
    tcase_add_test(tc, test_open_mem);
    tcase_add_test(tc, test_open_mem_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_test(tc, test_init_opens);
    tcase_add_test(tc, test_thread_dtor_keeps_mapped);
    tcase_add_test(tc, test_nodelete);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_threads_hammer);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
