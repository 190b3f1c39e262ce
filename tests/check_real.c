/* Real libraries that Debian installs, loaded by ldr and used through
 * ldr_sym(). This program links none of them (see tests/loader.mk), so
 * each one is ldr's work; headers are not included either, the few types
 * needed are declared here. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldr.h>

#include "fixtures/testutil.h"


NO_LEAK_REPORT("CPython does not free everything in Py_FinalizeEx")

#define LIBDIR "/usr/lib/x86_64-linux-gnu/"

static ldr_module *open_lib(const char *path)
{
    /* The host must not have it already, or ldr would merely reuse it. */
    ck_assert_msg(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL, "%s is already loaded", path);
    ldr_module *m = ldr_open(path, 0);
    ck_assert_msg(m != NULL, "ldr_open(%s): %s", path, ldr_error());
    return m;
}

/* Some compressible bytes that are not all alike. */
static void make_input(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)("ldr loads plugins. "[i % 19] ^ (i / 97 % 3));
}

typedef int z_compress(unsigned char *dst, unsigned long *dlen, const unsigned char *src,
                       unsigned long slen);
typedef unsigned long z_bound(unsigned long);
#define INPUT_SIZE 6000

/* Compresses the input with a dlopen'd zlib in a child process and returns
 * the result, for comparison with ldr's copy. */
static size_t compress_in_child(unsigned char *out, size_t cap)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        unsigned char in[INPUT_SIZE], buf[2 * INPUT_SIZE];
        unsigned long len = sizeof buf;
        void *h = dlopen(LIBDIR "libz.so.1", RTLD_NOW);
        make_input(in, sizeof in);
        if (!h || ((z_compress *)dlsym(h, "compress"))(buf, &len, in, sizeof in) != 0)
            _exit(1);
        if (write(fd[1], buf, len) != (ssize_t)len)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], out + n, cap - n)) > 0)
        n += (size_t)r;
    close(fd[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dlopen'd zlib failed");
    return n;
}

START_TEST(test_zlib)
{
    ldr_module *m = open_lib(LIBDIR "libz.so.1");
    z_compress *compress = (z_compress *)sym_ok(m, "compress");
    z_compress *uncompress = (z_compress *)sym_ok(m, "uncompress");
    z_bound *bound = (z_bound *)sym_ok(m, "compressBound");

    static unsigned char in[INPUT_SIZE], packed[2 * INPUT_SIZE], back[INPUT_SIZE + 16];
    static unsigned char theirs[2 * INPUT_SIZE];
    make_input(in, sizeof in);
    unsigned long plen = sizeof packed, blen = sizeof back;
    ck_assert_uint_le(bound(sizeof in), sizeof packed);
    ck_assert_int_eq(compress(packed, &plen, in, sizeof in), 0);
    ck_assert_uint_lt(plen, sizeof in / 4);
    ck_assert_int_eq(uncompress(back, &blen, packed, plen), 0);
    ck_assert_uint_eq(blen, sizeof in);
    ck_assert_mem_eq(back, in, sizeof in);

    /* Byte for byte what the system loader's zlib produces. */
    size_t tlen = compress_in_child(theirs, sizeof theirs);
    ck_assert_uint_eq(tlen, plen);
    ck_assert_mem_eq(theirs, packed, plen);
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

/* For each of the N pages from LO, whether this process's page table maps
 * it in (bit 63 of its /proc/self/pagemap entry). */
static void present_pages(uintptr_t lo, size_t n, bool *out)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    uint64_t entry;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(pread(fd, &entry, sizeof entry, (off_t)((lo / 4096 + i) * sizeof entry)), sizeof entry);
        out[i] = entry >> 63;
    }
    close(fd);
}

/* A load touches no page of the image that the system loader's load of
 * the same file does not. What is resident shows it only up to the
 * kernel's fault-around: a fault maps the cached pages of its 64 KiB
 * window too, those unlocked at that moment, so that counts move from
 * load to load (the system loader's zlib: 28 to 84 KiB resident). A page
 * resident under ldr and not under the system loader is accounted for
 * when its window (at ldr's addresses) holds a page resident under the
 * system loader: mapped around a page both touched. Not in a process
 * that has libgcc_s (the sanitizer build's runtime brings it): there ldr
 * registers each module's unwind tables at load, and libgcc reads them
 * (README, "Performance"). */
