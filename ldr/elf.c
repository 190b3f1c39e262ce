/* The file: its ELF header and program headers, checked before anything
 * of it is trusted. Every offset and size is checked overflow-safe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldr_internal.h"

/* The first read of a file, and the most of a small library's first
 * segment kept (keep_tables). */
#define HEAD 4096u
/* Larger than any real shared object; keeps a lying p_memsz from asking
 * the kernel for the whole address space. */
#define MAX_SPAN ((uint64_t)1 << 40)

int read_at(const struct elf_file *f, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, off + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(f->path, "read error: %s", n ? strerror(errno) : "unexpected end of file");
        done += n;
    }
    return 0;
}

static bool in_file(const struct elf_file *f, uint64_t off, uint64_t len)
{
    return off <= (uint64_t)f->size && (uint64_t)f->size - off >= len;
}

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_AARCH64: return "aarch64";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390";
    default: return "another machine";
    }
}

static int check_ehdr(struct elf_file *f)
{
    const Elf64_Ehdr *e = &f->ehdr;
    if (f->size < (off_t)EI_NIDENT || memcmp(e->e_ident, ELFMAG, SELFMAG) != 0)
        return fail(f->path, "not an ELF file (no ELF magic number)");
    if (e->e_ident[EI_CLASS] != ELFCLASS64)
        return e->e_ident[EI_CLASS] == ELFCLASS32
                   ? fail(f->path, "32-bit ELF object; ldr loads 64-bit " LDR_MACHINE_NAME " objects")
                   : fail(f->path, "unknown ELF class %u", e->e_ident[EI_CLASS]);
    if (f->size < (off_t)sizeof *e)
        return fail(f->path, "truncated: %lld bytes, shorter than an ELF header", (long long)f->size);
    if (e->e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(f->path, "big-endian ELF object; " LDR_MACHINE_NAME " is little-endian");
    if (e->e_ident[EI_VERSION] != EV_CURRENT || e->e_version != EV_CURRENT)
        return fail(f->path, "unknown ELF version %u", e->e_ident[EI_VERSION]);
    if (e->e_machine != LDR_MACHINE)
        return fail(f->path, "built for machine %u (%s), not " LDR_MACHINE_NAME,
                    e->e_machine, machine_name(e->e_machine));
    if (e->e_type == ET_EXEC)
        return fail(f->path, "an executable (ET_EXEC), not a shared library");
    if (e->e_type != ET_DYN)
        return fail(f->path, "not a shared object (ELF type %u)", e->e_type);
    if (e->e_phentsize != sizeof(Elf64_Phdr))
        return fail(f->path, "bad program header entry size %u (expected %zu)",
                    e->e_phentsize, sizeof(Elf64_Phdr));
    if (e->e_phnum == 0)
        return fail(f->path, "no program headers");
    if (e->e_phnum == PN_XNUM)
        return fail(f->path, "too many program headers (PN_XNUM)");
    if (!in_file(f, e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr)))
        return fail(f->path, "truncated: %u program headers at offset %#llx run past the end of the file (%lld bytes)",
                    e->e_phnum, (unsigned long long)e->e_phoff, (long long)f->size);
    return 0;
}

static int check_phdrs(struct elf_file *f)
{
    const Elf64_Phdr *load_prev = NULL, *dyn = NULL;
    for (size_t i = 0; i < f->phnum; i++) {
        const Elf64_Phdr *p = &f->phdr[i];
        switch (p->p_type) {
        case PT_LOAD:
            if (p->p_filesz > p->p_memsz)
                return fail(f->path, "segment %zu: file size %#llx larger than memory size %#llx",
                            i, (unsigned long long)p->p_filesz, (unsigned long long)p->p_memsz);
            if (!in_file(f, p->p_offset, p->p_filesz))
                return fail(f->path, "truncated: segment %zu (offset %#llx, %#llx bytes) lies outside the file (%lld bytes)",
                            i, (unsigned long long)p->p_offset, (unsigned long long)p->p_filesz,
                            (long long)f->size);
            if (p->p_memsz > MAX_SPAN || p->p_vaddr > MAX_SPAN)
                return fail(f->path, "segment %zu: implausibly large (address %#llx, size %#llx)",
                            i, (unsigned long long)p->p_vaddr, (unsigned long long)p->p_memsz);
            if (p->p_align > 1 && (p->p_align & (p->p_align - 1)))
                return fail(f->path, "segment %zu: alignment %#llx is not a power of two",
                            i, (unsigned long long)p->p_align);
            if ((p->p_vaddr - p->p_offset) % PAGE)
                return fail(f->path, "segment %zu: address and file offset disagree modulo the page size", i);
            if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
                return fail(f->path, "segment %zu is writable and executable; ldr never maps such memory", i);
            if (load_prev) {
                if (p->p_vaddr < load_prev->p_vaddr)
                    return fail(f->path, "segment %zu: loadable segments out of order", i);
                if (p->p_vaddr < load_prev->p_vaddr + load_prev->p_memsz)
                    return fail(f->path, "segment %zu: loadable segments overlap", i);
            }
            load_prev = p;
            break;
        case PT_DYNAMIC:
            dyn = p;
            break;
        case PT_GNU_STACK:
            if (p->p_flags & PF_X)
                return fail(f->path, "needs an executable stack (PT_GNU_STACK is executable); ldr refuses it");
            break;
        }
    }
    if (!load_prev)
        return fail(f->path, "no loadable segments");
    if (!dyn)
        return fail(f->path, "no dynamic section (PT_DYNAMIC): not a shared library");
    if (dyn->p_filesz < sizeof(Elf64_Dyn) || dyn->p_memsz < dyn->p_filesz)
        return fail(f->path, "dynamic section too small");
    if (dyn->p_vaddr % _Alignof(Elf64_Dyn))
        return fail(f->path, "dynamic section at %#llx is misaligned", (unsigned long long)dyn->p_vaddr);
    const Elf64_Phdr *holder = NULL;
    for (size_t i = 0; i < f->phnum && !holder; i++) {
        const Elf64_Phdr *p = &f->phdr[i];
        if (p->p_type == PT_LOAD && dyn->p_vaddr >= p->p_vaddr && dyn->p_vaddr - p->p_vaddr <= p->p_filesz &&
            p->p_filesz - (dyn->p_vaddr - p->p_vaddr) >= dyn->p_filesz)
            holder = p;
    }
    if (!holder)
        return fail(f->path, "dynamic section lies outside every loadable segment");
    if (!(holder->p_flags & PF_R))
        return fail(f->path, "dynamic section lies in a segment that is not readable");
    f->dynamic_off = holder->p_offset + (dyn->p_vaddr - holder->p_vaddr);
    f->dynamic_size = dyn->p_filesz - dyn->p_filesz % sizeof(Elf64_Dyn);
    f->dynamic_zero_tail = dyn->p_memsz - f->dynamic_size >= sizeof(Elf64_Dyn);
    return 0;
}

