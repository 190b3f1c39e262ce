/* One file into one module: validated, mapped, its dynamic section read.
 * Dependencies and relocation come after, for the whole load at once. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ldr_internal.h"

int open_elf(const char *path, struct elf_file *f)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        memset(f, 0, sizeof *f);
        fail(path, "cannot open: %s", strerror(errno));
        return ELF_MISSING;
    }
    return open_elf_fd(path, fd, f);
}

/* Takes over FD, which holds the content of PATH. */
int open_elf_fd(const char *path, int fd, struct elf_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = fd;
    int r = read_elf(f);
    if (r != ELF_OK) {
        close(f->fd);
        f->fd = -1;
        free(f->head);
        f->head = NULL;
    }
    return r;
}

void close_elf(struct elf_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->phdr);
    f->phdr = NULL;
    free(f->head);
    f->head = NULL;
}

/* Whether any page of [vaddr, vaddr+len) is mapped writable: relocation
 * could rewrite what lies there after every check. */
static bool on_writable_page(const struct module *m, uintptr_t vaddr, size_t len)
{
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type == PT_LOAD && (p->p_flags & PF_W) && p->p_memsz && p->p_vaddr / PAGE <= (vaddr + len - 1) / PAGE &&
            vaddr / PAGE <= (p->p_vaddr + p->p_memsz - 1) / PAGE)
            return true;
    }
    return false;
}

/* The program headers where the image has them (the first segment maps
 * them, as a rule), once they read as the validated copy does: the copy is
 * then given back. The system loader keeps them there too. Not from a
 * page mapped writable, which a relocation could rewrite after the checks
 * (segments may share pages). Where the module keeps its first segment's
 * tables, the headers are read with them, and from there. */
static void use_mapped_phdrs(struct module *m, const Elf64_Ehdr *eh)
{
    size_t len = m->phnum * sizeof *m->phdr;
    if (m->tables) {
        if (eh->e_phoff <= m->tables_len && m->tables_len - eh->e_phoff >= len &&
            eh->e_phoff % _Alignof(Elf64_Phdr) == 0) {
            free(m->phdr);
            m->phdr = (Elf64_Phdr *)(m->tables + eh->e_phoff);
            m->phdr_mapped = true;
        }
        return;
    }
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type != PT_LOAD || (p->p_flags & PF_W) || eh->e_phoff < p->p_offset ||
            eh->e_phoff - p->p_offset > p->p_filesz ||
            p->p_filesz - (eh->e_phoff - p->p_offset) < len)
            continue;
        uintptr_t vaddr = p->p_vaddr + (eh->e_phoff - p->p_offset);
        Elf64_Phdr *mapped = image_ptr(m, vaddr, len);
        if (mapped && (uintptr_t)mapped % _Alignof(Elf64_Phdr) == 0 && !on_writable_page(m, vaddr, len) &&
            memcmp(mapped, m->phdr, len) == 0) {
            free(m->phdr);
            m->phdr = mapped;
            m->phdr_mapped = true;
        }
        return;
    }
}

/* Takes over F (its descriptor is closed, its program headers kept). */
int load_elf(struct elf_file *f, int flags, struct module **out)
{
    struct module *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(f->path))) {
        if (m) {
            free(m->path);
            free(m);
        }
        close_elf(f);
        return fail(f->path, "out of memory");
    }
    const char *slash = strrchr(m->path, '/');
    m->name = slash ? slash + 1 : m->path;
    m->file = (struct file_id){.dev = f->dev, .ino = f->ino, .size = f->size,
                               .mtime_ns = f->mtime_ns, .ctime_ns = f->ctime_ns};
    m->flags = flags;
    m->phdr = f->phdr;
    m->phnum = f->phnum;
    m->tables = f->head;
    m->tables_vaddr = f->head_vaddr;
    m->tables_len = f->head_len;
    f->head = NULL;
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type == PT_DYNAMIC)
            m->dynamic = (const Elf64_Dyn *)p->p_vaddr; /* made absolute below */
        if (p->p_type == PT_GNU_RELRO) {
            m->relro_start = p->p_vaddr;
            m->relro_end = p->p_vaddr + p->p_memsz;
        }
    }
    Elf64_Dyn *dyn = NULL;
    size_t ndyn = 0;
    int r = map_image(m, f);
    f->phdr = NULL; /* the module owns them now */
    if (r == 0) {
        use_mapped_phdrs(m, &f->ehdr);
        r = read_dynamic(f, &dyn, &ndyn);
    }
    close_elf(f);
    if (r == 0) {
        m->dynamic = (const Elf64_Dyn *)(m->base + (uintptr_t)m->dynamic);
        if (m->relro_end > m->relro_start && !relro_fits(m))
            r = fail(m->path, "RELRO segment lies outside the loaded segment it begins in");
        else
            r = parse_dynamic(m, dyn, ndyn);
    }
    free(dyn);
    if (r == 0)
        r = prefault_relocations(m);
    if (r == 0)
        r = tls_register(m);
    if (r < 0) {
        destroy_module(m);
        return -1;
    }
    trace(T_FILES, "%s: loaded at base %#lx, %#zx bytes%s%s", m->path, (unsigned long)m->base,
          m->map_size, m->soname ? ", soname " : "", m->soname ? m->soname : "");
    *out = m;
    return 0;
}

/* Anonymous files for loads from memory and private snapshots: the name
 * shows in /proc/self/maps as "/memfd:NAME", so tools still see one. The
 * system call is made directly: glibc has had a wrapper only since 2.27. */
static int memfd_named(const char *name)
{
    const char *slash = strrchr(name, '/');
    int fd = (int)syscall(SYS_memfd_create, slash ? slash + 1 : name, 1u /* MFD_CLOEXEC */);
    if (fd < 0)
        fail(name, "cannot create an anonymous file (memfd_create): %s", strerror(errno));
    return fd;
}

static int write_all(int fd, const void *data, size_t size)
{
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, (const char *)data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += n;
    }
    return 0;
}

int memfd_with(const char *name, const void *data, size_t size)
{
    int fd = memfd_named(name);
    if (fd >= 0 && write_all(fd, data, size) < 0) {
        fail(name, "cannot copy the image: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    return fd;
}

/* A private copy of the file open as SRC, so that rewriting the file in
 * place cannot change code already loaded from it. */
int memfd_copy(const char *path, int src)
{
    int fd = memfd_named(path);
    char buf[65536];
    off_t at = 0;
    for (ssize_t n; fd >= 0 && (n = pread(src, buf, sizeof buf, at)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || write_all(fd, buf, n) < 0) {
            fail(path, "cannot copy the file: %s", strerror(errno));
            close(fd);
            return -1;
        }
        at += n;
    }
    return fd;
}