static const char *const resident_libs[] = {LIBDIR "libz.so.1", LIBDIR "libsqlite3.so.0"};

START_TEST(test_resident_like_system_loader)
{
    const char *path = resident_libs[_i];
    if (dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD)) {
        fprintf(stderr, "test_resident_like_system_loader: libgcc_s is loaded, unwind tables register at load: skipped\n");
        return;
    }
    cache_file(path);
    ldr_module *m = open_lib(path);
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    ck_assert_uint_eq(info.base % 4096, 0); /* both libraries' images begin at address 0 */
    size_t n = info.size / 4096;
    bool *ldr_has = calloc(n, 1), *dl_has = calloc(n, 1);
    ck_assert(ldr_has && dl_has);
    present_pages(info.base, n, ldr_has);
    /* Each page's mapping, which the kernel's window does not leave. */
    size_t *map_from = calloc(n, sizeof *map_from), *map_to = calloc(n, sizeof *map_to);
    ck_assert(map_from && map_to);
    FILE *maps = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(maps);
    char line[512];
    unsigned long start, end;
    while (fgets(line, sizeof line, maps))
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && end > info.base && start < info.base + info.size)
            for (uintptr_t a = start < info.base ? info.base : start; a < end && a < info.base + info.size; a += 4096) {
                map_from[(a - info.base) / 4096] = (start < info.base ? info.base : start) - info.base;
                map_to[(a - info.base) / 4096] = (end > info.base + info.size ? info.base + info.size : end) - info.base;
            }
    fclose(maps);
    ck_assert_int_eq(ldr_close(m), 0);

    cache_file(path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    struct link_map *lm;
    ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
    present_pages(lm->l_addr, n, dl_has);
    dlclose(h);

    size_t ldr_pages = 0, dl_pages = 0, stray = 0, first_stray = 0;
    for (size_t p = 0; p < n; p++) {
        ldr_pages += ldr_has[p];
        dl_pages += dl_has[p];
        if (!ldr_has[p] || dl_has[p])
            continue;
        /* The window of the page (offsets from the image's start), within
         * its mapping. */
        uintptr_t at = info.base + p * 4096, window = at & ~(uintptr_t)0xffff;
        size_t from = window < info.base ? 0 : window - info.base, to = window + 0x10000 - info.base;
        from = from > map_from[p] ? from : map_from[p];
        to = to < map_to[p] ? to : map_to[p];
        bool shared = false;
        for (size_t q = from / 4096; q < to / 4096; q++)
            shared |= dl_has[q];
        if (!shared && stray++ == 0)
            first_stray = p;
    }
    free(ldr_has);
    free(dl_has);
    free(map_from);
    free(map_to);
    ck_assert_msg(stray == 0,
                  "%s: %zu pages resident under ldr where the system loader touched nothing near, the first at +%#zx "
                  "(resident: %zu pages under ldr, %zu under the system loader)",
                  path, stray, first_stray * 4096, ldr_pages, dl_pages);
}
END_TEST

typedef int sql_cb(void *, int, char **, char **);
typedef int sql_open(const char *, void **);
typedef int sql_exec(void *, const char *, sql_cb *, void *, char **);
typedef int sql_prepare(void *, const char *, int, void **, const char **);
typedef int sql_step(void *);
typedef long long sql_int64(void *, int);
typedef const unsigned char *sql_text(void *, int);
typedef int sql_close(void *);
#define SQLITE_ROW 100
#define SQLITE_DONE 101

/* Concatenates the rows' first column, comma separated. */
static int collect(void *arg, int n, char **vals, char **names)
{
    (void)names;
    ck_assert_int_eq(n, 1);
    strcat(arg, vals[0]);
    strcat(arg, ",");
    return 0;
}

