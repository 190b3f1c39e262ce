/* Crash reports (ldr_crash_reports): a fatal signal whose stack has a
 * frame in an ldr-loaded module prints a backtrace, each such frame named
 * by module, offset and function, then the process dies of the same
 * signal. Any other crash goes to the handler installed before.
 *
 * In the handler: lines are formatted here and written with write(2);
 * libunwind unwinds from the signal's context and names functions (from
 * .symtab where the file has one, which it maps itself); .dynsym through
 * ldr's own lookup is the fallback. The module list is read under a
 * trylock, and without the lock when another thread holds it: waiting
 * could hang a dying process, and a list being changed at the moment of a
 * crash is the lesser risk.
 *
 * libunwind is opened with dlopen, RTLD_LOCAL, when reports are turned
 * on: linked in, its unversioned _Unwind_* functions would join the
 * global scope and could take C++ and Rust exceptions away from libgcc's
 * unwinder. Without it, the report has the crashing frame only. */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "ldr_internal.h"

#define STR(x) #x
#define NAME(x) STR(x) /* libunwind's public names are macros */
#define MAX_FRAMES 64
#define ALT_STACK (64 * 1024)

struct func {
    uintptr_t start, size; /* file vaddrs */
    const char *name;      /* in the same allocation */
};
static const struct func *symtab_function(const struct module *m, uintptr_t pc);

static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NFATAL (sizeof fatal / sizeof fatal[0])
static struct sigaction previous[NFATAL];
static bool enabled;

static void (*dyn_register)(unw_dyn_info_t *);
static void (*dyn_cancel)(unw_dyn_info_t *);

static struct {
    int (*init)(unw_cursor_t *, unw_context_t *, int);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    int (*proc_name)(unw_cursor_t *, char *, size_t, unw_word_t *);
} unw;

static void open_libunwind(void)
{
    void *h = unw.init ? NULL : dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        dlerror(); /* reports go without backtraces: the host's dlerror() has nothing to say */
        return;
    }
    *(void **)&unw.step = system_lookup(h, NAME(unw_step), NULL);
    *(void **)&unw.get_reg = system_lookup(h, NAME(unw_get_reg), NULL);
    *(void **)&unw.proc_name = system_lookup(h, NAME(unw_get_proc_name), NULL);
    *(void **)&unw.init = system_lookup(h, NAME(unw_init_local2), NULL);
    *(void **)&dyn_register = system_lookup(h, "_U_dyn_register", NULL);
    *(void **)&dyn_cancel = system_lookup(h, "_U_dyn_cancel", NULL);
    if (!unw.step || !unw.get_reg || !unw.proc_name)
        unw.init = NULL;
    if (!unw.init || !dyn_cancel)
        dyn_register = NULL;
}

/* One output line, built without stdio. */
struct line {
    char buf[640];
    size_t len;
};

static void put(struct line *l, const char *s)
{
    while (*s && l->len < sizeof l->buf - 1)
        l->buf[l->len++] = *s++;
}

static void put_num(struct line *l, uintptr_t v, unsigned base)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        put(l, "0x");
    while (n && l->len < sizeof l->buf - 1)
        l->buf[l->len++] = digits[--n];
}

static void emit(struct line *l)
{
    l->buf[l->len++] = '\n';
    for (size_t done = 0; done < l->len;) {
        ssize_t n = write(STDERR_FILENO, l->buf + done, l->len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    l->len = 0;
    put(l, "ldr: crash: ");
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    default: return "SIGABRT";
    }
}

struct frame {
    uintptr_t pc;
    char name[128];
    uintptr_t name_off;
};
/* Allocated when reports are first turned on: in .bss, its 9 KB would
 * leave the few words of state after it on a page of their own, which
 * every process's first load would then fault in to read. */
static struct frame *frames;

/* The frames from the signal's context outwards; without libunwind, the
 * interrupted one alone. */
static size_t unwind(ucontext_t *uc)
{
    unw_cursor_t c;
    if (!unw.init || unw.init(&c, uc, UNW_INIT_SIGNAL_FRAME) < 0) {
        frames[0] = (struct frame){.pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]};
        return 1;
    }
    size_t n = 0;
    do {
        unw_word_t pc, off;
        if (unw.get_reg(&c, UNW_REG_IP, &pc) < 0 || !pc)
            break;
        struct frame *f = &frames[n++];
        f->pc = pc;
        f->name[0] = '\0';
        if (unw.proc_name(&c, f->name, sizeof f->name, &off) == 0)
            f->name_off = off;
        else
            f->name[0] = '\0';
    } while (n < MAX_FRAMES && unw.step(&c) > 0);
    return n;
}

/* A frame other than the first holds a return address: the call is the
 * byte before it. */
static struct module *module_of(const struct frame *f, size_t i)
{
    return find_module_by_addr((const void *)(f->pc - (i > 0)));
}

