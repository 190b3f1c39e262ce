/* The public entry points: locking, handle checks, and the steps of a load
 * in order. A load allocates and checks everything before the first
 * irreversible step (running initializers); a failure before that point
 * unmaps every module the load brought in and releases every library it
 * took from the system loader, so nothing is left half-loaded. */
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

int load_add(struct load *ld, struct ldr_module *m)
{
    if (ld->nmods == ld->capmods) {
        size_t cap = ld->capmods ? ld->capmods * 2 : 8;
        struct ldr_module **mods = realloc(ld->mods, cap * sizeof *mods);
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
    struct ldr_module *m = find_module_by_file(f.dev, f.ino);
    if (m) {
        close_elf(&f);
        free(found);
        m->opens++;
        trace(T_FILES, "%s: already loaded at base %#lx, %u handles", m->path, (unsigned long)m->base,
              m->opens);
        return m;
    }
    int r = load_elf(&f, flags, &m);
    free(found);
    if (r < 0)
        return NULL;
    struct load ld = {.flags = flags, .root = m};
    if (load_add(&ld, m) < 0) {
        destroy_module(m);
        return NULL;
    }
    publish_module(m);
    if (load_deps(&ld) < 0 || scope_build(&ld) < 0 || relocate(&ld) < 0 || check_initializers(&ld) < 0) {
        roll_back(&ld);
        load_release(&ld);
        return NULL;
    }
    for (size_t i = 0; i < ld.nmods; i++)
        unwind_register(ld.mods[i]);
    /* Held before initializers run, so that one which opens and closes
     * other modules cannot make this load look unreachable. */
    m->opens = 1;
    static bool exit_hooked;
    if (!exit_hooked)
        exit_hooked = atexit(at_exit) == 0;
    run_initializers(&ld);
    load_release(&ld);
    return m;
}

LDR_API ldr_module *ldr_open(const char *path, int flags)
{
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

static bool valid(ldr_module *m, const char *what)
{
    if (m && module_is_live(m) && m->opens)
        return true;
    fail(NULL, "%s: invalid module handle %p", what, (void *)m);
    return false;
}

static void *sym_locked(ldr_module *m, const char *name, const char *version)
{
    if (!valid(m, version ? "ldr_vsym" : "ldr_sym"))
        return NULL;
    if (!name) {
        fail(m->path, "no symbol name given");
        return NULL;
    }
    struct symref ref;
    symref_init(&ref, name, version);
    void *addr = find_exported(m, &ref);
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

LDR_API int ldr_close(ldr_module *m)
{
    lock_modules();
    int r = -1;
    if (valid(m, "ldr_close")) {
        trace(T_FILES, "%s: closing, %u handles left", m->path, m->opens - 1);
        if (--m->opens == 0)
            collect_unreachable();
        r = 0;
    }
    unlock_modules();
    return r;
}

LDR_API const char *ldr_error(void)
{
    return take_error();
}

LDR_API int ldr_info(ldr_module *m, struct ldr_info *out)
{
    lock_modules();
    int r = -1;
    if (valid(m, "ldr_info") && out) {
        *out = (struct ldr_info){
            .path = m->path,
            .base = m->base,
            .size = m->map_size,
            .soname = m->soname,
            .refs = m->opens,
            .ndeps = (unsigned)m->ndeps,
        };
        r = 0;
    }
    unlock_modules();
    return r;
}

/* The nearest exported symbol at or below ADDR, preferring one whose
 * extent covers it. */
static const Elf64_Sym *nearest_symbol(const struct ldr_module *m, uintptr_t addr)
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
    struct ldr_module *m = find_module_by_addr(addr);
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

LDR_API int ldr_reload(ldr_module *m, int flags)
{
    (void)flags;
    lock_modules();
    if (valid(m, "ldr_reload"))
        fail(m->path, "ldr_reload: reloading is not supported yet");
    unlock_modules();
    return -1;
}