START_TEST(test_sqlite)
{
    ldr_module *m = open_lib(LIBDIR "libsqlite3.so.0");
    sql_open *open = (sql_open *)sym_ok(m, "sqlite3_open");
    sql_exec *exec = (sql_exec *)sym_ok(m, "sqlite3_exec");
    sql_prepare *prepare = (sql_prepare *)sym_ok(m, "sqlite3_prepare_v2");
    sql_step *step = (sql_step *)sym_ok(m, "sqlite3_step");
    sql_int64 *col_int = (sql_int64 *)sym_ok(m, "sqlite3_column_int64");
    sql_text *col_text = (sql_text *)sym_ok(m, "sqlite3_column_text");
    sql_step *finalize = (sql_step *)sym_ok(m, "sqlite3_finalize");
    sql_close *close_db = (sql_close *)sym_ok(m, "sqlite3_close");

    void *db = NULL, *st = NULL;
    char *err = NULL;
    ck_assert_int_eq(open(":memory:", &db), 0);
    ck_assert_int_eq(exec(db,
                          "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);"
                          "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (40, 'forty');",
                          NULL, NULL, &err), 0);
    ck_assert_ptr_null(err);

    char rows[64] = "";
    ck_assert_int_eq(exec(db, "SELECT v FROM t ORDER BY k DESC", collect, rows, &err), 0);
    ck_assert_str_eq(rows, "forty,two,one,");

    /* printf() and floating point go through the host's libc and libm. */
    ck_assert_int_eq(prepare(db, "SELECT sum(k), count(*), printf('%.3f', sqrt(2.25) * 4) FROM t",
                             -1, &st, NULL), 0);
    ck_assert_int_eq(step(st), SQLITE_ROW);
    ck_assert_int_eq(col_int(st, 0), 43);
    ck_assert_int_eq(col_int(st, 1), 3);
    ck_assert_str_eq((const char *)col_text(st, 2), "6.000");
    ck_assert_int_eq(step(st), SQLITE_DONE);
    ck_assert_int_eq(finalize(st), 0);
    ck_assert_int_eq(close_db(db), 0);
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

/* ADDR as an offset from BASE, or -1 for none. */
static intptr_t offset_of(void *addr, uintptr_t base)
{
    return addr ? (intptr_t)((uintptr_t)addr - base) : -1;
}

/* ldr_sym over every function SQLite exports, each name asked twice (the
 * module keeps the first answer: the second comes from there): the same
 * both times, at the offset the system loader's dlsym gives; near misses
 * of each name (one character less, one more) answer as dlsym does. */
START_TEST(test_sym_every_export)
{
    const char *path = LIBDIR "libsqlite3.so.0";
    ldr_module *m = open_lib(path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    struct ldr_info info;
    struct link_map *lm;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);

    /* The names from binutils: this program links no ELF reader (libelf
     * would bring zlib in, which test_zlib must find absent). */
    FILE *nm = popen("nm -D --defined-only " LIBDIR "libsqlite3.so.0", "r");
    ck_assert_ptr_nonnull(nm);
    unsigned checked = 0;
    char line[512], type, name[256];
    while (fgets(line, sizeof line, nm)) {
        if (sscanf(line, "%*x %c %255s", &type, name) != 2 || type != 'T')
            continue;
        void *first = ldr_sym(m, name), *again = ldr_sym(m, name);
        ck_assert_msg(first != NULL && again == first, "%s: %p, then %p", name, first, again);
        ck_assert_int_eq(offset_of(first, info.base), offset_of(dlsym(h, name), lm->l_addr));
        char near[260];
        snprintf(near, sizeof near, "%s_", name);
        ck_assert_int_eq(offset_of(ldr_sym(m, near), info.base), offset_of(dlsym(h, near), lm->l_addr));
        near[strlen(name) - 1] = '\0';
        ck_assert_int_eq(offset_of(ldr_sym(m, near), info.base), offset_of(dlsym(h, near), lm->l_addr));
        checked++;
    }
    ck_assert_int_eq(pclose(nm), 0);
    ck_assert_uint_gt(checked, 200);
    dlclose(h);
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

typedef const void *evp_md(void);
typedef int evp_digest(const void *, size_t, unsigned char *, unsigned *, const void *, void *);

static void hex(const unsigned char *md, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

START_TEST(test_openssl_sha256)
{
    ldr_module *m = open_lib(LIBDIR "libcrypto.so.3");
    evp_md *sha256 = (evp_md *)sym_ok(m, "EVP_sha256");
    evp_digest *digest = (evp_digest *)sym_ok(m, "EVP_Digest");
    unsigned char md[64];
    unsigned n = 0;
    char text[129];

    /* The FIPS 180-2 test vectors. */
    ck_assert_int_eq(digest("abc", 3, md, &n, sha256(), NULL), 1);
    ck_assert_uint_eq(n, 32);
    hex(md, n, text);
    ck_assert_str_eq(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(digest("", 0, md, &n, sha256(), NULL), 1);
    hex(md, n, text);
    ck_assert_str_eq(text, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

typedef void py_init(int);
typedef int py_fini(void);
typedef int py_simple(const char *, void *);
typedef void *py_string(const char *, int, void *, void *, void *);
typedef void *py_module(const char *);
typedef void *py_dict(void *);
typedef long py_long(void *);
typedef void py_decref(void *);
#define Py_eval_input 258

/* Four threads each append 100 times their number to a shared list. */
static const char script[] =
    "import threading\n"
    "out = []\n"
    "lock = threading.Lock()\n"
    "def work(n):\n"
    "    for i in range(100):\n"
    "        with lock:\n"
    "            out.append(n)\n"
    "ts = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]\n"
    "for t in ts: t.start()\n"
    "for t in ts: t.join()\n"
    "result = len(out) * 1000 + sum(out)\n";

/* threading's join() returns once a thread has released its state, but the
 * thread still runs the last instructions of libpython on its way out;
 * unmapping libpython before it is gone would pull its code from under it
 * (the system loader's dlclose has the same hazard). */
static void wait_single_threaded(void)
{
    for (int i = 0; i < 500; i++) {
        DIR *d = opendir("/proc/self/task");
        int n = 0;
        for (struct dirent *e; d && (e = readdir(d));)
            n += e->d_name[0] != '.';
        if (d)
            closedir(d);
        if (n <= 1)
            return;
        usleep(10000);
    }
}

START_TEST(test_python_threads)
{
    /* Debian's stdlib, whatever other Python the PATH may lead to. */
    setenv("PYTHONHOME", "/usr", 1);
    unsetenv("PYTHONPATH");
    ldr_module *m = open_lib(LIBDIR "libpython3.11.so.1.0");
    *(int *)sym_ok(m, "Py_NoSiteFlag") = 1;
    ((py_init *)sym_ok(m, "Py_InitializeEx"))(0);
    ck_assert_int_eq(((py_simple *)sym_ok(m, "PyRun_SimpleStringFlags"))(script, NULL), 0);

    void *main_mod = ((py_module *)sym_ok(m, "PyImport_AddModule"))("__main__");
    ck_assert_ptr_nonnull(main_mod);
    void *globals = ((py_dict *)sym_ok(m, "PyModule_GetDict"))(main_mod);
    void *res = ((py_string *)sym_ok(m, "PyRun_StringFlags"))("result", Py_eval_input,
                                                              globals, globals, NULL);
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(((py_long *)sym_ok(m, "PyLong_AsLong"))(res), 400 * 1000 + 100 * (1 + 2 + 3 + 4));
    ((py_decref *)sym_ok(m, "Py_DecRef"))(res);
    ck_assert_int_eq(((py_fini *)sym_ok(m, "Py_FinalizeEx"))(), 0);
    wait_single_threaded();
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("real");
    TCase *tc = tcase_create("real");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_zlib);
    tcase_add_loop_test(tc, test_resident_like_system_loader, 0, sizeof resident_libs / sizeof resident_libs[0]);
    tcase_add_test(tc, test_sqlite);
    tcase_add_test(tc, test_sym_every_export);
    tcase_add_test(tc, test_openssl_sha256);
    tcase_add_test(tc, test_python_threads);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