static void report(int sig, const siginfo_t *info, size_t n)
{
    struct line l = {.len = 0};
    put(&l, "ldr: crash: ");
    put(&l, signal_name(sig));
    if (sig != SIGABRT) {
        put(&l, " at address ");
        put_num(&l, (uintptr_t)info->si_addr, 16);
    }
    put(&l, " in code ldr loaded; backtrace:");
    emit(&l);
    for (size_t i = 0; i < n; i++) {
        const struct frame *f = &frames[i];
        struct module *m = module_of(f, i);
        put(&l, "#");
        put_num(&l, i, 10);
        put(&l, " ");
        put_num(&l, f->pc, 16);
        if (m) {
            put(&l, " ");
            put(&l, m->path);
            put(&l, "+");
            put_num(&l, f->pc - m->base, 16);
        }
        const char *name = f->name[0] ? f->name : NULL;
        uintptr_t off = f->name_off;
        const struct func *fn = m && !name ? symtab_function(m, f->pc - (i > 0) - m->base) : NULL;
        const Elf64_Sym *s = m && !name && !fn ? nearest_symbol(m, f->pc - (i > 0)) : NULL;
        if (fn) {
            name = fn->name;
            off = f->pc - (m->base + fn->start);
        } else if (s) {
            name = m->strtab + s->st_name;
            off = f->pc - (m->base + s->st_value);
        }
        if (name) {
            put(&l, " ");
            put(&l, name);
            put(&l, "+");
            put_num(&l, off, 16);
        }
        emit(&l);
    }
    put(&l, "dying of ");
    put(&l, signal_name(sig));
    emit(&l);
}

static size_t slot_of(int sig)
{
    size_t i = 0;
    while (i < NFATAL - 1 && fatal[i] != sig)
        i++;
    return i;
}

/* Back to the default action, delivered once the handler returns (for a
 * fault, the instruction runs again and faults for good). */
static void die_of(int sig)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void handler(int sig, siginfo_t *info, void *ucontext)
{
    static int busy;
    if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQ_REL)) {
        /* Another thread is reporting; the process dies when it is done. */
        for (;;)
            pause();
    }
    bool locked = trylock_modules();
    size_t n = unwind(ucontext), i;
    for (i = 0; i < n && !module_of(&frames[i], i); i++)
        ;
    bool ours = i < n;
    if (ours)
        report(sig, info, n);
    if (locked)
        unlock_modules();
    if (ours) {
        die_of(sig);
        return;
    }
    const struct sigaction *prev = &previous[slot_of(sig)];
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    if (prev->sa_flags & SA_SIGINFO)
        prev->sa_sigaction(sig, info, ucontext);
    else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)
        prev->sa_handler(sig);
    else
        die_of(sig);
}

/* The handler runs on its own stack, so that a stack overflow in a
 * module is reported too (for the thread that turned reports on). */
static void alt_stack(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return;
    void *p = mmap(NULL, ALT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = ALT_STACK};
    if (sigaltstack(&ss, NULL) < 0)
        munmap(p, ALT_STACK);
}

LDR_API int ldr_crash_reports(int on)
{
    lock_modules();
    int r = 0;
    if (on && !enabled && !frames && !(frames = calloc(MAX_FRAMES, sizeof *frames))) {
        r = fail(NULL, "ldr_crash_reports: out of memory");
    } else if (on && !enabled) {
        open_libunwind();
        for (const struct module *m = first_module(); m; m = m->next)
            if (m->initialized)
                crash_track(m, 1);
        alt_stack();
        struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < NFATAL && r == 0; i++)
            r = sigaction(fatal[i], &sa, &previous[i]);
        enabled = r == 0;
        if (r < 0)
            r = fail(NULL, "ldr_crash_reports: sigaction failed");
    } else if (!on && enabled) {
        for (size_t i = 0; i < NFATAL; i++)
            sigaction(fatal[i], &previous[i], NULL);
        enabled = false;
    }
    unlock_modules();
    return r;
}

/* libunwind finds unwind tables through dl_iterate_phdr, which lists
 * the system loader's objects only: each ldr module's .eh_frame_hdr
 * search table is registered with it as dynamic unwind information.
 * Only the usual encodings (a 4-byte count, 4-byte data-relative
 * entries) are taken; a module with others unwinds no further. */
struct tracked {
    const struct module *mod;
    unw_dyn_info_t info;
    struct func *funcs;    /* .symtab's functions, read when the module came */
    size_t nfuncs;
    struct tracked *next;
};
static struct tracked *tracked;