/* The dynamic section as the file holds it, for parse_dynamic: read from
 * the file, not through the image, where the first read would map a page
 * that relocation is about to copy (a second fault for one page). */
int read_dynamic(const struct elf_file *f, Elf64_Dyn **dyn, size_t *n)
{
    size_t n_file = f->dynamic_size / sizeof **dyn;
    *n = n_file + f->dynamic_zero_tail;
    *dyn = malloc(*n * sizeof **dyn);
    if (!*dyn)
        return fail(f->path, "out of memory");
    if (read_at(f, *dyn, f->dynamic_size, f->dynamic_off) < 0) {
        free(*dyn);
        *dyn = NULL;
        return -1;
    }
    if (f->dynamic_zero_tail)
        memset(&(*dyn)[n_file], 0, sizeof **dyn);
    return 0;
}

/* The first segment, if the first read held it and it is only read
 * (where the linker puts the symbol, string, hash and relocation tables):
 * reading them from this copy spares a fault on its page, which nothing
 * else reads, for as much as that read cost (a page of it at most). */
static bool keep_tables(struct elf_file *f, const unsigned char *start, size_t head)
{
    const Elf64_Phdr *first = NULL;
    for (size_t i = 0; i < f->phnum && !first; i++)
        if (f->phdr[i].p_type == PT_LOAD)
            first = &f->phdr[i];
    if (first->p_offset || !first->p_filesz || first->p_filesz > head ||
        (first->p_flags & (PF_R | PF_W | PF_X)) != PF_R)
        return true;
    if (!(f->head = malloc(first->p_filesz))) {
        free(f->phdr);
        f->phdr = NULL;
        fail(f->path, "out of memory");
        return false;
    }
    memcpy(f->head, start, first->p_filesz);
    f->head_vaddr = first->p_vaddr;
    f->head_len = first->p_filesz;
    return true;
}

/* ELF_WRONG_KIND: a valid object of another class or machine, which a
 * library search skips as the system loader does. */
int read_elf(struct elf_file *f)
{
    struct stat st;
    if (ldr_fstat(f->fd, &st) < 0)
        return fail(f->path, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(f->path, "not a regular file");
    f->size = st.st_size;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    f->ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    if (f->size == 0)
        return fail(f->path, "empty file");
    /* One read brings the program headers too, as a rule: they follow
     * the file header; and a small library's whole first segment, which
     * holds its tables, with them. */
    unsigned char start[HEAD];
    size_t head = f->size < (off_t)sizeof start ? (size_t)f->size : sizeof start;
    if (read_at(f, start, head, 0) < 0)
        return ELF_BAD;
    memset(&f->ehdr, 0, sizeof f->ehdr);
    memcpy(&f->ehdr, start, head < sizeof f->ehdr ? head : sizeof f->ehdr);
    if (check_ehdr(f) < 0) {
        bool other_kind = f->size >= (off_t)sizeof f->ehdr &&
                          memcmp(f->ehdr.e_ident, ELFMAG, SELFMAG) == 0 &&
                          (f->ehdr.e_ident[EI_CLASS] != ELFCLASS64 || f->ehdr.e_machine != LDR_MACHINE);
        return other_kind ? ELF_WRONG_KIND : ELF_BAD;
    }
    f->phnum = f->ehdr.e_phnum;
    f->phdr = malloc(f->phnum * sizeof *f->phdr);
    if (!f->phdr)
        return fail(f->path, "out of memory");
    size_t len = f->phnum * sizeof *f->phdr;
    if (f->ehdr.e_phoff <= head && head - f->ehdr.e_phoff >= len)
        memcpy(f->phdr, start + f->ehdr.e_phoff, len);
    else if (read_at(f, f->phdr, len, f->ehdr.e_phoff) < 0) {
        free(f->phdr);
        f->phdr = NULL;
        return ELF_BAD;
    }
    if (check_phdrs(f) < 0) {
        free(f->phdr);
        f->phdr = NULL;
        return ELF_BAD;
    }
    return keep_tables(f, start, head) ? ELF_OK : ELF_BAD;
}
