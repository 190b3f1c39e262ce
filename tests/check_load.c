/* Module life cycle: initializers and finalizers, dependencies, reference
 * counts, unmapping, errors, and ldr_addr(). */
#include <dlfcn.h>
#include <malloc.h>
#include <link.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include <ldr.h>

#include "fixtures/host.h"
#include "fixtures/testutil.h"

extern char **environ;

typedef int intfn(void);

/* main's arguments, for comparison with what constructors receive. */
static int main_argc;
static char **main_argv;

static struct ldr_info info_ok(ldr_module *m)
{
    struct ldr_info i;
    ck_assert_int_eq(ldr_info(m, &i), 0);
    ck_assert_uint_gt(i.size, 0);
    return i;
}

static void close_ok(ldr_module *m)
{
    ck_assert_msg(ldr_close(m) == 0, "ldr_close: %s", ldr_error());
}

/* What the ELF and C rules prescribe: DT_INIT before DT_INIT_ARRAY, which
 * runs in priority order, default priority last; at unload the reverse,
 * DT_FINI_ARRAY (highest priority number first) and DT_FINI last. */
#define INIT_ORDER "DT_INIT,ctor101,ctor102,ctor,"
#define FINI_ORDER "dtor,dtor102,dtor101,DT_FINI,"

START_TEST(test_init_fini_order)
{
    /* The system loader first, to show the expectation is the norm. */
    host_trace[0] = '\0';
    void *h = dlopen(fixture("libinit.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    ck_assert_str_eq(host_trace, INIT_ORDER);
    dlclose(h);
    ck_assert_str_eq(host_trace, INIT_ORDER FINI_ORDER);

    host_trace[0] = '\0';
    ldr_module *m = open_ok(fixture("libinit.so"), 0);
    ck_assert_str_eq(host_trace, INIT_ORDER);
    close_ok(m);
    ck_assert_str_eq(host_trace, INIT_ORDER FINI_ORDER);
}
END_TEST

/* Constructors get the process's argc, argv and envp. */
START_TEST(test_init_args)
{
    memset(&host_ctor_args, 0, sizeof host_ctor_args);
    ldr_module *m = open_ok(fixture("libinit.so"), 0);
    ck_assert_int_eq(host_ctor_args.called, 1);
    ck_assert_int_eq(host_ctor_args.argc, main_argc);
    ck_assert_ptr_nonnull(host_ctor_args.argv);
    for (int i = 0; i < main_argc; i++)
        ck_assert_str_eq(host_ctor_args.argv[i], main_argv[i]);
    ck_assert_ptr_null(host_ctor_args.argv[main_argc]);
    ck_assert_ptr_nonnull(host_ctor_args.envp);
    int n = 0;
    for (; environ[n]; n++)
        ck_assert_str_eq(host_ctor_args.envp[n], environ[n]);
    ck_assert_ptr_null(host_ctor_args.envp[n]);
    close_ok(m);
}
END_TEST

/* LDR_NOINIT: mapped and relocated, but no initializer or finalizer. */
START_TEST(test_noinit)
{
    host_trace[0] = '\0';
    ldr_module *m = open_ok(fixture("libinit.so"), LDR_NOINIT);
    ck_assert_int_eq(((intfn *)sym_ok(m, "init_present"))(), 1);
    close_ok(m);
    ck_assert_str_eq(host_trace, "");
}
END_TEST

/* A dependency is initialized before, and finalized after, its user. */
START_TEST(test_dep_init_order)
{
    host_trace[0] = '\0';
    ldr_module *m = open_ok(fixture("libinitmain.so"), 0);
    ck_assert_str_eq(host_trace, "dep+,main+,");
    /* The dependency was bound before libinitmain's constructor ran. */
    ck_assert_int_eq(((intfn *)sym_ok(m, "initmain_seen"))(), 5);
    close_ok(m);
    ck_assert_str_eq(host_trace, "dep+,main+,main-,dep-,");
}
END_TEST

/* The dependency is found in $ORIGIN/sub, and is that very file. */
static void check_origin(const char *name)
{
    ldr_module *m = open_ok(fixture(name), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "origin_call"))(), 301);
    ck_assert_uint_eq(info_ok(m).ndeps, count_needed(fixture(name)));
    ck_assert_uint_ge(info_ok(m).ndeps, 1);

    ldr_module *dep = open_ok(fixture("sub/liborigindep.so"), 0);
    struct ldr_info di = info_ok(dep);
    /* Handles given out by ldr_open: the dependency link is not one. */
    ck_assert_uint_eq(di.refs, 1);
    ck_assert_ptr_nonnull(strstr(di.path, "sub/liborigindep.so"));
    ck_assert_ptr_eq(ldr_sym(dep, "origindep_value"), sym_ok(m, "origindep_value"));
    close_ok(dep);
    close_ok(m);
    ck_assert_uint_eq(pages_mapped(di.base, di.size), 0);
}

