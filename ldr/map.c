/* The image in memory: the first PT_LOAD mapped over the whole span, each
 * other given its own protections where that mapping shows its file pages
 * and mapped from the file over it where not (so the path shows in
 * /proc/self/maps, perf and valgrind), anonymous pages for .bss and for a
 * large RELRO (read_relro), RELRO made read-only once relocation is done. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ldr_internal.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

static int prot_of(unsigned flags)
{
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
           (flags & PF_X ? PROT_EXEC : 0);
}

/* Under valgrind, each segment gets a mapping of its own, as the system
 * loader maps them: valgrind (3.19) reads a plugin's debug information
 * only from a mapping that makes code executable (an mprotect is not
 * enough: tests/memcheck.sh), and aborts on the second load of a file
 * whose read-only data had no mapping of its own. Without its header to
 * ask, ldr maps as if it were there. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#else
#define UNDER_VALGRIND() 1
#endif

/* Whether anonymous memory may come in huge pages: the kernel has
 * transparent huge pages, not turned off ("[never]"), and LDR_HUGEPAGES
 * is not 0. Asked once. */
static bool huge_pages_usable(void)
{
    static int usable = -1;
    int u = __atomic_load_n(&usable, __ATOMIC_RELAXED);
    if (u < 0) {
        const char *env = env_value("LDR_HUGEPAGES");
        char setting[64] = "";
        int fd = env && strcmp(env, "0") == 0 ? -1 : open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, setting, sizeof setting - 1);
            setting[n > 0 ? n : 0] = 0;
            close(fd);
        }
        u = setting[0] && !strstr(setting, "[never]");
        __atomic_store_n(&usable, u, __ATOMIC_RELAXED);
    }
    return u;
}

/* Free blocks of at least a huge page, in huge pages, over the zones
 * /proc/buddyinfo lists but DMA (which the kernel keeps for itself); 0
 * when it cannot be read. Lines read "Node 0, zone   Normal  C0 ... C10",
 * the free blocks of each order. */
static size_t free_huge_pages(void)
{
    char buf[4096];
    int fd = open("/proc/buddyinfo", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t total = 0;
    for (char *line = buf, *next; line; line = next) {
        if ((next = strchr(line, '\n')))
            *next++ = 0;
        char *p = strstr(line, "zone");
        if (!p)
            continue;
        for (p += 4; *p == ' '; p++)
            ;
        if (strncmp(p, "DMA ", 4) == 0 || !(p = strchr(p, ' ')))
            continue;
        for (unsigned order = 0;; order++) {
            char *end;
            unsigned long count = strtoul(p, &end, 10);
            if (end == p)
                break;
            if (order >= 9)
                total += count << (order - 9);
            p = end;
        }
    }
    return total;
}

/* Where the writable segment P's RELRO pages end, when they are read
 * from the file into anonymous memory rather than mapped: 0 if not.
 * Relocation writes nearly every page of RELRO (it is data the linker put
 * there because it is relocated); mapped, each page is copied on its
 * first write, one fault a page (libLLVM-15: 2 000 pages, 4.4 to 5.5 ms
 * on a 2-CPU VM), where read into memory the kernel may back with huge
 * pages it costs 1.8 to 2.3 ms. Only for a RELRO that begins on the
 * segment's first page and holds a whole aligned huge page (the rest of
 * the segment, .data, which relocation may leave untouched, is mapped),
 * and only while the kernel has free blocks for twice the huge pages it
 * would take: short of them it would compact memory first, a stall of
 * milliseconds. */
static uintptr_t relro_read_end(const struct module *m, const Elf64_Phdr *p)
{
    uintptr_t start = PAGE_DOWN(m->base + p->p_vaddr);
    uintptr_t end = PAGE_DOWN(m->base + m->relro_end);
    if (end > PAGE_DOWN(m->base + p->p_vaddr + p->p_filesz))
        end = PAGE_DOWN(m->base + p->p_vaddr + p->p_filesz);
    uintptr_t first = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), last = end & ~(HUGE_PAGE - 1);
    if (prot_of(p->p_flags) != (PROT_READ | PROT_WRITE) || m->relro_end <= m->relro_start ||
        PAGE_DOWN(m->relro_start) != PAGE_DOWN(p->p_vaddr) || last <= first || !huge_pages_usable() ||
        free_huge_pages() < 2 * ((last - first) / HUGE_PAGE))
        return 0;
    return end;
}

