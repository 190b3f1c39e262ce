/* Where a reference binds, in the order that is ldr's point:
 *   0. ldr's own services that stand in for the system loader's
 *      (hooks.c: __cxa_atexit and friends);
 *   1. the host process: everything dlsym(RTLD_DEFAULT) sees;
 *   2. the load's root and the modules loaded for it, breadth-first
 *      (a DT_SYMBOLIC module looks in itself before anything else);
 *   3. unless the load is LDR_STRICT, a fallback for a version the host's
 *      glibc lacks (compat.c).
 * Each module remembers what its symbols bound to (reloc.c); the search
 * itself is cheap next to any cache of it, whose pages a large library's
 * load would fault in by the thousand.
 */
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

/* STB_GNU_UNIQUE (C++ template statics, inline variables): one definition
 * per name in the process, versions aside. As in the system loader, the
 * first lookup that finds one makes it the definition for everybody. */
struct unique {
    const char *name;
    uint32_t hash;
    const struct module *mod;
    const Elf64_Sym *sym;
};
static struct unique *uniques;
static size_t nuniques;

static struct unique *unique_find(const char *name, uint32_t hash)
{
    for (size_t i = 0; i < nuniques; i++)
        if (uniques[i].hash == hash && strcmp(uniques[i].name, name) == 0)
            return &uniques[i];
    return NULL;
}

void unique_forget(const struct module *m)
{
    for (size_t i = 0; i < nuniques;)
        if (uniques[i].mod == m)
            uniques[i] = uniques[--nuniques];
        else
            i++;
}

/* B, just found, is a unique definition in an ldr module: the one already
 * chosen takes its place, a library of the system loader's in this load's
 * scope counts as having chosen first (its table is the system loader's),
 * and otherwise B becomes the one. */
static void settle_unique(struct load *ld, const struct symref *ref, struct binding *b)
{
    const char *name = b->mod->strtab + b->sym->st_name;
    uint32_t hash = elf_sysv_hash(name);
    const struct unique *u = unique_find(name, hash);
    if (u) {
        b->mod = u->mod;
        b->sym = u->sym;
        b->where = u->mod->path;
        return;
    }
    struct symref any = *ref; /* the table knows names, not versions */
    any.version = NULL;
    any.newest = true;
    for (size_t i = 0; ld && i < ld->nscope; i++) {
        const struct scope_entry *e = &ld->scope[i];
        void *addr = e->host ? host_view_find(e->mod, &any) : e->handle ? host_find(e->handle, &any) : NULL;
        if (addr) {
            *b = (struct binding){.value = (uintptr_t)addr};
            return;
        }
    }
    struct unique *nu = realloc(uniques, (nuniques + 1) * sizeof *nu);
    if (nu) {
        uniques = nu;
        uniques[nuniques++] = (struct unique){name, hash, b->mod, b->sym};
    }
}

static bool found_in_module(const struct module *m, const Elf64_Sym *sym, struct binding *out)
{
    *out = (struct binding){.mod = m, .sym = sym, .where = m->path};
    return true;
}

static bool found_in_host(void *addr, struct binding *out)
{
    *out = (struct binding){.value = (uintptr_t)addr};
    return addr != NULL;
}

static bool find_in_scope_entry(const struct scope_entry *e, struct symref *ref, struct binding *out)
{
    if (e->host)
        return found_in_host(host_view_find(e->mod, ref), out);
    if (e->handle)
        return found_in_host(host_find(e->handle, ref), out);
    const Elf64_Sym *sym = find_in_module(e->mod, ref);
    return sym && found_in_module(e->mod, sym, out);
}

/* OWN: the definition the reference's own symbol entry is, if it is one.
 * Once the search reaches the referring module, that is what a search of
 * the module finds, unless the file's hash table says otherwise. 1:
 * found; 0: nothing defines it; -1: an error, which ldr_error() reports. */
static int lookup(struct load *ld, struct module *from, struct symref *ref, const Elf64_Sym *own,
                  struct binding *out)
{
    void *hook = find_hook(ref);
    if (hook) {
        *out = (struct binding){.value = (uintptr_t)hook, .where = "ldr"};
        return 1;
    }
    if (found_in_host(host_find(RTLD_DEFAULT, ref), out))
        return host_hold_answer(from) < 0 ? -1 : 1;
    for (size_t i = 0; i < ld->nscope; i++) {
        const struct scope_entry *e = &ld->scope[i];
        bool self = e->mod == from && own && finds_itself(from, own, ref);
        if (self ? found_in_module(from, own, out) : find_in_scope_entry(e, ref, out)) {
            if (out->mod && ELF64_ST_BIND(out->sym->st_info) == STB_GNU_UNIQUE)
                settle_unique(ld, ref, out);
            return 1;
        }
    }
    return !(ld->flags & LDR_STRICT) && compat_find(from, ref, out);
}

/* The value of a binding to a definition in an ldr module. An IFUNC is
 * resolved only once its module is relocated: the resolver may read its
 * own GOT. */