START_TEST(test_origin_runpath)
{
    check_origin("liborigin_runpath.so");
}
END_TEST

START_TEST(test_origin_rpath)
{
    check_origin("liborigin_rpath.so");
}
END_TEST

/* libzuse.so needs libz.so.1, which this host links: it must get the
 * host's deflate, and no second copy of zlib may be mapped. */
START_TEST(test_host_dep_reused)
{
    (void)zlibVersion(); /* this host really uses zlib */
    int before = maps_lines("libz.so");
    ck_assert_int_gt(before, 0);
    ldr_module *m = open_ok(fixture("libzuse.so"), 0);
    void *(*deflate_addr)(void) = (void *(*)(void))sym_ok(m, "zuse_deflate");
    ck_assert_ptr_eq(deflate_addr(), dlsym(RTLD_DEFAULT, "deflate"));
    const char *(*version)(void) = (const char *(*)(void))sym_ok(m, "zuse_version");
    ck_assert_ptr_eq(version(), zlibVersion());
    ck_assert_int_eq(maps_lines("libz.so"), before);
    close_ok(m);
    ck_assert_int_eq(maps_lines("libz.so"), before);
    ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "deflate"), (void *)deflate);
}
END_TEST

/* ldr_sym, like dlsym on a handle, finds what a dependency defines: here
 * libraries the program came with (zlib, the C library), looked up
 * through the handles the system loader gives for them, after an earlier
 * load has read the system loader's list. */
START_TEST(test_sym_in_host_dep)
{
    close_ok(open_ok(fixture("libreloc.so"), 0));
    ldr_module *m = open_ok(fixture("libzuse.so"), 0);
    ck_assert_ptr_eq(ldr_sym(m, "deflate"), dlsym(RTLD_DEFAULT, "deflate"));
    ck_assert_ptr_eq(ldr_sym(m, "getenv"), dlsym(RTLD_DEFAULT, "getenv"));
    ck_assert_ptr_null(ldr_sym(m, "no_such_symbol_anywhere"));
    close_ok(m);
}
END_TEST

/* The host dlopened HOST_PATH, a copy of DEP (the file's name): MODULE,
 * which needs it (its code is libinitmain's), must take the host's copy
 * with a reference of its own, so that the host's dlclose leaves it
 * mapped until the module's close, and map no second copy. */
