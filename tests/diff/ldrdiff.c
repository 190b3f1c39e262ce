/* The differential checker: loads one shared library with the system
 * loader (dlopen RTLD_NOW|RTLD_LOCAL) and with ldr (LDR_NOINIT), then
 * compares every word a dynamic relocation (RELA, JMPREL, RELR) wrote.
 *
 * A word is compared by what it means, not by its bits: an address inside
 * a loaded object becomes (file, offset from the object's start), so that
 * a pointer into the library, or into a dependency each world loaded for
 * itself, compares equal; the C runtime and the host's libraries are one
 * copy shared by both worlds. The relocations are read from the file by
 * this program's own parser, independent of ldr's. Every other byte of
 * ldr's copy of the writable segments' file contents must be the file's:
 * what no relocation writes comes from the file unchanged, however ldr
 * brought it into memory.
 *
 *   ldrdiff [--order=ldr|dlopen] [--show=N] LIB
 *   ldrdiff --dlopen-only LIB
 *
 * --order says which world loads first (default ldr): the second one sees
 * the process as the first left it. Prints one line, then up to N
 * differences; the exit status is that of the line:
 *   0 OK, 1 DIFF, 2 REFUSED (ldr's reason), 3 SKIP (not a shared library,
 *   or the system loader cannot open it), 4 usage or I/O error. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldr.h>

enum { OK, DIFF, REFUSED, SKIP, ERROR };

/* ---- the file: its dynamic relocations, every offset bounds-checked ---- */

#define RELR_TYPE 0xffffffffu /* a word RELR wrote: B + the word's content */

struct word {
    uint64_t off;   /* file vaddr of the word */
    uint32_t type;  /* R_X86_64_*, or RELR_TYPE */
    uint32_t sym;
    int64_t addend; /* r_addend, or for RELR the word in the file */
};

struct lib {
    const char *path;
    const unsigned char *data;
    size_t size;
    const Elf64_Phdr *phdr;
    size_t phnum;
    const Elf64_Sym *symtab; /* NULL if the file has none */
    size_t nsyms;            /* an upper bound from the file's size */
    const char *strtab;
    size_t strsz;
    struct word *words;
    size_t nwords, cap;
};

static int skip(const char *path, const char *why)
{
    printf("SKIP %s: %s\n", path, why);
    return SKIP;
}

/* The file bytes behind [vaddr, vaddr + len), or NULL. */
static const void *at_vaddr(const struct lib *l, uint64_t vaddr, uint64_t len)
{
    for (size_t i = 0; i < l->phnum; i++) {
        const Elf64_Phdr *p = &l->phdr[i];
        if (p->p_type != PT_LOAD || vaddr < p->p_vaddr || vaddr - p->p_vaddr > p->p_filesz ||
            len > p->p_filesz - (vaddr - p->p_vaddr))
            continue;
        uint64_t off = p->p_offset + (vaddr - p->p_vaddr);
        if (off > l->size || len > l->size - off)
            return NULL;
        return l->data + off;
    }
    return NULL;
}

/* Whether [vaddr, vaddr + 8) lies in some segment's memory image. */
static bool in_image(const struct lib *l, uint64_t vaddr)
{
    for (size_t i = 0; i < l->phnum; i++) {
        const Elf64_Phdr *p = &l->phdr[i];
        if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && p->p_memsz >= 8 &&
            vaddr - p->p_vaddr <= p->p_memsz - 8)
            return true;
    }
    return false;
}

static void add_word(struct lib *l, uint64_t off, uint32_t type, uint32_t sym, int64_t addend)
{
    if (l->nwords == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->words = realloc(l->words, l->cap * sizeof *l->words);
        if (!l->words) {
            perror("ldrdiff");
            exit(ERROR);
        }
    }
    l->words[l->nwords++] = (struct word){off, type, sym, addend};
}

static bool add_rela(struct lib *l, uint64_t vaddr, uint64_t size)
{
    const Elf64_Rela *r = at_vaddr(l, vaddr, size);
    if (!r && size)
        return false;
    for (size_t i = 0; i < size / sizeof *r; i++)
        if (ELF64_R_TYPE(r[i].r_info) != R_X86_64_NONE)
            add_word(l, r[i].r_offset, ELF64_R_TYPE(r[i].r_info), ELF64_R_SYM(r[i].r_info), r[i].r_addend);
    return true;
}

/* The word the file holds at VADDR: a RELR relocation's addend. */
static int64_t file_word(const struct lib *l, uint64_t vaddr)
{
    const int64_t *p = at_vaddr(l, vaddr, 8);
    return p ? *p : 0;
}