/* [start, end) of the image as anonymous memory, huge pages asked for,
 * filled from the file at OFF. */
static int read_relro(struct module *m, const struct elf_file *f, uintptr_t start, uintptr_t end, off_t off)
{
    if (mmap((void *)start, end - start, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
        MAP_FAILED)
        return fail(m->path, "cannot map RELRO: %s", strerror(errno));
    madvise((void *)start, end - start, MADV_HUGEPAGE); /* a wish: small pages do too */
    return read_at(f, (void *)start, end - start, off);
}

/* Where the span's mapping (the file from the first segment SPAN's page on)
 * shows P's file pages at P's place, the segment needs only its protections (an
 * mprotect, cheaper than a mapping: most libraries' text and read-only
 * data lie so); otherwise its own mapping. NULL SPAN: no span mapping. */
static int map_segment(struct module *m, const struct elf_file *f, const Elf64_Phdr *p, const Elf64_Phdr *span)
{
    uintptr_t start = PAGE_DOWN(m->base + p->p_vaddr);
    uintptr_t file_end = m->base + p->p_vaddr + p->p_filesz;
    uintptr_t mem_end = PAGE_UP(m->base + p->p_vaddr + p->p_memsz);
    int prot = prot_of(p->p_flags);
    bool shown = span && (p == span || (!UNDER_VALGRIND() && PAGE_DOWN(p->p_offset) - PAGE_DOWN(span->p_offset) ==
                                                                 start - (uintptr_t)m->map_start));

    if (p->p_filesz && shown) {
        if (prot != prot_of(span->p_flags) && mprotect((void *)start, PAGE_UP(file_end) - start, prot) < 0)
            return fail(m->path, "cannot protect segment at %#llx: %s", (unsigned long long)p->p_vaddr,
                        strerror(errno));
    } else if (p->p_filesz) {
        uintptr_t read_end = relro_read_end(m, p), mapped = read_end ? read_end : start;
        off_t off = PAGE_DOWN(p->p_offset);
        if (read_end && read_relro(m, f, start, read_end, off) < 0)
            return -1;
        if (read_end)
            m->relro_read_end = read_end - m->base;
        if (PAGE_UP(file_end) > mapped && mmap((void *)mapped, PAGE_UP(file_end) - mapped, prot, MAP_PRIVATE | MAP_FIXED,
                                               f->fd, off + (off_t)(mapped - start)) == MAP_FAILED)
            return fail(m->path, "cannot map segment at %#llx: %s",
                        (unsigned long long)p->p_vaddr, strerror(errno));
    }
    if (p->p_memsz > p->p_filesz) {
        /* The file page holding the end of .data continues with .bss,
         * which must read as zeros, not as whatever follows in the file.
         * A writable segment's is cleared with the pages relocation writes
         * (populate_writes), which it is as a rule. */
        uintptr_t tail = PAGE_UP(file_end);
        if (p->p_filesz && (file_end & (PAGE - 1)) && !(prot & PROT_WRITE)) {
            if (mprotect((void *)PAGE_DOWN(file_end), PAGE, prot | PROT_WRITE) < 0)
                return fail(m->path, "cannot clear .bss: %s", strerror(errno));
            memset((void *)file_end, 0, tail - file_end);
            if (mprotect((void *)PAGE_DOWN(file_end), PAGE, prot) < 0)
                return fail(m->path, "cannot protect .bss: %s", strerror(errno));
        } else if (!p->p_filesz) {
            tail = start;
        }
        if (mem_end > tail &&
            mmap((void *)tail, mem_end - tail, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
            return fail(m->path, "cannot map .bss: %s", strerror(errno));
    }
    return 0;
}

/* Pages of the span that no segment covers would show the file through
 * the first segment's mapping: they get no access, as in a reservation. */
static int close_holes(struct module *m, const struct elf_file *f)
{
    uintptr_t end = (uintptr_t)m->map_start;
    for (size_t i = 0; i < f->phnum; i++) {
        const Elf64_Phdr *p = &f->phdr[i];
        if (p->p_type != PT_LOAD)
            continue;
        uintptr_t start = PAGE_DOWN(m->base + p->p_vaddr);
        if (start > end && mprotect((void *)end, start - end, PROT_NONE) < 0)
            return fail(m->path, "cannot protect the gap before segment %zu: %s", i, strerror(errno));
        if (PAGE_UP(m->base + p->p_vaddr + p->p_memsz) > end)
            end = PAGE_UP(m->base + p->p_vaddr + p->p_memsz);
    }
    return 0;
}

/* Under LeakSanitizer, memory a module's data points to is not leaked:
 * the sanitizer learns of the system loader's objects by itself, of ldr's
 * only through root regions. Weak references: the sanitizer's runtime is
 * loaded with the program or not at all, so the system loader binds them
 * at start-up, and a process without it pays no failing dlsym. */
extern void __lsan_register_root_region(const void *, size_t) __attribute__((weak));
extern void __lsan_unregister_root_region(const void *, size_t) __attribute__((weak));

static void tell_leak_checker(const struct module *m, bool mapped)
{
    if (!__lsan_register_root_region || !__lsan_unregister_root_region)
        return;
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_W))
            continue;
        const void *start = (const void *)PAGE_DOWN(m->base + p->p_vaddr);
        size_t len = PAGE_UP(m->base + p->p_vaddr + p->p_memsz) - (uintptr_t)start;
        (mapped ? __lsan_register_root_region : __lsan_unregister_root_region)(start, len);
    }
}