static void check_takes_host_copy(const char *host_path, const char *dep, const char *module)
{
    void *h = dlopen(host_path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    int before = maps_lines(dep);
    ck_assert_int_gt(before, 0);
    ldr_module *m = open_ok(fixture(module), 0);
    ck_assert_int_eq(maps_lines(dep), before);
    ck_assert_int_eq(dlclose(h), 0);
    ck_assert_int_eq(maps_lines(dep), before);
    ck_assert_int_eq(((intfn *)sym_ok(m, "initmain_seen"))(), 5);
    close_ok(m);
    ck_assert_int_eq(maps_lines(dep), 0);
}

/* A library the host loaded at run time, not with the program, may be
 * unloaded: a module that needs it holds a reference of its own. (One the
 * program came with is never unloaded, and is used without.) */
START_TEST(test_runtime_host_dep_held)
{
    check_takes_host_copy(fixture("libinitdep.so"), "libinitdep.so", "libinitmain.so");
}
END_TEST

/* The host has libnosoname.so loaded, through a link of another name, and
 * the file has no soname: no name tells that it is the dependency
 * libnosoname_user.so asks for, which ldr finds through $ORIGIN (a path
 * the system loader's own search would not try). The file does. */
START_TEST(test_host_dep_same_file)
{
    char dir[] = "/tmp/ldr-alias-XXXXXX", link[64], real[PATH_MAX];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_ptr_nonnull(realpath(fixture("libnosoname.so"), real));
    snprintf(link, sizeof link, "%s/alias.so", dir);
    ck_assert_int_eq(symlink(real, link), 0);
    check_takes_host_copy(link, "libnosoname.so", "libnosoname_user.so");
    unlink(link);
    rmdir(dir);
}
END_TEST

/* Objects the host loaded at run time answer a module's imports as they
 * answer dlsym(RTLD_DEFAULT): librtglobal.so, loaded RTLD_GLOBAL, does;
 * librtlocal.so, loaded RTLD_LOCAL and first in the list, defines the
 * same name and does not. Without the global one, the import is refused,
 * as the system loader refuses it. The host can unload the global one
 * again once the module that bound to it is closed. */
START_TEST(test_runtime_global_and_local)
{
    void *local = dlopen(fixture("librtlocal.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(local != NULL, "%s", dlerror());
    ck_assert_ptr_null(dlopen(fixture("librtuser.so"), RTLD_NOW | RTLD_LOCAL));
    ck_assert_ptr_null(ldr_open(fixture("librtuser.so"), 0));
    ck_assert_ptr_nonnull(strstr(ldr_error(), "rt_value"));
    void *global = dlopen(fixture("librtglobal.so"), RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(global != NULL, "%s", dlerror());
    void *h = dlopen(fixture("librtuser.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    int want = ((intfn *)dlsym(h, "rtuser_value"))();
    ck_assert_int_eq(want, 2);
    ldr_module *m = open_ok(fixture("librtuser.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rtuser_value"))(), want);
    /* The module holds what it bound to, as the system loader's module
     * does, for as long as it lives, and no longer. */
    dlclose(h);
    dlclose(global);
    ck_assert_int_gt(maps_lines("librtglobal.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rtuser_value"))(), want);
    close_ok(m);
    ck_assert_int_eq(maps_lines("librtglobal.so"), 0);
    dlclose(local);
}
END_TEST

/* A load leaves the host's dlerror() as a dlopen leaves it: nothing to
 * report after a success, though ldr asked the system loader questions
 * whose answer was no. Here the host loaded libcycb.so RTLD_LOCAL, and
 * libcyca.so, which needs it, binds to that copy through its own scope:
 * dlsym(RTLD_DEFAULT) finds none of libcycb's names. */
START_TEST(test_load_leaves_no_dlerror)
{
    void *dep = dlopen(fixture("libcycb.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(dep != NULL, "%s", dlerror());
    void *h = dlopen(fixture("libcyca.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    const char *theirs = dlerror();
    ck_assert_msg(theirs == NULL, "the system loader's dlopen left: %s", theirs);
    ldr_module *m = open_ok(fixture("libcyca.so"), 0);
    const char *ours = dlerror();
    ck_assert_msg(ours == NULL, "ldr_open left for dlerror(): %s", ours);
    ck_assert_int_eq(((intfn *)sym_ok(m, "cyca_call"))(), ((intfn *)dlsym(h, "cyca_call"))());
    close_ok(m);
    dlclose(h);
    dlclose(dep);
}
END_TEST

/* The host's list of objects loses one from its middle and gains one at
 * its end between loads: each load sees the list as it is then. */
START_TEST(test_host_list_changes_between_loads)
{
    void *local = dlopen(fixture("librtlocal.so"), RTLD_NOW | RTLD_LOCAL);
    void *global = dlopen(fixture("librtglobal.so"), RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(local && global, "%s", dlerror());
    ldr_module *m = open_ok(fixture("librtuser.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rtuser_value"))(), 2);
    close_ok(m);
    dlclose(local);
    ck_assert_int_eq(maps_lines("librtlocal.so"), 0);
    m = open_ok(fixture("librtuser.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rtuser_value"))(), 2);
    close_ok(m);
    /* Back, and global this time, but after librtglobal.so in the list. */
    local = dlopen(fixture("librtlocal.so"), RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(local != NULL, "%s", dlerror());
    dlclose(global);
    m = open_ok(fixture("librtuser.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "rtuser_value"))(), 1);
    close_ok(m);
    dlclose(local);
}
END_TEST

/* libinitmain.so binds to the host's copy of libinitdep.so, a library
 * the host loaded at run time, through its own scope: ldr reads that
 * library's tables once, then the host's list changes under them between
 * loads (an object before it goes, then one comes after it), which moves
 * ldr's views of the host's objects. Each load must find the tables of
 * the view where it now is (a stale one is freed memory: valgrind and
 * ASan see it). */
START_TEST(test_host_dep_tables_after_list_change)
{
    void *gone = dlopen(fixture("librtlocal.so"), RTLD_NOW | RTLD_LOCAL);
    void *dep = dlopen(fixture("libinitdep.so"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(gone && dep, "%s", dlerror());
    void *came = NULL;
    for (int round = 0; round < 3; round++) {
        ldr_module *m = open_ok(fixture("libinitmain.so"), 0);
        ck_assert_int_eq(((intfn *)sym_ok(m, "initmain_seen"))(), 5);
        close_ok(m);
        if (round == 0) {
            ck_assert_int_eq(dlclose(gone), 0);
        } else if (round == 1) {
            came = dlopen(fixture("librtglobal.so"), RTLD_NOW | RTLD_LOCAL);
            ck_assert_msg(came != NULL, "%s", dlerror());
        }
    }
    ck_assert_int_eq(dlclose(came), 0);
    ck_assert_int_eq(dlclose(dep), 0);
}
END_TEST

/* libcyca.so needs libcycb.so needs libcyca.so. */
START_TEST(test_cycle)
{
    ldr_module *a = open_ok(fixture("libcyca.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(a, "cyca_call"))(), (11 + 1) * 2);
    ldr_module *b = open_ok(fixture("libcycb.so"), 0);
    struct ldr_info ai = info_ok(a), bi = info_ok(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(ai.refs, 1);
    ck_assert_uint_eq(bi.refs, 1);
    ck_assert_uint_eq(ai.ndeps, count_needed(fixture("libcyca.so")));
    ck_assert_uint_eq(bi.ndeps, count_needed(fixture("libcycb.so")));
    close_ok(b);
    close_ok(a);
    ck_assert_uint_eq(pages_mapped(ai.base, ai.size), 0);
    ck_assert_uint_eq(pages_mapped(bi.base, bi.size), 0);
    ck_assert_int_eq(maps_lines("libcyc"), 0);
}
END_TEST

/* The last ldr_close unmaps the whole range the module had. */
START_TEST(test_unmapped_after_close)
{
    const char *path = fixture("libreloc.so");
    ldr_module *m = open_ok(path, 0);
    struct ldr_info i = info_ok(m);
    ck_assert_str_eq(i.path, path);
    ck_assert_uint_eq(i.refs, 1);
    ck_assert_uint_gt(pages_mapped(i.base, i.size), 0);
    close_ok(m);
    ck_assert_uint_eq(pages_mapped(i.base, i.size), 0);
    ck_assert_int_eq(maps_lines(path), 0);
}
END_TEST

/* Relocation copies only the pages it writes. libsparse has 64 pages of
 * numbers and after them a page of pointers: ldr leaves not one page more
 * copied than the system loader's own load of the file. */
START_TEST(test_copies_only_relocated_pages)
{
    const char *path = fixture("libsparse.so");
    ldr_module *m = open_ok(path, LDR_NOINIT);
    long ldr_kb, dl_kb;
    image_kb_both(m, path, "Anonymous", &ldr_kb, &dl_kb);
    ck_assert_int_gt(ldr_kb, 0);
    ck_assert_msg(ldr_kb <= dl_kb, "ldr copied %ld kB, the system loader %ld kB", ldr_kb, dl_kb);
    ck_assert_msg(ldr_kb <= 16, "ldr copied %ld kB of a mostly untouched data segment", ldr_kb);
    close_ok(m);
}
END_TEST

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* This thread's page faults, each with its address: the traps the kernel
 * takes (not the pages MADV_POPULATE_* fills in, which getrusage counts
 * as faults too), recorded into a ring of perf samples. */
struct fault_log {
    int fd;
    struct perf_event_mmap_page *ring;
    size_t size; /* of the ring's data, after its first page */
};

#define FAULT_RING_PAGES 64

/* false where perf events are not allowed (perf_event_paranoid). */
static bool fault_log_start(struct fault_log *log)
{
    struct perf_event_attr a = {.type = PERF_TYPE_SOFTWARE, .size = sizeof a, .config = PERF_COUNT_SW_PAGE_FAULTS,
                                .sample_period = 1, .sample_type = PERF_SAMPLE_ADDR, .disabled = 1,
                                .exclude_kernel = 1, .exclude_hv = 1};
    log->fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (log->fd < 0)
        return false;
    log->size = FAULT_RING_PAGES * 4096;
    log->ring = mmap(NULL, log->size + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, log->fd, 0);
    ck_assert_ptr_ne(log->ring, MAP_FAILED);
    ioctl(log->fd, PERF_EVENT_IOC_ENABLE, 0);
    return true;
}

/* The faults since the start at addresses in [LO, HI); *TOTAL all of them. */
static long fault_log_count(struct fault_log *log, uintptr_t lo, uintptr_t hi, long *total)
{
    ioctl(log->fd, PERF_EVENT_IOC_DISABLE, 0);
    uint64_t head = __atomic_load_n(&log->ring->data_head, __ATOMIC_ACQUIRE);
    ck_assert_uint_le(head, log->size); /* nothing overwritten */
    const unsigned char *data = (const unsigned char *)log->ring + 4096;
    long in = 0;
    *total = 0;
    for (uint64_t at = 0; at < head;) {
        struct perf_event_header h;
        memcpy(&h, data + at, sizeof h);
        ck_assert_uint_ne(h.type, PERF_RECORD_LOST);
        if (h.type == PERF_RECORD_SAMPLE) {
            uint64_t addr;
            memcpy(&addr, data + at + sizeof h, sizeof addr);
            ++*total;
            in += addr >= lo && addr < hi;
        }
        at += h.size;
    }
    munmap(log->ring, log->size + 4096);
    close(log->fd);
    return in;
}

/* The page span [*LO, *HI) of the writable segments of the file at PATH,
 * file addresses. */
static void writable_span(const char *path, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen(path, "rb");
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(&eh, sizeof eh, 1, f), 1);
    *lo = UINTPTR_MAX, *hi = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        ck_assert_int_eq(fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize), SEEK_SET), 0);
        ck_assert_int_eq(fread(&ph, sizeof ph, 1, f), 1);
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
            continue;
        if (ph.p_vaddr < *lo)
            *lo = ph.p_vaddr & ~(uintptr_t)4095;
        if (ph.p_vaddr + ph.p_memsz > *hi)
            *hi = (ph.p_vaddr + ph.p_memsz + 4095) & ~(uintptr_t)4095;
    }
    fclose(f);
    ck_assert_uint_lt(*lo, *hi);
}

/* Relocation's pages are copied a run at a time (MADV_POPULATE_WRITE),
 * where a page fault each would cost more than the copy on a virtual
 * machine: the load takes no fault at all in the writable segments. 256
 * pages of pointers, every word relocated, through RELA and through RELR;
 * and a table in three runs (pointers in RELRO, the GOT, pointers in
 * .data on pages of their own), as linkers lay it out, not sorted as a
 * whole. Every word is right. */
static const char *const pointer_libs[] = {"libpointers.so", "libpointers_relr.so", "libthreeruns.so"};

START_TEST(test_relocated_pages_copied_at_once)
{
    const char *path = fixture(pointer_libs[_i]);
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(probe, MAP_FAILED);
    bool supported = madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
    munmap(probe, 4096);
    if (!supported) {
        fprintf(stderr, "test_relocated_pages_copied_at_once: no MADV_POPULATE_WRITE (Linux 5.14): skipped\n");
        return;
    }
    /* Not counted under valgrind (its own faults, translating code, count
     * too) nor AddressSanitizer (its shadow of every page read or written). */
#ifdef __SANITIZE_ADDRESS__
    bool shadowed = true;
#else
    bool shadowed = getenv("LDR_UNDER_VALGRIND") != NULL;
#endif
    struct fault_log log = {.fd = -1};
    bool counting = !shadowed && fault_log_start(&log);
    if (!counting)
        fprintf(stderr, "test_relocated_pages_copied_at_once: faults not counted (valgrind, sanitizers, or no perf events)\n");
    cache_file(path);
    ldr_module *m = open_ok(path, LDR_NOINIT);
    if (counting) {
        uintptr_t lo, hi;
        writable_span(path, &lo, &hi);
        struct ldr_info i = info_ok(m);
        long total, in = fault_log_count(&log, i.base + lo, i.base + hi, &total);
        ck_assert_msg(in == 0, "%s: %ld of the load's %ld page faults in its writable segments", path, in, total);
    }
    intfn *check = (intfn *)sym_ok(m, "pointers_check");
    ck_assert_int_eq(check(), 0);
    close_ok(m);
}
END_TEST

/* The protections /proc/self/maps gives the page at ADDR ("r-xp"...), or
 * "none" when nothing maps it. */
static void page_perms(uintptr_t addr, char perms[8])
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    unsigned long start, end;
    strcpy(perms, "none");
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && addr >= start && addr < end)
            break;
        else
            strcpy(perms, "none");
    fclose(f);
}

/* The pages between two segments give no access: the image's first
 * mapping spans them, and shows the file there unless they are closed,
 * as the system loader closes them. */
START_TEST(test_gap_gives_no_access)
{
    const char *path = fixture("libgap.so");
    ldr_module *m = open_ok(path, LDR_NOINIT);
    struct ldr_info i = info_ok(m);
    int (*get)(void) = (int (*)(void))ldr_sym(m, "gap_get");
    ck_assert_ptr_nonnull(get);
    ck_assert_int_eq(get(), 5 + 'g');
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    struct link_map *lm;
    ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
    const uintptr_t gap[] = {0x5000, 0x40000, 0x7f000};
    for (size_t k = 0; k < sizeof gap / sizeof gap[0]; k++) {
        char ldr_perms[8], dl_perms[8];
        page_perms(i.base + gap[k], ldr_perms);
        page_perms(lm->l_addr + gap[k], dl_perms);
        ck_assert_msg(strcmp(ldr_perms, "---p") == 0, "ldr: page +%#lx is %s", (unsigned long)gap[k], ldr_perms);
        ck_assert_str_eq(ldr_perms, dl_perms);
    }
    dlclose(h);
    close_ok(m);
}
END_TEST

/* The /proc/self/maps entries inside [base, base + size): each one's
 * place from BASE, protections and file offset, one string. */
static void image_maps(uintptr_t base, size_t size, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512], perms[8];
    unsigned long start, end, off;
    size_t used = 0;
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %7s %lx", &start, &end, perms, &off) == 4 && start >= base &&
            end <= base + size && used < cap)
            used += snprintf(out + used, cap - used, "+%lx-+%lx %s %lx\n", start - base, end - base, perms,
                             strchr(line, '/') ? off : 0);
    fclose(f);
}

/* Segments whose file pages the image's first mapping already shows are
 * only given their protections, the others mapped: either way the image
 * looks page for page as the system loader's load of the file does,
 * protections and file offsets, RELRO made read-only (zlib's layout: the
 * writable segment a page off from its offset; libgap's: gaps). */
START_TEST(test_maps_like_system_loader)
{
    const char *paths[] = {fixture("libreloc.so"), fixture("libgap.so"), fixture("libsparse.so"),
                           fixture("liblld.so"), "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        ldr_module *m = open_ok(paths[k], LDR_NOINIT);
        struct ldr_info i = info_ok(m);
        void *h = dlopen(paths[k], RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(h != NULL, "%s", dlerror());
        struct link_map *lm;
        ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
        static char ours[4096], theirs[4096];
        image_maps(i.base, i.size, ours, sizeof ours);
        image_maps(lm->l_addr, i.size, theirs, sizeof theirs);
        ck_assert_msg(ours[0] != '\0', "%s: no mapping found", paths[k]);
        ck_assert_msg(strcmp(ours, theirs) == 0, "%s:\nldr:\n%sthe system loader:\n%s", paths[k], ours, theirs);
        dlclose(h);
        close_ok(m);
    }
}
END_TEST

/* lld ends PT_GNU_RELRO on the page boundary past the end of the segment
 * that holds it: the file loads, as under the system loader, and its
 * relocated table is read-only afterwards. */
START_TEST(test_relro_to_page_end)
{
    ldr_module *m = open_ok(fixture("liblld.so"), 0);
    ck_assert_int_eq(((intfn *)sym_ok(m, "lld_sum"))(), 3);
    char perms[8];
    page_perms((uintptr_t)sym_ok(m, "lld_table"), perms);
    ck_assert_str_eq(perms, "r--p");
    close_ok(m);
}
END_TEST

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Opening and closing a small plugin over and over keeps nothing on the
 * heap: no bookkeeping stays behind, and nothing made for large loads
 * (the filter of every name the host defines: 8 kB for this host) is made
 * for loads this small, however many. mallinfo2 counts what malloc's
 * per-thread cache holds as in use: a few kB, as much after 10 rounds as
 * after 1000. */
START_TEST(test_open_close_keeps_no_heap)
{
    const char *path = fixture("libreloc.so");
    for (int i = 0; i < 2; i++)
        close_ok(open_ok(path, 0));
    size_t before = heap_in_use();
    for (int i = 0; i < 200; i++)
        close_ok(open_ok(path, 0));
    size_t after = heap_in_use();
    ck_assert_msg(after <= before + 6144, "200 opens and closes kept %zu bytes", after - before);
}
END_TEST

/* A small library's first segment (its headers, symbol, string, hash and
 * relocation tables: one page) is read with its file header and used from
 * that copy: the load, its symbols and the addresses named after them
 * never fault its page in, where the system loader's load does. */
START_TEST(test_small_tables_page_untouched)
{
    const char *path = fixture("libreloc.so");
    cache_file(path);
    ldr_module *m = open_ok(path, 0);
    struct ldr_info i = info_ok(m);
    intfn *f = (intfn *)sym_ok(m, "reloc_self_fn");
    ck_assert_int_eq(f(), 41);
    Dl_info where;
    ck_assert_int_ne(ldr_addr((const void *)f, &where), 0);
    ck_assert_str_eq(where.dli_sname, "reloc_self_fn");
    long ldr_kb = smaps_kb(i.base, i.base + 4096, "Rss");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    struct link_map *lm;
    ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
    long dl_kb = smaps_kb(lm->l_addr, lm->l_addr + 4096, "Rss");
    dlclose(h);
    close_ok(m);
    ck_assert_int_eq(ldr_kb, 0);
    ck_assert_int_eq(dl_kb, 4);
}
END_TEST

/* The same file opened twice is one module with two references: it stays
 * mapped and usable until the second close. */
START_TEST(test_refcount)
{
    const char *path = fixture("libreloc.so");
    ldr_module *m1 = open_ok(path, 0);
    ldr_module *m2 = open_ok(path, 0);
    ck_assert_ptr_eq(m1, m2);
    struct ldr_info i = info_ok(m1);
    ck_assert_uint_eq(i.refs, 2);
    size_t all = pages_in(i.base, i.size);
    intfn *f = (intfn *)sym_ok(m1, "reloc_self_fn");
    close_ok(m1);
    ck_assert_uint_eq(info_ok(m2).refs, 1);
    ck_assert_int_eq(f(), 41);
    ck_assert_uint_gt(pages_mapped(i.base, i.size), 0);
    ck_assert_uint_le(pages_mapped(i.base, i.size), all);
    close_ok(m2);
    ck_assert_uint_eq(pages_mapped(i.base, i.size), 0);
}
END_TEST

/* A different spelling of the same file's path is still the same file. */
START_TEST(test_same_file_other_path)
{
    const char *top = getenv("LDR_BUILD");
    char *other;
    ck_assert_int_ne(asprintf(&other, "%s/tests/build/../build/./libreloc.so", top), -1);
    ldr_module *m1 = open_ok(fixture("libreloc.so"), 0);
    ldr_module *m2 = open_ok(other, 0);
    ck_assert_ptr_eq(m1, m2);
    ck_assert_uint_eq(info_ok(m1).refs, 2);
    close_ok(m2);
    close_ok(m1);
    free(other);
}
END_TEST

START_TEST(test_error_none)
{
    ck_assert_ptr_null(ldr_error());
    ldr_module *m = open_ok(fixture("libreloc.so"), 0);
    close_ok(m);
    ck_assert_ptr_null(ldr_error());
}
END_TEST

/* "FILE: reason", then NULL once read. */
START_TEST(test_error_nonexistent)
{
    const char *path = "/nonexistent/dir/libnope.so";
    ck_assert_ptr_null(ldr_open(path, 0));
    const char *e = ldr_error();
    ck_assert_ptr_nonnull(e);
    size_t n = strlen(path);
    ck_assert_msg(strncmp(e, path, n) == 0 && strncmp(e + n, ": ", 2) == 0 && e[n + 2],
                  "error \"%s\" is not \"%s: reason\"", e, path);
    ck_assert_ptr_null(ldr_error());
    /* A name without a slash is searched for, and the error names it. */
    ck_assert_ptr_null(ldr_open("libldr-test-no-such-lib.so.9", 0));
    e = ldr_error();
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(strstr(e, "libldr-test-no-such-lib.so.9"));
    ck_assert_ptr_null(ldr_error());
}
END_TEST

/* Lines of /proc/self/maps that are executable or name FILE. Not the
 * writable and executable ones: valgrind keeps its translations there,
 * and grows and moves them as it likes; ldr never maps such memory. */
static int code_maps(const char *file)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096], perms[8];
    int n = 0;
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if ((sscanf(line, "%*s %7s", perms) == 1 && perms[2] == 'x' && perms[1] != 'w') || strstr(line, file))
            n++;
    fclose(f);
    return n;
}

/* Strong symbols nobody defines fail the load; the message names every one
 * of them with the version asked for, and nothing stays mapped. */
START_TEST(test_unresolved)
{
    const char *path = fixture("libunres.so");

    /* The system loader refuses it too. */
    ck_assert_ptr_null(dlopen(path, RTLD_NOW | RTLD_LOCAL));
    ck_assert_ptr_nonnull(strstr(dlerror(), "missing_"));

    /* A successful load first, so that one-time setup is not counted. */
    ldr_close(open_ok(fixture("libreloc.so"), 0));
    int before = code_maps("libunres");

    ck_assert_ptr_null(ldr_open(path, 0));
    const char *e = ldr_error();
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(e, "libunres.so") != NULL, "error \"%s\" does not name the file", e);
    ck_assert_msg(strstr(e, "missing_fn") && strstr(e, "missing_var") && strstr(e, "missing_plain"),
                  "error \"%s\" does not list all three unresolved symbols", e);
    /* Both versioned ones with their version (however it is spelled). */
    const char *v1 = strstr(e, "MISS_1.0");
    ck_assert_msg(v1 != NULL, "error \"%s\" does not give the version", e);
    ck_assert_msg(strstr(v1 + 1, "MISS_1.0") != NULL || strstr(e, "MISS_1.0: missing_fn"),
                  "error \"%s\" gives the version once for two symbols", e);
    ck_assert_msg(strstr(e, "missing_present") == NULL, "error \"%s\" lists a symbol that exists", e);
    ck_assert_ptr_null(ldr_error());

    ck_assert_int_eq(maps_lines("libunres.so"), 0);
    ck_assert_int_eq(maps_lines("libmissing.so"), 0);
    ck_assert_int_eq(code_maps("libunres"), before);

    /* And again, as the state after a failure must be clean. */
    ck_assert_ptr_null(ldr_open(path, 0));
    ck_assert_ptr_nonnull(ldr_error());
    ck_assert_int_eq(code_maps("libunres"), before);
}
END_TEST

static void check_refused(const char *path)
{
    ck_assert_msg(ldr_open(path, 0) == NULL, "%s was loaded", path);
    const char *e = ldr_error();
    ck_assert_ptr_nonnull(e);
    size_t n = strlen(path);
    ck_assert_msg(strncmp(e, path, n) == 0 && strlen(e) > n + 10,
                  "error \"%s\" does not explain why %s is refused", e, path);
}

/* The C and C++ runtimes stay the host's: loading them is refused. */
START_TEST(test_refuse_runtimes)
{
    check_refused("/usr/lib/x86_64-linux-gnu/libc.so.6");
    check_refused("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    check_refused("libc.so.6");
}
END_TEST

/* ldr_addr() describes a function in a module like dladdr() would. */
START_TEST(test_addr)
{
    const char *path = fixture("libreloc.so");
    ldr_module *m = open_ok(path, 0);
    struct ldr_info i = info_ok(m);
    char *f = sym_ok(m, "reloc_self_fn");
    Dl_info d;
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(ldr_addr(f, &d), 1);
    ck_assert_str_eq(d.dli_fname, path);
    ck_assert_ptr_eq(d.dli_fbase, (void *)i.base);
    ck_assert_str_eq(d.dli_sname, "reloc_self_fn");
    ck_assert_ptr_eq(d.dli_saddr, f);

    /* Inside the function, and a data symbol. */
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(ldr_addr(f + 1, &d), 1);
    ck_assert_str_eq(d.dli_sname, "reloc_self_fn");
    ck_assert_ptr_eq(d.dli_saddr, f);
    char *data = sym_ok(m, "reloc_data");
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(ldr_addr(data, &d), 1);
    ck_assert_str_eq(d.dli_sname, "reloc_data");
    ck_assert_ptr_eq(d.dli_saddr, data);

    close_ok(m);
    ck_assert_int_eq(ldr_addr(f, &d), 0);
}
END_TEST

START_TEST(test_addr_outside)
{
    Dl_info d;
    int local = 0;
    ldr_module *m = open_ok(fixture("libreloc.so"), 0);
    ck_assert_int_eq(ldr_addr((void *)test_addr_outside, &d), 0);
    ck_assert_int_eq(ldr_addr(&local, &d), 0);
    ck_assert_int_eq(ldr_addr((void *)printf, &d), 0);
    ck_assert_int_eq(ldr_addr(NULL, &d), 0);
    close_ok(m);
}
END_TEST

int main(int argc, char **argv)
{
    main_argc = argc;
    main_argv = argv;

    Suite *s = suite_create("load");
    TCase *tc = tcase_create("init");
    tcase_add_test(tc, test_init_fini_order);
    tcase_add_test(tc, test_init_args);
    tcase_add_test(tc, test_noinit);
    tcase_add_test(tc, test_dep_init_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("deps");
    tcase_add_test(tc, test_origin_runpath);
    tcase_add_test(tc, test_origin_rpath);
    tcase_add_test(tc, test_host_dep_reused);
    tcase_add_test(tc, test_runtime_host_dep_held);
    tcase_add_test(tc, test_host_dep_same_file);
    tcase_add_test(tc, test_runtime_global_and_local);
    tcase_add_test(tc, test_load_leaves_no_dlerror);
    tcase_add_test(tc, test_host_list_changes_between_loads);
    tcase_add_test(tc, test_host_dep_tables_after_list_change);
    tcase_add_test(tc, test_sym_in_host_dep);
    tcase_add_test(tc, test_cycle);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_test(tc, test_unmapped_after_close);
    tcase_add_test(tc, test_open_close_keeps_no_heap);
    tcase_add_test(tc, test_small_tables_page_untouched);
    tcase_add_test(tc, test_refcount);
    tcase_add_test(tc, test_same_file_other_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_none);
    tcase_add_test(tc, test_error_nonexistent);
    tcase_add_test(tc, test_unresolved);
    tcase_add_test(tc, test_refuse_runtimes);
    tcase_add_test(tc, test_copies_only_relocated_pages);
    tcase_add_loop_test(tc, test_relocated_pages_copied_at_once, 0, sizeof pointer_libs / sizeof *pointer_libs);
    tcase_add_test(tc, test_gap_gives_no_access);
    tcase_add_test(tc, test_maps_like_system_loader);
    tcase_add_test(tc, test_relro_to_page_end);
    suite_add_tcase(s, tc);

    tc = tcase_create("addr");
    tcase_add_test(tc, test_addr);
    tcase_add_test(tc, test_addr_outside);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