static bool add_relr(struct lib *l, uint64_t vaddr, uint64_t size)
{
    const uint64_t *e = at_vaddr(l, vaddr, size);
    if (!e && size)
        return false;
    uint64_t where = 0;
    for (size_t i = 0; i < size / 8; i++) {
        if (!(e[i] & 1)) {
            where = e[i];
            add_word(l, where, RELR_TYPE, 0, file_word(l, where));
            where += 8;
            continue;
        }
        for (unsigned bit = 1; bit < 64; bit++)
            if ((e[i] >> bit) & 1)
                add_word(l, where + (bit - 1) * 8, RELR_TYPE, 0, file_word(l, where + (bit - 1) * 8));
        where += 63 * 8;
    }
    return true;
}

/* 0, or SKIP/ERROR with the line printed. */
static int read_lib(struct lib *l, const char *path)
{
    l->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        printf("ERROR %s: %s\n", path, strerror(errno));
        return ERROR;
    }
    l->size = st.st_size;
    if (l->size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return skip(path, "not an ELF shared object");
    }
    void *p = mmap(NULL, l->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        printf("ERROR %s: %s\n", path, strerror(errno));
        return ERROR;
    }
    l->data = p;
    const Elf64_Ehdr *eh = p;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_machine != EM_X86_64 || eh->e_type != ET_DYN)
        return skip(path, "not an x86_64 ELF shared object");
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > l->size ||
        eh->e_phnum > (l->size - eh->e_phoff) / sizeof(Elf64_Phdr))
        return skip(path, "program headers outside the file");
    l->phdr = (const Elf64_Phdr *)(l->data + eh->e_phoff);
    l->phnum = eh->e_phnum;
    const Elf64_Dyn *dyn = NULL;
    size_t ndyn = 0;
    for (size_t i = 0; i < l->phnum; i++)
        if (l->phdr[i].p_type == PT_DYNAMIC && l->phdr[i].p_offset <= l->size &&
            l->phdr[i].p_filesz <= l->size - l->phdr[i].p_offset) {
            dyn = (const Elf64_Dyn *)(l->data + l->phdr[i].p_offset);
            ndyn = l->phdr[i].p_filesz / sizeof *dyn;
        }
    if (!dyn)
        return skip(path, "no dynamic section");
    uint64_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0, relr = 0, relrsz = 0;
    uint64_t symtab = 0, strtab = 0, strsz = 0, pltrel = DT_RELA;
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        uint64_t v = dyn[i].d_un.d_val;
        switch (dyn[i].d_tag) {
        case DT_RELA: rela = v; break;
        case DT_RELASZ: relasz = v; break;
        case DT_JMPREL: jmprel = v; break;
        case DT_PLTRELSZ: pltrelsz = v; break;
        case DT_PLTREL: pltrel = v; break;
        case DT_RELR: relr = v; break;
        case DT_RELRSZ: relrsz = v; break;
        case DT_SYMTAB: symtab = v; break;
        case DT_STRTAB: strtab = v; break;
        case DT_STRSZ: strsz = v; break;
        }
    }
    if (pltrel != DT_RELA && pltrelsz)
        return skip(path, "DT_PLTREL is not DT_RELA");
    if (strtab && (l->strtab = at_vaddr(l, strtab, strsz)))
        l->strsz = strsz;
    /* The symbol count is not in the dynamic section; bound it by the
     * segment the table lies in. */
    for (size_t n = 1; symtab && at_vaddr(l, symtab, n * sizeof(Elf64_Sym)); n *= 2) {
        l->symtab = at_vaddr(l, symtab, sizeof(Elf64_Sym));
        l->nsyms = n;
    }
    if (!add_relr(l, relr, relrsz) || !add_rela(l, rela, relasz) || !add_rela(l, jmprel, pltrelsz))
        return skip(path, "relocation table outside the file");
    return 0;
}

static const char *sym_name(const struct lib *l, uint32_t sym)
{
    if (!sym || !l->symtab || sym >= l->nsyms || !l->strtab)
        return "";
    uint32_t off = l->symtab[sym].st_name;
    if (off >= l->strsz || !memchr(l->strtab + off, '\0', l->strsz - off))
        return "?";
    return l->strtab + off;
}

