/* The host process's definitions: whatever the system loader has loaded
 * globally (RTLD_DEFAULT), or one library it owns (a handle). The system
 * loader's own lookup gives exactly what dlsym would, IFUNCs resolved. */
#include <dlfcn.h>
#include <link.h>

#include "ldr_internal.h"

/* The symbol version index of the definition at ADDR, named SYM in the
 * object that holds it: 1 (global, unversioned) when the object has no
 * version table. -1 when it cannot be told. */
static int version_index(const void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    struct link_map *map = NULL;
    if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
        !dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) || !map)
        return -1;
    const ElfW(Sym) *symtab = NULL;
    const ElfW(Half) *versym = NULL;
    for (const ElfW(Dyn) *d = map->l_ld; d && d->d_tag != DT_NULL; d++) {
        /* The system loader relocates these in place, except in objects
         * whose dynamic section is read-only (the vDSO). */
        uintptr_t p = d->d_un.d_ptr < map->l_addr ? map->l_addr + d->d_un.d_ptr : d->d_un.d_ptr;
        if (d->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)p;
        else if (d->d_tag == DT_VERSYM)
            versym = (const ElfW(Half) *)p;
    }
    if (!versym)
        return 1;
    if (!symtab || sym < symtab)
        return -1;
    return versym[sym - symtab];
}

/* A versioned reference binds, as the system loader binds it, to the first
 * definition in search order that has that version or none at all: a host
 * that defines malloc itself, unversioned, interposes on malloc@GLIBC_2.2.5.
 * dlvsym alone would skip such a definition, so the default definition
 * dlsym finds is taken when it is unversioned. */
void *host_find(void *handle, const struct symref *ref)
{
    void *first = dlsym(handle, ref->name);
    if (!ref->version || !first)
        return ref->version ? dlvsym(handle, ref->name, ref->version) : first;
    void *exact = dlvsym(handle, ref->name, ref->version);
    if (exact == first)
        return exact;
    int ndx = version_index(first);
    if (ndx == 0 || ndx == 1)
        return first;
    return exact;
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
