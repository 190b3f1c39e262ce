/* The public entry points: locking, handle checks, and the steps of a load
 * in order. A load allocates and checks everything before the first
 * irreversible step (running initializers); a failure before that point
 * unmaps every module the load brought in and releases every library it
 * took from the system loader, so nothing is left half-loaded. */
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

int load_add(struct load *ld, struct module *m)
{
    if (ld->nmods == ld->capmods) {
        size_t cap = ld->capmods ? ld->capmods * 2 : 8;
        struct module **mods = realloc(ld->mods, cap * sizeof *mods);
        if (!mods)
            return fail(m->path, "out of memory");
        ld->mods = mods;
        ld->capmods = cap;
    }
    ld->mods[ld->nmods++] = m;
    return 0;
}

static void roll_back(struct load *ld)
{
    for (size_t i = ld->nmods; i-- > 0;)
        destroy_module(ld->mods[i]);
    ld->nmods = 0;
}

static void at_exit(void)
{
    finalize_all();
}

/* Loads the file F (taken over) and everything it needs, up to the first
 * irreversible step: initializers have not run; ld keeps the new modules
 * for start(). NULL on failure, with nothing left behind. */
static struct module *load_new(struct elf_file *f, int flags, struct load *ld)
{
    struct module *m;
    uint64_t t0 = tracing(T_STATS) ? stats_now() : 0;
    if (load_elf(f, flags, &m) < 0)
        return NULL;
    *ld = (struct load){.flags = flags, .root = m, .stats.start_ns = t0};
    if (load_add(ld, m) < 0) {
        destroy_module(m);
        return NULL;
    }
    publish_module(m);
    int r = load_deps(ld);
    if (r == 0) {
        uint64_t t1 = t0 ? stats_now() : 0;
        ld->stats.map_ns = t1 - t0;
        host_begin(ld);
        r = scope_build(ld) < 0 || relocate(ld) < 0 || check_initializers(ld) < 0 ? -1 : 0;
        if (t0)
            ld->stats.relocate_ns = stats_now() - t1 - ld->stats.bind_ns;
        for (size_t i = 0; r == 0 && i < ld->nmods; i++)
            unwind_register(ld->mods[i]);
        host_end();
    }
    if (r < 0) {
        roll_back(ld);
        load_release(ld);
        return NULL;
    }
    return m;
}

static void start(struct load *ld)
{
    static bool exit_hooked;
    if (!exit_hooked)
        exit_hooked = atexit(at_exit) == 0;
    for (size_t i = 0; i < ld->nmods; i++)
        debug_announce(ld->mods[i], 1);
    uint64_t t = ld->stats.start_ns ? stats_now() : 0;
    run_initializers(ld);
    if (t) {
        ld->stats.init_ns = stats_now() - t;
        stats_trace(ld);
    }
    load_release(ld);
}

/* A private copy of the file F has open, standing in for it: identity
 * (for refcounts and reload) stays the file's. */
static int snapshot(struct elf_file *f)
{
    struct elf_file orig = *f;
    int fd = memfd_copy(f->path, f->fd);
    const char *path = f->path;
    close_elf(f);
    if (fd < 0)
        return -1;
    if (open_elf_fd(path, fd, f) != ELF_OK)
        return -1;
    f->dev = orig.dev;
    f->ino = orig.ino;
    f->mtime_ns = orig.mtime_ns;
    f->ctime_ns = orig.ctime_ns;
    return 0;
}

/* A handle on the freshly loaded M, taken before its initializers run so
 * that one which opens and closes other modules cannot make this load
 * look unreachable. */
static ldr_module *open_new(struct elf_file *f, int flags)
{
    struct load ld;
    struct module *m = load_new(f, flags, &ld);
    if (!m)
        return NULL;
    ldr_module *h = handle_for(m, flags);
    if (!h) {
        roll_back(&ld);
        load_release(&ld);
        fail(f->path, "out of memory");
        return NULL;
    }
    start(&ld);
    return h;
}

