/* The host process's definitions: whatever the system loader has loaded
 * globally (RTLD_DEFAULT), or one library it owns (a handle). The system
 * loader's own lookup gives exactly what dlsym would, IFUNCs resolved. */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

/* A host object seen through ldr's own symbol lookup: the fields of a
 * module that find_in_module reads, taken from the object's dynamic
 * section. One view per object, kept while the object stays. */
struct view {
    struct link_map *map;
    uintptr_t addr;
    const ElfW(Dyn) *ld;
    struct module mod;
};
static struct view *views;
static size_t nviews;

static uintptr_t dyn_ptr(const struct link_map *map, const ElfW(Dyn) *d)
{
    /* The system loader relocates these in place, except in objects whose
     * dynamic section is read-only (the vDSO). */
    return d->d_un.d_ptr < map->l_addr ? map->l_addr + d->d_un.d_ptr : d->d_un.d_ptr;
}

struct phdr_query {
    uintptr_t addr;
    const ElfW(Phdr) *phdr;
    size_t phnum;
};

static int find_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
    struct phdr_query *q = data;
    (void)size;
    if (info->dlpi_addr != q->addr)
        return 0;
    q->phdr = info->dlpi_phdr;
    q->phnum = info->dlpi_phnum;
    return 1;
}

static bool fill_view(struct view *v)
{
    struct module *m = &v->mod;
    const struct link_map *map = v->map;
    uintptr_t verdef = 0;
    size_t verdefnum = 0;
    memset(m, 0, sizeof *m);
    m->base = map->l_addr;
    m->path = map->l_name;
    for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; d++) {
        uintptr_t p = dyn_ptr(map, d);
        switch (d->d_tag) {
        case DT_STRTAB: m->strtab = (const char *)p; break;
        case DT_STRSZ: m->strsz = d->d_un.d_val; break;
        case DT_SYMTAB: m->symtab = (const Elf64_Sym *)p; break;
        case DT_VERSYM: m->versym = (const Elf64_Half *)p; break;
        case DT_VERDEF: verdef = p; break;
        case DT_VERDEFNUM: verdefnum = d->d_un.d_val; break;
        case DT_HASH: {
            const uint32_t *h = (const uint32_t *)p;
            m->sysv_nbuckets = h[0];
            m->nsyms = h[1];
            m->sysv_buckets = h + 2;
            m->sysv_chain = h + 2 + h[0];
            break;
        }
        case DT_GNU_HASH: {
            const uint32_t *h = (const uint32_t *)p;
            m->gnu_nbuckets = h[0];
            m->gnu_symoffset = h[1];
            m->gnu_bloom_size = h[2];
            m->gnu_bloom_shift = h[3];
            m->gnu_bloom = (const uint64_t *)(h + 4);
            m->gnu_buckets = (const uint32_t *)(m->gnu_bloom + h[2]);
            m->gnu_chain = m->gnu_buckets + h[0];
            break;
        }
        }
    }
    if (!m->strtab || !m->symtab || (!m->gnu_buckets && !m->sysv_buckets))
        return false;
    /* The object's version definitions, indexed as its versym is. */
    size_t cap = 0;
    for (size_t i = 0; verdef && i < verdefnum; i++) {
        const ElfW(Verdef) *vd = (const ElfW(Verdef) *)verdef;
        const ElfW(Verdaux) *aux = (const ElfW(Verdaux) *)(verdef + vd->vd_aux);
        unsigned ndx = vd->vd_ndx & 0x7fff;
        if (ndx >= cap) {
            size_t ncap = ndx + 16;
            struct version *nv = realloc(m->versions, ncap * sizeof *nv);
            if (!nv)
                return false;
            memset(nv + cap, 0, (ncap - cap) * sizeof *nv);
            m->versions = nv;
            cap = ncap;
        }
        m->versions[ndx] = (struct version){.name = m->strtab + aux->vda_name, .hash = vd->vd_hash};
        if (ndx >= m->nversions)
            m->nversions = ndx + 1;
        if (!vd->vd_next)
            break;
        verdef += vd->vd_next;
    }
    struct phdr_query q = {.addr = map->l_addr};
    dl_iterate_phdr(find_phdr, &q);
    m->phdr = (Elf64_Phdr *)q.phdr;
    m->phnum = q.phnum;
    return true;
}

/* The view of the host object holding ADDR; NULL if there is none. */
static struct module *view_at(const void *addr)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) || !map || !map->l_ld)
        return NULL;
    for (size_t i = 0; i < nviews; i++)
        if (views[i].map == map && views[i].addr == map->l_addr && views[i].ld == map->l_ld)
            return views[i].mod.symtab ? &views[i].mod : NULL;
    struct view *nv = realloc(views, (nviews + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    views = nv;
    struct view *v = &views[nviews++];
    *v = (struct view){.map = map, .addr = map->l_addr, .ld = map->l_ld};
    if (!fill_view(v)) {
        free(v->mod.versions);
        v->mod.symtab = NULL;
        return NULL;
    }
    return &v->mod;
}

/* The definition a relocation binds to, as the system loader chooses it:
 * the first object in search order that defines the name (what dlsym
 * finds), and in it the definition the reference's version asks for. A
 * versioned reference also takes an unversioned definition there (a host
 * that defines malloc itself interposes on malloc@GLIBC_2.2.5); an
 * unversioned one takes the object's oldest version, as programs from
 * before symbol versioning expect. dlsym and dlvsym alone would answer
 * neither way. */
void *host_find(void *handle, const struct symref *ref)
{
    void *first = dlsym(handle, ref->name);
    if (!first)
        return ref->version ? dlvsym(handle, ref->name, ref->version) : NULL;
    if (ref->newest && !ref->version)
        return first;
    lock_modules();
    struct module *view = view_at(first);
    struct symref r = *ref;
    const Elf64_Sym *sym = view ? find_in_module(view, &r) : NULL;
    void *addr = sym ? symbol_address(view, sym) : NULL;
    unlock_modules();
    if (addr)
        return addr;
    return ref->version ? dlvsym(handle, ref->name, ref->version) : first;
}

/* For traces: which host file defines ADDR, under which name. */
void host_describe(const void *addr, const char **file, const char **sym)
{
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        *file = info.dli_fname[0] ? info.dli_fname : "the host executable";
        *sym = info.dli_sname;
    } else {
        *file = "the host";
        *sym = NULL;
    }
}