int map_image(struct module *m, const struct elf_file *f)
{
    const Elf64_Phdr *first = NULL;
    uintptr_t lo = UINTPTR_MAX, hi = 0, align = PAGE;
    for (size_t i = 0; i < f->phnum; i++) {
        const Elf64_Phdr *p = &f->phdr[i];
        if (p->p_type != PT_LOAD)
            continue;
        if (!first)
            first = p; /* read_elf checked that they come in address order */
        if (p->p_vaddr < lo)
            lo = p->p_vaddr;
        if (p->p_vaddr + p->p_memsz > hi)
            hi = p->p_vaddr + p->p_memsz;
        if (p->p_align > align)
            align = p->p_align;
    }
    lo = PAGE_DOWN(lo);
    size_t span = PAGE_UP(hi) - lo;
    unsigned char *start;
    bool spanned = false;
    if (align == PAGE && first->p_filesz && !(first->p_flags & PF_W)) {
        /* The first segment's mapping reserves the span, as the system
         * loader's does: one mapping fewer. */
        start = mmap(NULL, span, prot_of(first->p_flags), MAP_PRIVATE, f->fd, PAGE_DOWN(first->p_offset));
        if (start == MAP_FAILED)
            return fail(m->path, "cannot map %zu bytes: %s", span, strerror(errno));
        spanned = true;
    } else {
        if (align > ((uintptr_t)1 << 30))
            align = (uintptr_t)1 << 30;
        /* Over-reserve so that the image can start on its largest p_align
         * (huge-page aligned text, for instance), then give back the slack. */
        size_t slack = align - PAGE;
        unsigned char *raw = mmap(NULL, span + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED)
            return fail(m->path, "cannot reserve %zu bytes of address space: %s", span, strerror(errno));
        start = (unsigned char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
        if (start > raw)
            munmap(raw, start - raw);
        if (raw + span + slack > start + span)
            munmap(start + span, raw + span + slack - (start + span));
    }
    m->map_start = start;
    m->map_size = span;
    m->base = (uintptr_t)start - lo;
    int r = 0;
    for (size_t i = 0; i < f->phnum && r == 0; i++)
        if (f->phdr[i].p_type == PT_LOAD)
            r = map_segment(m, f, &f->phdr[i], spanned ? first : NULL);
    if (r == 0 && spanned)
        r = close_holes(m, f);
    if (r < 0) {
        unmap_image(m);
        return -1;
    }
    tell_leak_checker(m, true);
    m->leak_checked = true;
    return 0;
}

static bool holds(const Elf64_Phdr *p, uintptr_t vaddr, size_t len)
{
    return p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr - p->p_vaddr <= p->p_memsz &&
           p->p_memsz - (vaddr - p->p_vaddr) >= len;
}

/* Relocations come in runs against one segment: the last answer is tried
 * first. Initial-exec, as ldr's other thread variables (tls.c): without,
 * each call would pay a __tls_get_addr. */
static const Elf64_Phdr *segment_at(const struct module *m, uintptr_t vaddr, size_t len)
{
    static __attribute__((tls_model("initial-exec"))) __thread const Elf64_Phdr *last;
    if (last >= m->phdr && last < m->phdr + m->phnum && holds(last, vaddr, len))
        return last;
    for (size_t i = 0; i < m->phnum; i++)
        if (holds(&m->phdr[i], vaddr, len))
            return last = &m->phdr[i];
    return NULL;
}

/* The address of [vaddr, vaddr+len) if one readable loaded segment holds
 * all of it: the tables a file describes are read through this. */
void *image_ptr(const struct module *m, uintptr_t vaddr, size_t len)
{
    const Elf64_Phdr *p = segment_at(m, vaddr, len);
    return p && (p->p_flags & PF_R) ? (void *)(m->base + vaddr) : NULL;
}

/* Where the file's tables at [vaddr, vaddr+len) are read: the module's
 * copy of its first segment when that holds them all, else the image.
 * Not for what relocation rewrites, nor where an address matters. */
const void *table_ptr(const struct module *m, uintptr_t vaddr, size_t len)
{
    if (m->tables && vaddr >= m->tables_vaddr && vaddr - m->tables_vaddr <= m->tables_len &&
        m->tables_len - (vaddr - m->tables_vaddr) >= len)
        return m->tables + (vaddr - m->tables_vaddr);
    return image_ptr(m, vaddr, len);
}

/* Relocations may write only where the file asked for writable memory:
 * the segment that holds [vaddr, vaddr+len), if it is writable. */
const Elf64_Phdr *writable_segment(const struct module *m, uintptr_t vaddr, size_t len)
{
    const Elf64_Phdr *p = segment_at(m, vaddr, len);
    return p && (p->p_flags & PF_W) ? p : NULL;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; glibc 2.35's headers */
#endif

/* Where a writable segment's .bss begins part-way into its last file
 * page, which populate_writes clears; 0 when it does not. */
static uintptr_t bss_in_page(const struct module *m, const Elf64_Phdr *p)
{
    uintptr_t file_end = m->base + p->p_vaddr + p->p_filesz;
    return p->p_type == PT_LOAD && (p->p_flags & PF_W) && p->p_memsz > p->p_filesz && p->p_filesz &&
                   (file_end & (PAGE - 1))
               ? file_end
               : 0;
}

void page_set_add(struct page_set *ps, uintptr_t addr)
{
    size_t i = (addr - ps->first) / PAGE;
    if (addr >= ps->first && i < ps->npages)
        ps->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool page_marked(const struct page_set *ps, size_t i)
{
    return ps->bits[i / 64] >> (i % 64) & 1;
}

/* Faults in at once the whole pages of [START, START+LEN), about to be
 * written: one system call, where each page would trap on its first write
 * (see populate_writes). Nothing happens without MADV_POPULATE_WRITE
 * (before Linux 5.14), or to memory that cannot be written. */
void prefault(void *start, size_t len)
{
    static bool unsupported;
    uintptr_t from = PAGE_UP((uintptr_t)start), to = PAGE_DOWN((uintptr_t)start + len);
    if (to > from && !__atomic_load_n(&unsupported, __ATOMIC_RELAXED) &&
        madvise((void *)from, to - from, MADV_POPULATE_WRITE) < 0 && errno == EINVAL)
        __atomic_store_n(&unsupported, true, __ATOMIC_RELAXED);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* ldr's own code and read-only data, mapped in at once by the first load
 * of a process: ldr's code has not run before, and its pages would fault
 * in one by one (the kernel maps 16 at a fault), 13 to 25 us a fault on a
 * 2-CPU VM, where the system loader's code is warm from the program's
 * start. Only in the shared library (libtool's PIC), whose own ELF header
 * __ehdr_start is: linked into a program, ldr's code is the program's. */
void prefault_self(void)
{
#ifdef PIC
    /* Declared of unknown size: the program headers follow the header. */
    extern const unsigned char __ehdr_start[] __attribute__((visibility("hidden")));
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)__ehdr_start;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(__ehdr_start + eh->e_phoff);
    uintptr_t bias = 0, from = 0, to = 0;
    for (size_t i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            bias = (uintptr_t)eh - ph[i].p_vaddr;
    for (size_t i = 0; i <= eh->e_phnum; i++) {
        const Elf64_Phdr *p = i < eh->e_phnum ? &ph[i] : NULL;
        if (p && (p->p_type != PT_LOAD || (p->p_flags & PF_W)))
            continue;
        uintptr_t start = p ? PAGE_DOWN(bias + p->p_vaddr) : 0, end = p ? PAGE_UP(bias + p->p_vaddr + p->p_memsz) : 0;
        if (p && start == to) {
            to = end; /* one call for the segments that follow each other */
            continue;
        }
        if (to > from)
            madvise((void *)from, to - from, MADV_POPULATE_READ);
        from = start, to = end;
    }
#endif
}

/* The file's tables at [LO, HI) (file addresses), which the load reads
 * from end to end, mapped in at once where the image shows them: a read
 * fault maps 16 pages, and libpython3.11's megabyte of them took 16 faults.
 * Only inside one segment that is only read, and not where the module
 * reads its own copy of them (a small library: no fault to spare). */
void prefault_tables(const struct module *m, uint64_t lo, uint64_t hi)
{
    const Elf64_Phdr *p = hi > lo ? segment_at(m, lo, hi - lo) : NULL;
    if (!p || (p->p_flags & PF_W) || table_ptr(m, lo, hi - lo) != image_ptr(m, lo, hi - lo))
        return;
    uintptr_t from = PAGE_DOWN(m->base + lo), to = PAGE_UP(m->base + hi);
    madvise((void *)from, to - from, MADV_POPULATE_READ);
}

/* Copies, in one system call per run, the pages of PS (which relocation
 * is about to write) and those where a writable segment's .bss begins,
 * which are then cleared. Each page is copied on its first write either
 * way, but a fault is a trap per page, which a virtual machine makes
 * dear: on a 2-CPU VM with shadow page tables, 13 to 25 us a page as a
 * write fault, 1.2 us populated and 5 more at its first touch
 * (libpython3.11's 314 pages: its load 4.5 ms before, 2.9 after). Pages
 * nothing writes stay untouched. Without MADV_POPULATE_WRITE (before
 * Linux 5.14) they fault as they are written. */
void populate_writes(struct module *m, struct page_set *ps)
{
    for (size_t i = 0; i < m->phnum; i++) {
        uintptr_t at = bss_in_page(m, &m->phdr[i]);
        if (at)
            page_set_add(ps, at);
    }
    for (size_t i = 0; i < ps->npages;) {
        if (!page_marked(ps, i)) {
            i++;
            continue;
        }
        size_t run = i;
        while (i < ps->npages && page_marked(ps, i))
            i++;
        prefault((void *)(ps->first + run * PAGE), (i - run) * PAGE);
    }
    for (size_t i = 0; i < m->phnum; i++) {
        uintptr_t at = bss_in_page(m, &m->phdr[i]);
        if (at)
            memset((void *)at, 0, PAGE_UP(at) - at);
    }
}

bool executable_at(const struct module *m, uintptr_t vaddr)
{
    const Elf64_Phdr *p = segment_at(m, vaddr, 1);
    return p && (p->p_flags & PF_X);
}

/* Whether the pages protect_relro makes read-only all belong to the
 * loaded segment where RELRO begins. lld ends RELRO on the page boundary
 * past that segment's end: its last page covers the rest. */
bool relro_fits(const struct module *m)
{
    const Elf64_Phdr *p = segment_at(m, m->relro_start, 1);
    return p && PAGE_DOWN(m->relro_end) <= PAGE_UP(p->p_vaddr + p->p_memsz);
}

int protect_relro(struct module *m)
{
    if (m->relro_end <= m->relro_start)
        return 0;
    uintptr_t start = PAGE_DOWN(m->base + m->relro_start);
    uintptr_t end = PAGE_DOWN(m->base + m->relro_end);
    if (end > start && mprotect((void *)start, end - start, PROT_READ) < 0)
        return fail(m->path, "cannot make RELRO read-only: %s", strerror(errno));
    return 0;
}

void unmap_image(struct module *m)
{
    if (m->leak_checked)
        tell_leak_checker(m, false);
    m->leak_checked = false;
    if (m->map_start)
        munmap(m->map_start, m->map_size);
    m->map_start = NULL;
}