static ldr_module *open_locked(const char *path, int flags)
{
    if (is_system_library(path)) {
        fail(path, "part of the system's C or compiler runtime: ldr binds plugins to the host's "
                   "copy and never loads a second one (use dlopen for it)");
        return NULL;
    }
    struct elf_file f;
    if (find_library(NULL, path, &f) != ELF_OK)
        return NULL;
    char *found = (char *)f.path;
    ldr_module *h = NULL;
    struct module *m = find_module_by_file(f.dev, f.ino);
    if (m) {
        close_elf(&f);
        h = handle_for(m, flags);
        if (h)
            trace(T_FILES, "%s: already loaded at base %#lx, %u handles", m->path, (unsigned long)m->base,
                  h->opens);
        else
            fail(found, "out of memory");
    } else if (!(flags & LDR_SNAPSHOT) || snapshot(&f) == 0) {
        /* A snapshot's content is hashed now, while it is at hand: a touch
         * before the first ldr_reload must not look like a change. Other
         * loads do not pay for hashing a file nobody may reload (26 ms for
         * libLLVM); their first ldr_reload hashes it (reload.c). */
        uint64_t content;
        bool hashed = (flags & LDR_SNAPSHOT) && hash_fd(f.fd, &content) == 0;
        h = open_new(&f, flags);
        if (h && hashed && !h->mod->file.hashed) {
            h->mod->file.hash = content;
            h->mod->file.hashed = true;
        }
    }
    free(found);
    return h;
}

LDR_API ldr_module *ldr_open(const char *path, int flags)
{
    static int warm;
    run_once(&warm, prefault_self);
    trace_setup();
    if (!path || !*path) {
        fail(NULL, "ldr_open: no path given");
        return NULL;
    }
    if (flags & ~(LDR_NOINIT | LDR_STRICT | LDR_SNAPSHOT)) {
        fail(path, "ldr_open: unknown flags %#x", flags);
        return NULL;
    }
    lock_modules();
    ldr_module *m = open_locked(path, flags);
    unlock_modules();
    return m;
}

LDR_API ldr_module *ldr_open_mem(const char *name, const void *image, size_t size, int flags)
{
    trace_setup();
    if (!name || !*name || !image) {
        fail(name, "ldr_open_mem: no name or no image given");
        return NULL;
    }
    if (flags & ~(LDR_NOINIT | LDR_STRICT | LDR_SNAPSHOT)) {
        fail(name, "ldr_open_mem: unknown flags %#x", flags);
        return NULL;
    }
    int fd = memfd_with(name, image, size);
    if (fd < 0)
        return NULL;
    lock_modules();
    struct elf_file f;
    ldr_module *h = open_elf_fd(name, fd, &f) == ELF_OK ? open_new(&f, flags) : NULL;
    if (h)
        h->mod->from_memory = true;
    unlock_modules();
    return h;
}

static bool valid(ldr_module *h, const char *what)
{
    if (h && handle_is_live(h))
        return true;
    fail(NULL, "%s: invalid module handle %p", what, (void *)h);
    return false;
}

static void *sym_locked(ldr_module *h, const char *name, const char *version)
{
    if (!valid(h, version ? "ldr_vsym" : "ldr_sym"))
        return NULL;
    struct module *m = h->mod;
    if (!name) {
        fail(m->path, "no symbol name given");
        return NULL;
    }
    void *addr = module_symbol(m, name, version);
    if (!addr)
        fail(m->path, "undefined symbol %s%s%s", name, version ? "@" : "", version ? version : "");
    return addr;
}

LDR_API void *ldr_sym(ldr_module *m, const char *name)
{
    lock_modules();
    void *addr = sym_locked(m, name, NULL);
    unlock_modules();
    return addr;
}

LDR_API void *ldr_vsym(ldr_module *m, const char *name, const char *version)
{
    lock_modules();
    void *addr = version ? sym_locked(m, name, version) : NULL;
    if (!version)
        fail(NULL, "ldr_vsym: no version given");
    unlock_modules();
    return addr;
}

LDR_API int ldr_close(ldr_module *h)
{
    lock_modules();
    int r = -1;
    if (valid(h, "ldr_close")) {
        trace(T_FILES, "%s: closing, %u handles left", h->mod->path, h->opens - 1);
        if (--h->opens == 0) {
            free_handle(h);
            collect_unreachable();
        }
        r = 0;
    }
    unlock_modules();
    return r;
}

LDR_API const char *ldr_error(void)
{
    return take_error();
}