static int settle(struct binding *b)
{
    if (!b->mod || b->value)
        return 0;
    if (ELF64_ST_TYPE(b->sym->st_info) == STT_GNU_IFUNC && !b->mod->relocated)
        return 1;
    b->value = (uintptr_t)symbol_address(b->mod, b->sym);
    if (!b->value)
        return fail(b->mod->path, "IFUNC resolver of %s lies outside the module's code",
                    b->mod->strtab + b->sym->st_name);
    return 0;
}

/* 0: bound (out filled); 1: bound to an IFUNC not yet callable, try again
 * after the defining module is relocated; -1: nothing defines it; -2: an
 * error, which ldr_error() reports. */
int resolve(struct load *ld, struct module *from, struct symref *ref, const Elf64_Sym *own,
            struct binding *out)
{
    /* A DT_SYMBOLIC module looks in itself first. */
    const Elf64_Sym *first = NULL;
    if (from->symbolic)
        first = own && finds_itself(from, own, ref) ? own : find_in_module(from, ref);
    int found = first ? found_in_module(from, first, out) : lookup(ld, from, ref, own, out);
    if (found < 0)
        return -2;
    if (!found)
        return -1; /* out->where says why, when ldr knows */
    int r = settle(out);
    return r < 0 ? -2 : r;
}

static int scope_add(struct load *ld, struct scope_entry e, size_t *cap)
{
    for (size_t i = 0; i < ld->nscope; i++)
        if (e.mod ? ld->scope[i].mod == e.mod : ld->scope[i].handle == e.handle)
            return 0;
    if (ld->nscope == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct scope_entry *s = realloc(ld->scope, ncap * sizeof *s);
        if (!s)
            return fail(ld->root->path, "out of memory");
        ld->scope = s;
        *cap = ncap;
    }
    ld->scope[ld->nscope++] = e;
    return 0;
}

/* A library of the system loader's, as a scope entry: its view, searched
 * by ldr itself, unless the global search covers it; without a view (no
 * load active), its handle. */
static int scope_add_host(struct load *ld, const struct module *view, bool covered, void *handle,
                          size_t *cap)
{
    if (view)
        return covered ? 0 : scope_add(ld, (struct scope_entry){.mod = view, .host = true}, cap);
    return handle ? scope_add(ld, (struct scope_entry){.handle = handle}, cap) : 0;
}

/* The root, then its dependencies breadth-first, each once; those of a
 * host library too, as the system loader's scope for the load would
 * have them. */
int scope_build(struct load *ld)
{
    size_t cap = 0;
    if (scope_add(ld, (struct scope_entry){.mod = ld->root}, &cap) < 0)
        return -1;
    for (size_t i = 0; i < ld->nscope; i++) {
        const struct scope_entry e = ld->scope[i];
        const struct module *m = e.mod;
        bool covered;
        int r = 0;
        for (size_t j = 0; m && !e.host && j < m->ndeps && r == 0; j++) {
            const struct dep *d = &m->deps[j];
            if (d->mod) {
                r = scope_add(ld, (struct scope_entry){.mod = d->mod}, &cap);
            } else {
                const struct module *view = host_view_of(d->host, &covered);
                r = scope_add_host(ld, view, covered, d->host, &cap);
            }
        }
        for (size_t j = 0; e.host && j < m->nneeded && r == 0; j++) {
            const struct module *view = host_view_named(m->strtab + m->needed[j], &covered);
            r = scope_add_host(ld, view, covered, NULL, &cap);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

void load_release(struct load *ld)
{
    free(ld->scope);
    ld->scope = NULL;
    free(ld->mods);
    ld->mods = NULL;
}

/* The module, then its dependencies breadth-first, like dlsym on a
 * handle; the host's global definitions are not searched. */
static void *find_exported(struct module *m, struct symref *ref, bool *own)
{
    /* The module itself answers most lookups: no scope to build for them
     * (*OWN says it did). */
    struct scope_entry self = {.mod = m};
    struct binding b;
    *own = find_in_scope_entry(&self, ref, &b);
    if (*own)
        return settle(&b) == 0 ? (void *)b.value : NULL;
    struct load ld = {.root = m};
    void *addr = NULL;
    if (scope_build(&ld) == 0)
        for (size_t i = 0; i < ld.nscope && !addr; i++) {
            struct binding b;
            if (find_in_scope_entry(&ld.scope[i], ref, &b))
                addr = settle(&b) == 0 ? (void *)b.value : NULL;
        }
    free(ld.scope);
    return addr;
}

/* ldr_sym and ldr_vsym (VERSION NULL: the default version): what
 * find_exported finds, an unversioned name's answer kept by the module. */
void *module_symbol(struct module *m, const char *name, const char *version)
{
    size_t len = 0;
    uint32_t key = version ? 0 : symcache_key(name, &len);
    void *addr = version ? NULL : symcache_find(m, name, len, key);
    if (addr)
        return addr;
    struct symref ref;
    symref_init(&ref, name, version);
    ref.newest = true;
    bool own;
    addr = find_exported(m, &ref, &own);
    if (addr && own && !version)
        symcache_add(m, name, len, key, addr);
    return addr;
}