static bool search_table(const struct module *m, unw_dyn_info_t *di)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    const unsigned char *hdr = NULL;
    size_t count = 0;
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
            lo = p->p_vaddr < lo ? p->p_vaddr : lo;
            hi = p->p_vaddr + p->p_memsz > hi ? p->p_vaddr + p->p_memsz : hi;
        } else if (p->p_type == PT_GNU_EH_FRAME && (hdr = image_ptr(m, p->p_vaddr, 12))) {
            bool usual = hdr[0] == 1 && (hdr[1] & 0x0f) == 0x0b && hdr[2] == 0x03 && hdr[3] == 0x3b;
            uint32_t n = 0;
            if (usual)
                memcpy(&n, hdr + 8, sizeof n); /* a file may misalign the header */
            count = n;
            if (!count || !image_ptr(m, p->p_vaddr + 12, (size_t)count * 8))
                hdr = NULL;
        }
    }
    if (!hdr || lo >= hi)
        return false;
    *di = (unw_dyn_info_t){
        .start_ip = m->base + lo,
        .end_ip = m->base + hi,
        .format = UNW_INFO_FORMAT_REMOTE_TABLE,
    };
    di->u.rti.name_ptr = (unw_word_t)m->path;
    di->u.rti.segbase = (unw_word_t)hdr;
    di->u.rti.table_len = count * 8 / sizeof(unw_word_t);
    di->u.rti.table_data = (unw_word_t)(hdr + 12);
    return true;
}

/* Reads LEN bytes at OFF of FD into a new buffer, or NULL. */
static void *read_copy(int fd, uint64_t off, uint64_t len, uint64_t size)
{
    if (off > size || len > size - off || len == 0)
        return NULL;
    void *buf = malloc(len);
    if (buf && pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* The functions of the file's .symtab (static ones included, which
 * .dynsym lacks), copied while reading files is still safe: the handler
 * cannot. Every offset and index is checked against the file. */
static void read_symtab(struct tracked *t)
{
    const struct module *m = t->mod;
    int fd = m->from_memory ? -1 : open(m->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    Elf64_Ehdr eh;
    if (fd < 0 || ldr_fstat(fd, &st) < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh ||
        eh.e_shentsize != sizeof(Elf64_Shdr)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    Elf64_Shdr *sh = read_copy(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof *sh, size);
    Elf64_Sym *syms = NULL;
    char *str = NULL;
    size_t nsyms = 0, strsz = 0;
    for (size_t i = 0; sh && i < eh.e_shnum && !syms; i++)
        if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_link < eh.e_shnum) {
            nsyms = sh[i].sh_size / sizeof *syms;
            strsz = sh[i].sh_link ? sh[sh[i].sh_link].sh_size : 0;
            syms = read_copy(fd, sh[i].sh_offset, nsyms * sizeof *syms, size);
            str = syms ? read_copy(fd, sh[sh[i].sh_link].sh_offset, strsz, size) : NULL;
        }
    size_t count = 0;
    for (size_t i = 0; str && i < nsyms; i++)
        count += ELF64_ST_TYPE(syms[i].st_info) == STT_FUNC && syms[i].st_shndx != SHN_UNDEF &&
                 syms[i].st_name && syms[i].st_name < strsz;
    if (count && str[strsz - 1] == '\0' && (t->funcs = malloc(count * sizeof *t->funcs + strsz))) {
        /* The string table goes along, after the entries. */
        char *names = memcpy(t->funcs + count, str, strsz);
        for (size_t i = 0; i < nsyms; i++)
            if (ELF64_ST_TYPE(syms[i].st_info) == STT_FUNC && syms[i].st_shndx != SHN_UNDEF &&
                syms[i].st_name && syms[i].st_name < strsz)
                t->funcs[t->nfuncs++] = (struct func){syms[i].st_value, syms[i].st_size, names + syms[i].st_name};
    }
    free(str);
    free(syms);
    free(sh);
    close(fd);
}

/* The .symtab function holding file vaddr PC, for the handler. */
static const struct func *symtab_function(const struct module *m, uintptr_t pc)
{
    for (const struct tracked *t = tracked; t; t = t->next)
        if (t->mod == m)
            for (size_t i = 0; i < t->nfuncs; i++)
                if (pc - t->funcs[i].start < (t->funcs[i].size ? t->funcs[i].size : 1))
                    return &t->funcs[i];
    return NULL;
}

/* Called with the module lock held, as modules come and go. */
void crash_track(const struct module *m, int loaded)
{
    if (!dyn_register)
        return;
    if (!loaded) {
        for (struct tracked **p = &tracked; *p; p = &(*p)->next)
            if ((*p)->mod == m) {
                struct tracked *t = *p;
                *p = t->next;
                dyn_cancel(&t->info);
                free(t->funcs);
                free(t);
                return;
            }
        return;
    }
    struct tracked *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->mod = m;
    if (!search_table(m, &t->info)) {
        free(t);
        return;
    }
    dyn_register(&t->info);
    read_symtab(t);
    t->next = tracked;
    tracked = t;
}