static const char *type_name(uint32_t type)
{
    static const char *const names[] = {
        [R_X86_64_64] = "64", [R_X86_64_GLOB_DAT] = "GLOB_DAT",
        [R_X86_64_JUMP_SLOT] = "JUMP_SLOT", [R_X86_64_RELATIVE] = "RELATIVE",
        [R_X86_64_DTPMOD64] = "DTPMOD64", [R_X86_64_DTPOFF64] = "DTPOFF64",
        [R_X86_64_TPOFF64] = "TPOFF64", [R_X86_64_TLSDESC] = "TLSDESC",
        [R_X86_64_IRELATIVE] = "IRELATIVE",
    };
    if (type == RELR_TYPE)
        return "RELR";
    return type < sizeof names / sizeof names[0] && names[type] ? names[type] : "other";
}

/* ---- what a written value means --------------------------------------- */

/* An object in one world: its memory and which file it is. */
struct object {
    uintptr_t start, end;
    dev_t dev;
    ino_t ino;
    const char *name;
};

/* A value's meaning: an offset in a file, a TLS module, or a plain number. */
struct meaning {
    enum { RAW, IN_FILE, TLS_MOD, TLS_ID, TLS_BLOCK, TP_OFFSET } kind;
    dev_t dev;
    ino_t ino;
    const char *name;
    uintptr_t off;
};

static bool file_id(const char *path, struct object *o)
{
    struct stat st;
    if (!path || !*path)
        path = "/proc/self/exe";
    if (stat(path, &st) < 0)
        return false;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    const char *slash = strrchr(path, '/');
    o->name = strdup(slash ? slash + 1 : path);
    return o->name != NULL;
}

/* Objects learnt so far, most recent first in the search. */
static struct object objects[256];
static size_t nobjects;

static const struct object *known(uintptr_t v)
{
    for (size_t i = nobjects; i-- > 0;)
        if (v >= objects[i].start && v < objects[i].end)
            return &objects[i];
    return NULL;
}

static const struct object *learn(struct object o)
{
    if (nobjects == sizeof objects / sizeof objects[0])
        nobjects = 0; /* a cache: forgetting is only slower */
    objects[nobjects] = o;
    return &objects[nobjects++];
}

/* The system loader's object holding V (any world can point there). */
static const struct object *system_object(uintptr_t v)
{
    struct dl_find_object fo;
    if (_dl_find_object((void *)v, &fo) != 0)
        return NULL;
    struct object o = {.start = (uintptr_t)fo.dlfo_map_start, .end = (uintptr_t)fo.dlfo_map_end};
    if (!file_id(fo.dlfo_link_map->l_name, &o))
        return NULL;
    return learn(o);
}

/* ldr's module holding V: ldr_addr names it, ldr_info gives its extent. */
static const struct object *ldr_object(uintptr_t v)
{
    Dl_info di;
    if (!ldr_addr((void *)v, &di))
        return NULL;
    ldr_module *m = ldr_open(di.dli_fname, LDR_NOINIT);
    struct ldr_info info;
    struct object o = {.start = (uintptr_t)di.dli_fbase};
    bool ok = m && ldr_info(m, &info) == 0 && file_id(di.dli_fname, &o);
    if (m)
        ldr_close(m);
    if (!ok)
        return NULL;
    o.end = o.start + info.size;
    return learn(o);
}

static const struct object *object_at(uintptr_t v, bool ldr_world)
{
    const struct object *o = known(v);
    if (!o && ldr_world)
        o = ldr_object(v);
    return o ? o : system_object(v);
}

static struct meaning locate(uintptr_t v, bool ldr_world)
{
    const struct object *o = object_at(v, ldr_world);
    /* A pointer just past an object (an end marker) belongs to it too. */
    if (!o && v)
        o = object_at(v - 1, ldr_world);
    if (o)
        return (struct meaning){IN_FILE, o->dev, o->ino, o->name, v - o->start};
    return (struct meaning){.kind = RAW, .off = v};
}

/* The system loader's TLS module V, as a file. ldr's module ids, once it
 * has TLS, will need ldr's own answer here. */
struct modid_search {
    size_t id;
    struct object *o;
    bool found;
};

static int by_modid(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct modid_search *s = arg;
    if (info->dlpi_tls_modid != s->id)
        return 0;
    s->found = file_id(info->dlpi_name, s->o);
    return 1;
}

/* The system loader's object whose TLS block, in this thread, holds ADDR. */
struct tls_search {
    uintptr_t addr;
    struct object *o;
    bool found;
};