LDR_API int ldr_info(ldr_module *h, struct ldr_info *out)
{
    lock_modules();
    int r = -1;
    if (valid(h, "ldr_info") && out) {
        const struct module *m = h->mod;
        *out = (struct ldr_info){
            .path = m->path,
            .base = m->base,
            .size = m->map_size,
            .soname = m->soname,
            .refs = h->opens,
            .ndeps = (unsigned)m->ndeps,
        };
        r = 0;
    }
    unlock_modules();
    return r;
}

/* The nearest exported symbol at or below ADDR, preferring one whose
 * extent covers it. */
const Elf64_Sym *nearest_symbol(const struct module *m, uintptr_t addr)
{
    const Elf64_Sym *best = NULL;
    for (size_t i = 1; i < m->nsyms; i++) {
        const Elf64_Sym *s = &m->symtab[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if (s->st_shndx == SHN_UNDEF || s->st_shndx == SHN_ABS || type == STT_TLS || type == STT_SECTION)
            continue;
        uintptr_t start = m->base + s->st_value;
        if (start > addr || (best && start < m->base + best->st_value))
            continue;
        if (s->st_size && addr - start >= s->st_size && best)
            continue;
        best = s;
    }
    return best;
}

LDR_API int ldr_addr(const void *addr, Dl_info *info)
{
    lock_modules();
    struct module *m = find_module_by_addr(addr);
    if (m && info) {
        const Elf64_Sym *s = nearest_symbol(m, (uintptr_t)addr);
        info->dli_fname = m->path;
        info->dli_fbase = m->map_start;
        info->dli_sname = s ? m->strtab + s->st_name : NULL;
        info->dli_saddr = s ? (void *)(m->base + s->st_value) : NULL;
    }
    unlock_modules();
    return m != NULL;
}

/* Reload: the new file is loaded completely beside the old module; only
 * then does the handle move to it. Order: the old module's finalizers, the
 * new one's initializers, the host's slots and hooks, then the old one is
 * unmapped (later, if a thread still owes it a thread_local destructor). */
static int reload_locked(ldr_module *h, int flags)
{
    struct module *old = h->mod;
    if (old->from_memory)
        return fail(old->path, "ldr_reload: loaded from memory, there is no file to reload");
    if (module_needed(old))
        return fail(old->path, "ldr_reload: other loaded modules depend on it");
    uint64_t content;
    int changed = file_changed(old, &content);
    if (changed <= 0)
        return changed;
    struct elf_file f;
    if (open_elf(old->path, &f) != ELF_OK)
        return -1;
    int lflags = (old->flags & ~LDR_SNAPSHOT) | (flags & LDR_SNAPSHOT) | (h->flags & LDR_SNAPSHOT);
    struct load ld;
    struct module *m = (lflags & LDR_SNAPSHOT) && snapshot(&f) < 0 ? NULL : load_new(&f, lflags, &ld);
    if (!m)
        return -1;
    m->file.hash = content;
    m->file.hashed = true;
    trace(T_FILES, "%s: reloading: %#lx replaces %#lx", m->path, (unsigned long)m->base, (unsigned long)old->base);
    run_finalizers(old);
    old->handle = NULL;
    h->mod = m;
    m->handle = h;
    start(&ld);
    reload_notify(h);
    collect_unreachable();
    return 1;
}

LDR_API int ldr_reload(ldr_module *h, int flags)
{
    if (flags & ~(LDR_NOINIT | LDR_STRICT | LDR_SNAPSHOT))
        return fail(NULL, "ldr_reload: unknown flags %#x", flags);
    lock_modules();
    int r = valid(h, "ldr_reload") ? reload_locked(h, flags) : -1;
    unlock_modules();
    return r;
}

LDR_API int ldr_bind(ldr_module *h, const char *name, void **slot)
{
    lock_modules();
    int r = -1;
    if (valid(h, "ldr_bind") && name && slot)
        r = reload_add_slot(h, name, slot);
    unlock_modules();
    return r;
}

LDR_API int ldr_on_reload(ldr_module *h, void (*fn)(ldr_module *, void *), void *arg)
{
    lock_modules();
    int r = -1;
    if (valid(h, "ldr_on_reload") && fn)
        r = reload_add_hook(h, fn, arg);
    unlock_modules();
    return r;
}
