/* Where a reference binds, in the order that is ldr's point:
 *   0. ldr's own services that stand in for the system loader's
 *      (hooks.c: __cxa_atexit and friends);
 *   1. the host process: everything dlsym(RTLD_DEFAULT) sees;
 *   2. the load's root and the modules loaded for it, breadth-first
 *      (a DT_SYMBOLIC module looks in itself before anything else);
 *   3. unless the load is LDR_STRICT, a fallback for a version the host's
 *      glibc lacks (compat.c).
 * Answers are cached per load: the modules of one load import the same
 * C runtime names over and over. */
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

struct cache_entry {
    uint64_t hash;
    const char *name, *version;
    struct binding b;
    bool used, found;
};

struct resolve_cache {
    struct cache_entry *slots;
    size_t cap, count;
};

/* The hashes symref_init computed anyway: hashing the name again would
 * cost more than the lookups the cache saves. */
static uint64_t key_of(const struct symref *ref)
{
    return (uint64_t)ref->version_hash << 32 | ref->gnu_hash;
}

static struct cache_entry *cache_slot(struct resolve_cache *c, uint64_t h, const struct symref *ref)
{
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        struct cache_entry *e = &c->slots[i];
        if (!e->used)
            return e;
        if (e->hash == h && strcmp(e->name, ref->name) == 0 &&
            (e->version == ref->version ||
             (e->version && ref->version && strcmp(e->version, ref->version) == 0)))
            return e;
    }
}

/* Doubles C, or grows it to at least NEED slots. */
static bool cache_grow(struct resolve_cache *c, size_t need)
{
    size_t ncap = c->cap ? c->cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    struct cache_entry *old = c->slots;
    size_t ocap = c->cap;
    c->slots = calloc(ncap, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return false;
    }
    c->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used) {
            struct symref ref = {.name = old[i].name, .version = old[i].version};
            *cache_slot(c, old[i].hash, &ref) = old[i];
        }
    free(old);
    return true;
}

static void cache_free(struct resolve_cache *c)
{
    if (c)
        free(c->slots);
    free(c);
}

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
        void *addr = ld->scope[i].host ? host_find(ld->scope[i].host, &any) : NULL;
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

static bool find_in_scope_entry(const struct dep *d, struct symref *ref, struct binding *out)
{
    if (d->mod) {
        const Elf64_Sym *sym = find_in_module(d->mod, ref);
        if (!sym)
            return false;
        out->mod = d->mod;
        out->sym = sym;
        out->where = out->mod->path;
        out->value = 0;
        return true;
    }
    void *addr = host_find(d->host, ref);
    if (!addr)
        return false;
    out->mod = NULL;
    out->sym = NULL;
    out->where = NULL;
    out->value = (uintptr_t)addr;
    return true;
}

static bool lookup(struct load *ld, const struct module *from, struct symref *ref,
                   struct binding *out)
{
    void *hook = find_hook(ref->name);
    if (hook) {
        *out = (struct binding){.value = (uintptr_t)hook, .where = "ldr"};
        return true;
    }
    void *addr = host_find(RTLD_DEFAULT, ref);
    if (addr) {
        *out = (struct binding){.value = (uintptr_t)addr};
        return true;
    }
    for (size_t i = 0; i < ld->nscope; i++)
        if ((!ld->scope[i].host || !host_in_global(ld->scope[i].host)) &&
            find_in_scope_entry(&ld->scope[i], ref, out)) {
            if (out->mod && ELF64_ST_BIND(out->sym->st_info) == STB_GNU_UNIQUE)
                settle_unique(ld, ref, out);
            return true;
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
int resolve(struct load *ld, const struct module *from, struct symref *ref, struct binding *out)
{
    if (from->symbolic) {
        struct dep self = {.mod = (struct module *)from};
        if (find_in_scope_entry(&self, ref, out)) {
            int r = settle(out);
            return r < 0 ? -2 : r;
        }
    }
    struct resolve_cache *c = ld->cache;
    if (!c) {
        /* Sized at once for every symbol the load's modules could name:
         * growing by doubling cleared and rehashed a large library's
         * table many times over (a tenth of SQLite's load). */
        size_t nsyms = 0;
        for (size_t i = 0; i < ld->nmods; i++)
            nsyms += ld->mods[i]->nsyms;
        if ((c = ld->cache = calloc(1, sizeof *c)) == NULL || !cache_grow(c, nsyms))
            return fail(from->path, "out of memory") - 1;
    }
    if ((c->count + 1) * 2 > c->cap && !cache_grow(c, 0))
        return fail(from->path, "out of memory") - 1;
    uint64_t h = key_of(ref);
    struct cache_entry *e = cache_slot(c, h, ref);
    if (!e->used) {
        e->found = lookup(ld, from, ref, &e->b);
        e->used = true;
        e->hash = h;
        e->name = ref->name;
        e->version = ref->version;
        c->count++;
    }
    if (!e->found) {
        out->where = e->b.where; /* why, when ldr knows */
        return -1;
    }
    int r = settle(&e->b);
    *out = e->b;
    return r < 0 ? -2 : r;
}

static int scope_add(struct load *ld, struct dep d, size_t *cap)
{
    for (size_t i = 0; i < ld->nscope; i++)
        if ((d.mod && ld->scope[i].mod == d.mod) || (d.host && ld->scope[i].host == d.host))
            return 0;
    if (ld->nscope == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct dep *s = realloc(ld->scope, ncap * sizeof *s);
        if (!s)
            return fail(ld->root->path, "out of memory");
        ld->scope = s;
        *cap = ncap;
    }
    ld->scope[ld->nscope++] = d;
    return 0;
}

/* The root, then its dependencies breadth-first, each once. */
int scope_build(struct load *ld)
{
    size_t cap = 0;
    if (scope_add(ld, (struct dep){.mod = ld->root}, &cap) < 0)
        return -1;
    for (size_t i = 0; i < ld->nscope; i++) {
        const struct module *m = ld->scope[i].mod;
        for (size_t j = 0; m && j < m->ndeps; j++)
            if (scope_add(ld, m->deps[j], &cap) < 0)
                return -1;
    }
    return 0;
}

void load_release(struct load *ld)
{
    cache_free(ld->cache);
    ld->cache = NULL;
    free(ld->scope);
    ld->scope = NULL;
    free(ld->mods);
    ld->mods = NULL;
}

/* ldr_sym: the module, then its dependencies breadth-first, like dlsym on
 * a handle; the host's global definitions are not searched. */
void *find_exported(struct module *m, struct symref *ref)
{
    /* The module itself answers most lookups: no scope to build for them. */
    struct dep self = {.mod = m};
    struct binding b;
    if (find_in_scope_entry(&self, ref, &b))
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