static int by_tls_block(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct tls_search *s = arg;
    uintptr_t start = (uintptr_t)info->dlpi_tls_data;
    for (size_t i = 0; start && i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS && s->addr >= start &&
            s->addr - start < info->dlpi_phdr[i].p_memsz) {
            s->found = file_id(info->dlpi_name, s->o);
            s->o->start = start;
            return 1;
        }
    return 0;
}

static struct meaning meaning_of(uintptr_t v, uint32_t type, uintptr_t base, bool ldr_world)
{
    struct object o;
    switch (type) {
    case RELR_TYPE:
    case R_X86_64_RELATIVE:
        /* B + A: only the base differs between the worlds. */
        return (struct meaning){.kind = IN_FILE, .name = "self", .off = v - base};
    case R_X86_64_DTPMOD64: {
        struct modid_search s = {.id = v, .o = &o};
        if (!ldr_world)
            dl_iterate_phdr(by_modid, &s);
        if (s.found)
            return (struct meaning){TLS_MOD, o.dev, o.ino, o.name, 0};
        return (struct meaning){.kind = TLS_ID, .off = v};
    }
    case R_X86_64_TPOFF64: {
        /* Where the variable is in this thread, as a place in a block. */
        struct tls_search s = {.addr = (uintptr_t)__builtin_thread_pointer() + v, .o = &o};
        if (!ldr_world)
            dl_iterate_phdr(by_tls_block, &s);
        if (s.found)
            return (struct meaning){TLS_BLOCK, o.dev, o.ino, o.name, s.addr - o.start};
        return (struct meaning){.kind = TP_OFFSET, .off = v};
    }
    case R_X86_64_DTPOFF64:
        return (struct meaning){.kind = RAW, .off = v};
    default:
        return locate(v, ldr_world);
    }
}

/* ldr's TLS module ids and thread-pointer offsets are its own: a word
 * agrees if ldr maps each of the system loader's modules to one id of
 * its own, one to one, and places each block at one distance from the
 * system loader's placement of it. */
struct tls_pair {
    struct meaning sys;
    uintptr_t ldr;
};
static struct tls_pair tls_pairs[4096];
static size_t ntls_pairs;

static bool same_file(const struct meaning *a, const struct meaning *b)
{
    return a->kind == b->kind && a->dev == b->dev && a->ino == b->ino;
}

static bool tls_consistent(const struct meaning *sys, const struct meaning *ldr)
{
    bool id = sys->kind == TLS_MOD && ldr->kind == TLS_ID;
    /* A block the system loader does not show (dl_iterate_phdr gives no
     * block for some static TLS) counts as one unnamed module. */
    bool tp = (sys->kind == TLS_BLOCK || sys->kind == TP_OFFSET) && ldr->kind == TP_OFFSET;
    if (!id && !tp)
        return false;
    /* For a thread-pointer offset, the distance; for an id, the id. */
    uintptr_t key = tp ? ldr->off - sys->off : ldr->off;
    for (size_t i = 0; i < ntls_pairs; i++) {
        const struct tls_pair *p = &tls_pairs[i];
        bool same_kind = p->sys.kind == sys->kind;
        if (same_kind && same_file(&p->sys, sys))
            return p->ldr == key;
        if (same_kind && p->ldr == key)
            return false; /* two modules, one id or one placement */
    }
    if (ntls_pairs < sizeof tls_pairs / sizeof tls_pairs[0])
        tls_pairs[ntls_pairs++] = (struct tls_pair){*sys, key};
    return true;
}

static bool same(const struct meaning *a, const struct meaning *b)
{
    return a->kind == b->kind && a->off == b->off && (a->kind == RAW || (a->dev == b->dev && a->ino == b->ino));
}

static void describe(char *buf, size_t n, const struct meaning *m)
{
    if (m->kind == RAW)
        snprintf(buf, n, "%#lx", (unsigned long)m->off);
    else if (m->kind == TLS_MOD)
        snprintf(buf, n, "TLS module %s", m->name);
    else if (m->kind == TLS_ID)
        snprintf(buf, n, "TLS module id %#lx", (unsigned long)m->off);
    else if (m->kind == TLS_BLOCK)
        snprintf(buf, n, "TLS block of %s+%#lx", m->name, (unsigned long)m->off);
    else if (m->kind == TP_OFFSET)
        snprintf(buf, n, "thread pointer%+ld", (long)m->off);
    else
        snprintf(buf, n, "%s+%#lx", m->name, (unsigned long)m->off);
}

/* ---- the two worlds ---------------------------------------------------- */

