/* One measured load in a fresh process, run by bench-run:
 *     bench-load ldr|dl PATH
 * prints "OPEN_NS CLOSE_NS", or "refused: REASON" and exits 2.
 * Only the open and the close calls are timed: process start-up and the
 * link of this program cost the same for both loaders and are left out.
 *     bench-load -m [-w] [-a SLOT] ldr|dl PATH
 * opens without timing and prints what the open left in memory:
 * "HEAP_BYTES RSS_BYTES SPAN_BYTES". HEAP is mallinfo2() uordblks + hblkhd
 * after the open minus before: after start-up the system loader allocates
 * its link_map, scopes and search lists with this same malloc, as ldr
 * does its bookkeeping, so the two compare like with like (both run the
 * library's initializers, which count the same for both). With -w, an
 * open and a close of PATH itself come first, so that HEAP leaves out what
 * a loader sets up once per process (ldr's views of the host's libraries,
 * the system loader's object lookup table, each also for the library's
 * system dependencies) and is what the module's own bookkeeping costs. A
 * library that stays loaded after its close (NODELETE) is just opened
 * again: both figures are then about 0. RSS is the sum of the Rss
 * of the /proc/self/smaps entries inside the library's own image, the
 * page span of its PT_LOAD segments (SPAN) at the load bias the loader
 * chose: the pages its load touched, and those the kernel mapped around
 * them, the file read into the page cache first, with the image placed
 * SLOT pages past a 64 KiB boundary (place_next). The memory runs are
 * separate from the timed ones, so reading the figures costs the timed
 * calls nothing. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ldr.h"

#define PAGE 4096UL

static long long ns_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static const char *last_error(int use_ldr)
{
    const char *e = use_ldr ? ldr_error() : dlerror();
    return e ? e : "(no message)";
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* The page span [*lo, *hi) of PATH's PT_LOAD segments, file addresses. */
static int load_span(const char *path, uintptr_t *lo, uintptr_t *hi)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *lo = UINTPTR_MAX, *hi = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, eh.e_phoff + i * sizeof ph) != (ssize_t)sizeof ph)
            break;
        if (ph.p_type != PT_LOAD)
            continue;
        if (ph.p_vaddr < *lo)
            *lo = ph.p_vaddr;
        if (ph.p_vaddr + ph.p_memsz > *hi)
            *hi = ph.p_vaddr + ph.p_memsz;
    }
    close(fd);
    if (*hi <= *lo)
        return -1;
    *lo &= ~(PAGE - 1);
    *hi = (*hi + PAGE - 1) & ~(PAGE - 1);
    return 0;
}

/* Bytes resident in the smaps entries that lie inside [lo, hi); -1 if
 * smaps cannot be read. */
static long long resident_in(uintptr_t lo, uintptr_t hi)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return -1;
    char line[512];
    unsigned long start = 0, end = 0, kb;
    int inside = 0;
    long long total = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) /* an entry's first line */
            inside = start >= lo && end <= hi;
        else if (inside && sscanf(line, "Rss: %lu kB", &kb) == 1)
            total += kb * 1024LL;
    }
    fclose(f);
    return total;
}

/* Every page of PATH read into the page cache: the kernel maps the pages
 * around a faulting one only where the cache holds them, so that the two
 * loaders' resident pages compare alike only from the same, full cache. */
static void cache_file(const char *path)
{
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
        ;
    if (fd >= 0)
        close(fd);
}

/* The next mapping of SPAN bytes placed SLOT pages past a 64 KiB
 * boundary. A fault maps the cached pages around it in its 64 KiB-aligned
 * window, so which of the image's pages end up resident follows where the
 * image lies in those windows: the Rust cdylib had 65 to 80 pages
 * resident by its randomized address alone, under either loader. The
 * memory runs give both loaders the same placements. The kernel hands out
 * addresses top down, a new mapping where a probe of its size lands; a
 * pad at the top of that range moves it down. Both loaders map an image
 * first, as one reservation of its page span. */
static void place_next(size_t span, unsigned slot)
{
    void *probe = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED)
        return;
    munmap(probe, span);
    uintptr_t at = (uintptr_t)probe, want = (at & ~(uintptr_t)0xffff) + slot % 16 * PAGE;
    if (want > at)
        want -= 0x10000;
    if (at > want) /* the pad stays: the process measures once and ends */
        mmap((void *)(want + span), at - want, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

static void *open_with(int use_ldr, const char *path)
{
    return use_ldr ? (void *)ldr_open(path, 0) : dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static int measure_memory(int use_ldr, const char *path, bool warm, int slot)
{
    uintptr_t lo, hi;
    if (load_span(path, &lo, &hi) < 0) {
        printf("refused: cannot read the program headers of %s\n", path);
        return 2;
    }
    if (warm) {
        void *w = open_with(use_ldr, path);
        if (!w || (use_ldr ? ldr_close(w) : dlclose(w))) {
            printf("refused: warm-up: %s\n", last_error(use_ldr));
            return 2;
        }
    }
    cache_file(path);
    if (slot >= 0)
        place_next(hi - lo, (unsigned)slot);
    size_t before = heap_in_use();
    void *h = open_with(use_ldr, path);
    size_t after = heap_in_use();
    if (!h) {
        printf("refused: %s\n", last_error(use_ldr));
        return 2;
    }
    uintptr_t bias;
    if (use_ldr) {
        struct ldr_info info;
        if (ldr_info(h, &info) < 0) {
            printf("refused: ldr_info: %s\n", last_error(1));
            return 2;
        }
        bias = info.base;
    } else {
        struct link_map *lm;
        if (dlinfo(h, RTLD_DI_LINKMAP, &lm) < 0) {
            printf("refused: dlinfo: %s\n", last_error(0));
            return 2;
        }
        bias = lm->l_addr;
    }
    long long rss = resident_in(bias + lo, bias + hi);
    if (rss < 0) {
        printf("refused: cannot read /proc/self/smaps\n");
        return 2;
    }
    printf("%lld %lld %llu\n", (long long)after - (long long)before, rss, (unsigned long long)(hi - lo));
    return 0;
}

int main(int argc, char **argv)
{
    int memory = 0, bad = 0, opt, slot = -1;
    bool warm = false;
    while ((opt = getopt(argc, argv, "mwa:")) != -1)
        if (opt == 'm')
            memory = 1;
        else if (opt == 'w')
            warm = true;
        else if (opt == 'a')
            slot = atoi(optarg);
        else
            bad = 1;
    if (bad || argc - optind != 2 || (strcmp(argv[optind], "ldr") && strcmp(argv[optind], "dl")) ||
        ((warm || slot >= 0) && !memory)) {
        fprintf(stderr, "usage: bench-load ldr|dl PATH\n       bench-load -m [-w] [-a SLOT] ldr|dl PATH\n");
        return 64;
    }
    int use_ldr = !strcmp(argv[optind], "ldr");
    const char *path = argv[optind + 1];
    if (memory)
        return measure_memory(use_ldr, path, warm, slot);

    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    void *h = use_ldr ? (void *)ldr_open(path, 0) : dlopen(path, RTLD_NOW | RTLD_LOCAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!h) {
        printf("refused: %s\n", last_error(use_ldr));
        return 2;
    }
    int rc = use_ldr ? ldr_close(h) : dlclose(h);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (rc) {
        printf("refused: close failed: %s\n", last_error(use_ldr));
        return 2;
    }
    printf("%lld %lld\n", ns_between(&t0, &t1), ns_between(&t1, &t2));
    return 0;
}