static int by_offset(const void *a, const void *b)
{
    const struct word *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* A word whose meanings differ. */
struct difference {
    const struct word *w;
    struct meaning sys, ldr;
};

/* The meaning of word W of ldr's copy of L at BASE. */
static struct meaning ldr_meaning(const struct word *w, uintptr_t base)
{
    uintptr_t v;
    memcpy(&v, (void *)(base + w->off), sizeof v);
    return meaning_of(v, w->type, base, true);
}

/* The system loader has run the library's initializers, ldr has not: a
 * word an initializer rewrites says nothing about relocation. A child
 * process loads the library again through ldr, initializers run (a
 * second copy's initializers may well abort: the child takes that), and
 * says which differing words they changed; those are dropped. Returns
 * how many were. */
static size_t drop_initialized(struct lib *l, ldr_module *m, struct difference *d, size_t *n)
{
    unsigned char *changed = calloc(*n, 1);
    int fd[2];
    if (!changed || pipe(fd) < 0)
        return 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        ldr_close(m);
        nobjects = 0; /* what was learnt of the first copy is gone with it */
        m = ldr_open(l->path, 0);
        struct ldr_info info;
        if (!m || ldr_info(m, &info) < 0)
            _exit(1);
        for (size_t i = 0; i < *n; i++) {
            struct meaning after = ldr_meaning(d[i].w, info.base);
            changed[i] = !same(&after, &d[i].ldr);
        }
        _exit(write(fd[1], changed, *n) == (ssize_t)*n ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    for (ssize_t r; pid > 0 && got < *n && (r = read(fd[0], changed + got, *n - got)) > 0;)
        got += r;
    close(fd[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (got < *n || !changed[i])
            d[kept++] = d[i];
    free(changed);
    size_t dropped = *n - kept;
    *n = kept;
    return dropped;
}

/* Whether some version of NAME in the system loader's global scope is at
 * ADDR: the default, or the one the word's reference may have named. */
static bool hosts_definition(const char *name, uintptr_t addr)
{
    if ((uintptr_t)dlsym(RTLD_DEFAULT, name) == addr)
        return true;
    Dl_info di;
    return dladdr((void *)addr, &di) && di.dli_sname && strcmp(di.dli_sname, name) == 0;
}

/* Bytes of the writable segments' file contents in ldr's image at BASE
 * that differ from the file's, outside the words relocations wrote (L's
 * words, sorted); *FIRST: the file vaddr of the first. */
static size_t data_differences(const struct lib *l, uintptr_t base, uint64_t *first)
{
    size_t n = 0, w = 0;
    for (size_t i = 0; i < l->phnum; i++) {
        const Elf64_Phdr *p = &l->phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_W) || p->p_offset > l->size ||
            p->p_filesz > l->size - p->p_offset)
            continue;
        const unsigned char *file = l->data + p->p_offset, *mem = (const unsigned char *)(base + p->p_vaddr);
        while (w < l->nwords && l->words[w].off + 8 <= p->p_vaddr)
            w++;
        for (uint64_t at = 0; at < p->p_filesz; at++) {
            while (w < l->nwords && l->words[w].off + 8 <= p->p_vaddr + at)
                w++;
            if (w < l->nwords && l->words[w].off <= p->p_vaddr + at)
                continue; /* inside a relocated word */
            if (mem[at] != file[at] && !n++)
                *first = p->p_vaddr + at;
        }
    }
    return n;
}

static int compare(struct lib *l, uintptr_t sys_base, ldr_module *m, int show)
{
    struct ldr_info info;
    if (ldr_info(m, &info) < 0) {
        printf("ERROR %s: ldr_info: %s\n", l->path, ldr_error());
        return ERROR;
    }
    const struct object *ldr_self = system_object((uintptr_t)ldr_open);
    /* The same word written twice counts once. */
    qsort(l->words, l->nwords, sizeof *l->words, by_offset);
    struct difference *d = calloc(l->nwords ? l->nwords : 1, sizeof *d);
    if (!d) {
        perror("ldrdiff");
        return ERROR;
    }
    size_t compared = 0, differ = 0, hooked = 0, sys_initialized = 0;
    for (size_t i = 0; i < l->nwords; i++) {
        const struct word *w = &l->words[i];
        if (i + 1 < l->nwords && l->words[i + 1].off == w->off)
            continue;
        if (!in_image(l, w->off)) {
            printf("ERROR %s: relocation at %#lx outside the image, yet both loaders accepted it\n", l->path,
                   (unsigned long)w->off);
            return ERROR;
        }
        uintptr_t sv;
        memcpy(&sv, (void *)(sys_base + w->off), sizeof sv);
        compared++;
        struct meaning sm = meaning_of(sv, w->type, sys_base, false);
        struct meaning lm = ldr_meaning(w, info.base);
        if (same(&sm, &lm) || tls_consistent(&sm, &lm))
            continue;
        /* A name ldr implements itself (__cxa_atexit...): the system
         * loader's copy binds to the host's definition of that name (found
         * by the name, not by dladdr, which may answer with an alias such
         * as __pthread_key_create). */
        const char *name = sym_name(l, w->sym);
        if (ldr_self && lm.kind == IN_FILE && lm.dev == ldr_self->dev && lm.ino == ldr_self->ino && *name &&
            hosts_definition(name, sv)) {
            hooked++;
            continue;
        }
        /* B + A is all a relative word can be: when ldr's holds exactly
         * that, the system loader's run of the initializers rewrote its own
         * copy (sanitizer runtimes and p11-kit patch pointers at start). */
        uintptr_t lv;
        memcpy(&lv, (void *)(info.base + w->off), sizeof lv);
        if ((w->type == R_X86_64_RELATIVE || w->type == RELR_TYPE) && lv == info.base + (uintptr_t)w->addend) {
            sys_initialized++;
            continue;
        }
        d[differ++] = (struct difference){w, sm, lm};
    }
    size_t initialized = differ ? drop_initialized(l, m, d, &differ) : 0;
    uint64_t first_byte = 0;
    size_t bytes = data_differences(l, info.base, &first_byte);
    if (differ || bytes)
        printf("DIFF %s: %zu of %zu words differ", l->path, differ, compared);
    else
        printf("OK %s: %zu words compared", l->path, compared);
    if (bytes)
        printf(", %zu bytes of data not from the file (the first at +%#lx)", bytes, (unsigned long)first_byte);
    if (hooked)
        printf(", %zu bound to ldr's own implementations", hooked);
    if (initialized)
        printf(", %zu rewritten by initializers", initialized);
    if (sys_initialized)
        printf(", %zu rewritten by the system loader's run of the initializers", sys_initialized);
    printf("\n");
    for (size_t i = 0; i < differ && i < (size_t)show; i++) {
        char a[512], b[512];
        const char *name = sym_name(l, d[i].w->sym);
        describe(a, sizeof a, &d[i].sys);
        describe(b, sizeof b, &d[i].ldr);
        printf("  +%#lx %s%s%s: dlopen %s, ldr %s\n", (unsigned long)d[i].w->off, type_name(d[i].w->type),
               *name ? " " : "", name, a, b);
    }
    free(d);
    return differ || bytes ? DIFF : OK;
}

static uintptr_t sys_base_of(void *h)
{
    struct link_map *lm;
    return dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 ? lm->l_addr : 0;
}

int main(int argc, char **argv)
{
    bool ldr_first = true, dlopen_only = false;
    int show = 10, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--order=ldr") == 0)
            ldr_first = true;
        else if (strcmp(argv[i], "--order=dlopen") == 0)
            ldr_first = false;
        else if (strcmp(argv[i], "--dlopen-only") == 0)
            dlopen_only = true;
        else if (strncmp(argv[i], "--show=", 7) == 0)
            show = atoi(argv[i] + 7);
        else
            break;
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: ldrdiff [--order=ldr|dlopen] [--show=N] [--dlopen-only] LIB\n");
        return ERROR;
    }
    /* The checker's own libraries are bound lazily otherwise: a library
     * under test that the process already has would show unbound slots. */
    if (!getenv("LD_BIND_NOW")) {
        setenv("LD_BIND_NOW", "1", 1);
        execv("/proc/self/exe", argv);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *path = argv[i];
    if (dlopen_only) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return skip(path, dlerror());
        printf("OK %s: the system loader opens it\n", path);
        return OK;
    }
    struct lib l = {0};
    int r = read_lib(&l, path);
    if (r)
        return r;
    ldr_module *m = NULL;
    char *refusal = NULL;
    void *h = NULL;
    for (int step = 0; step < 2; step++) {
        if ((step == 0) == ldr_first) {
            m = ldr_open(path, LDR_NOINIT);
            if (!m)
                refusal = strdup(ldr_error());
        } else {
            h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (!h)
                return skip(path, dlerror());
        }
    }
    if (!m) {
        printf("REFUSED %s: %s\n", path, refusal ? refusal : "(no reason given)");
        return REFUSED;
    }
    return compare(&l, sys_base_of(h), m, show);
}
