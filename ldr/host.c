/* The host process's definitions: whatever the system loader has loaded
 * globally (RTLD_DEFAULT), or one library it owns (a handle). The system
 * loader's own lookup gives exactly what dlsym would, IFUNCs resolved. */
#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

/* A host object seen through ldr's own symbol lookup. A view keeps what
 * the searches' filters and the marking of the program's own objects
 * read; the fields of a module that find_in_module reads, taken from the
 * object's dynamic section as the system loader has relocated it, come
 * once a search gets past the object's filter (most objects never answer
 * a load, and a module is 600 bytes on the heap of every first load). */
struct view_tables {
    struct module mod; /* first: a view's module is its tables */
    struct view *view;
};

struct view {
    struct link_map *map;
    uintptr_t addr;
    const ElfW(Dyn) *ld;
    const uint32_t *gnu_hash; /* its DT_GNU_HASH table; NULL without one */
    const char *strtab;
    uint32_t *needed;         /* strtab offsets of its DT_NEEDED */
    size_t nneeded;
    const Elf64_Phdr *phdr;
    size_t phnum;
    struct view_tables *tables;
    const char *name_at; /* the system loader's name for it: compared, not read */
    /* What a load reads of an object before it holds it, copied: a host
     * thread may unload an object loaded at run time at any moment, and
     * take its memory with it. */
    char *name, *soname;
    uint64_t *bloom;  /* an object loaded at run time's Bloom filter */
    uintptr_t lo, hi; /* the addresses its segments span */
    bool usable;
    bool initial;   /* loaded with the program: global, and never unloaded */
    bool global;    /* seen answering for RTLD_DEFAULT */
    bool local;     /* seen not answering for it, during this load */
    bool gone;      /* unloaded since the list was read, during this load */
    void *pin;      /* a reference held while a load looks into it */
    bool held;      /* by a module's dependency, seen during this load */
    void *handle;   /* of an initial object, once a module needs it: kept */
    size_t nhashed; /* its GNU hash chains' length, once counted (+ 1) */
    /* Its version tables, read into its tables only once a search gets
     * past its Bloom filter: most objects never answer a load. */
    uintptr_t verdef, verneed;
    size_t verdefnum, verneednum;
    bool versions_read;
    /* Its file's identity, once a search for a dependency asked. */
    bool file_read;
    dev_t dev;
    ino_t ino;
};
static struct view *views;
static size_t nviews, views_cap;
/* The global search's first test, for each usable view in search order:
 * its Bloom filter, kept together so that the many references nothing in
 * the host defines cost a few instructions per object. */
struct filter {
    const uint64_t *bloom; /* NULL: no GNU hash table, always searched */
    uint32_t mask;
    uint16_t shift;
    bool initial;
    struct view *view;
};
static struct filter *filters;
static size_t nfilters, runtime_filters; /* those of objects loaded at run time */
static size_t first_runtime; /* the filters before it are all initial objects' */
static bool initial_all_usable; /* the global search covers every initial object */
static unsigned long long seen_adds, seen_subs;
static unsigned long generation; /* times the views were read anew */
/* host_may_define's filter of every name the host defines. */
#define ALL_MIN_MISSES 256
static uint64_t *all_bloom;
static size_t all_words, all_cap;   /* a power of two; all_bloom's size */
/* Made again only if the objects the program came with that the search
 * covers are not those it was made of (a lack of memory left one out). */
static uintptr_t all_key;            /* the initial objects this load searches */
static uintptr_t all_key_made;       /* those it was made (or tried) for */
static bool all_tried;
static bool all_made;                /* false: every answer is yes */
static unsigned all_misses;          /* such searches that found nothing, this load */
static bool active; /* between host_begin and host_end: the views hold */

static uintptr_t dyn_ptr(const struct link_map *map, const ElfW(Dyn) *d)
{
    /* The system loader relocates these in place, except in objects whose
     * dynamic section is read-only (the vDSO). */
    return d->d_un.d_ptr < map->l_addr ? map->l_addr + d->d_un.d_ptr : d->d_un.d_ptr;
}

/* The program headers of views [first, nviews), from one walk of the
 * system loader's list, which dl_iterate_phdr gives in the order of the
 * views themselves: a walk per object would cost as much again for each. */
struct phdr_query {
    size_t next, end;
};

static int find_phdrs(struct dl_phdr_info *info, size_t size, void *data)
{
    struct phdr_query *q = data;
    (void)size;
    for (size_t i = q->next; i < q->end; i++)
        if (views[i].addr == info->dlpi_addr && !views[i].phdr) {
            struct view *v = &views[i];
            v->phdr = info->dlpi_phdr;
            v->phnum = info->dlpi_phnum;
            v->lo = UINTPTR_MAX;
            for (size_t k = 0; k < v->phnum; k++) {
                const Elf64_Phdr *p = &v->phdr[k];
                if (p->p_type != PT_LOAD)
                    continue;
                if (v->addr + p->p_vaddr < v->lo)
                    v->lo = v->addr + p->p_vaddr;
                if (v->addr + p->p_vaddr + p->p_memsz > v->hi)
                    v->hi = v->addr + p->p_vaddr + p->p_memsz;
            }
            if (i == q->next)
                q->next++;
            break;
        }
    return q->next == q->end;
}

static void fill_phdrs(size_t first)
{
    struct phdr_query q = {.next = first, .end = nviews};
    dl_iterate_phdr(find_phdrs, &q);
}

/* A DT_GNU_HASH table H: nbuckets, symoffset, bloom size and shift, then
 * the Bloom filter, the buckets and the chains. */
static const uint64_t *gnu_bloom_of(const uint32_t *h)
{
    return (const uint64_t *)(h + 4);
}

static const uint32_t *gnu_chain_of(const uint32_t *h)
{
    return (const uint32_t *)(gnu_bloom_of(h) + h[2]) + h[0];
}

/* M, from the dynamic section of V's object; false when that has no
 * symbol table ldr could search. *SONAME: its soname's offset in the
 * string table, plus one (0: none). */
static bool parse_view(struct view *v, struct module *m, size_t *soname)
{
    const struct link_map *map = v->map;
    memset(m, 0, sizeof *m);
    m->base = map->l_addr;
    m->path = map->l_name;
    m->phdr = (Elf64_Phdr *)v->phdr;
    m->phnum = v->phnum;
    for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; d++) {
        uintptr_t p = dyn_ptr(map, d);
        switch (d->d_tag) {
        case DT_STRTAB: m->strtab = (const char *)p; break;
        case DT_STRSZ: m->strsz = d->d_un.d_val; break;
        case DT_SYMTAB: m->symtab = (const Elf64_Sym *)p; break;
        case DT_VERSYM: m->versym = (const Elf64_Half *)p; break;
        case DT_VERDEF: v->verdef = p; break;
        case DT_VERDEFNUM: v->verdefnum = d->d_un.d_val; break;
        case DT_VERNEED: v->verneed = p; break;
        case DT_VERNEEDNUM: v->verneednum = d->d_un.d_val; break;
        case DT_SONAME: *soname = d->d_un.d_val + 1; break;
        case DT_NEEDED: m->nneeded++; break;
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
            v->gnu_hash = h;
            m->gnu_nbuckets = h[0];
            m->gnu_symoffset = h[1];
            m->gnu_bloom_size = h[2];
            m->gnu_bloom_shift = h[3];
            m->gnu_bloom = gnu_bloom_of(h);
            m->gnu_chain = gnu_chain_of(h);
            m->gnu_buckets = m->gnu_chain - h[0];
            break;
        }
        }
    }
    return m->strtab && m->symtab && (m->gnu_buckets || m->sysv_buckets) &&
           (!m->gnu_buckets || m->gnu_nbuckets) && (m->gnu_buckets || m->sysv_nbuckets);
}

/* What V keeps of its object, read as the view is made. */
static bool fill_view(struct view *v)
{
    struct module m;
    size_t soname = 0;
    if (!parse_view(v, &m, &soname))
        return false;
    v->strtab = m.strtab;
    if (soname && !(v->soname = strdup(m.strtab + soname - 1)))
        return false;
    if (m.nneeded && (v->needed = calloc(m.nneeded, sizeof *v->needed))) {
        for (const ElfW(Dyn) *d = v->map->l_ld; d->d_tag != DT_NULL; d++)
            if (d->d_tag == DT_NEEDED)
                v->needed[v->nneeded++] = d->d_un.d_val;
    }
    return true;
}

/* V's module, made the first time a search needs it; NULL without memory
 * for it. Its object must be readable. */
static struct module *tables_of(struct view *v)
{
    if (v->tables)
        return &v->tables->mod;
    struct view_tables *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    size_t soname = 0;
    parse_view(v, &t->mod, &soname); /* it said yes as the view was made */
    t->mod.needed = v->needed; /* the view's: freed with it */
    t->mod.nneeded = v->nneeded;
    t->view = v;
    v->tables = t;
    return &t->mod;
}

static struct view *view_of_module(const struct module *m)
{
    return ((const struct view_tables *)m)->view;
}

/* Whether the GNU hash table G has a symbol of hash H: what a Bloom
 * filter let pass is checked so before the object's tables are made. */
static bool chain_holds(const uint32_t *g, uint32_t h)
{
    const uint32_t *chain = gnu_chain_of(g);
    return gnu_chain_first(chain - g[0], g[0], chain, g[1], h) != 0;
}

/* Whether one of ldr's modules holds a reference on MAP's object, as a
 * dependency it needs: the object then stays while the load reads it. */
static bool held_by_modules(const struct link_map *map)
{
    for (const struct module *m = first_module(); m; m = m->next)
        if (holds_dep(m, map))
            return true;
    return false;
}

/* A copy of the Bloom filter of V's object, if it was loaded at run time
 * and nothing of ldr's holds it; false without memory for it. */
static bool copy_bloom(struct view *v)
{
    if (v->initial || v->bloom || !v->gnu_hash || held_by_modules(v->map))
        return true;
    size_t bytes = (size_t)v->gnu_hash[2] * sizeof *v->bloom;
    if (!(v->bloom = malloc(bytes)))
        return false;
    memcpy(v->bloom, gnu_bloom_of(v->gnu_hash), bytes);
    return true;
}

/* The Bloom filter test of the GNU hash H against V's object, on ldr's
 * copy of the filter where there is one. */
static bool view_may_define(const struct view *v, uint32_t h)
{
    const uint32_t *g = v->gnu_hash;
    return !g || bloom_passes(v->bloom ? v->bloom : gnu_bloom_of(g), g[2] - 1, g[3], h);
}

/* V's versions, indexed as its versym is: definitions, and the
 * requirements a copy-relocated definition in the program names. False
 * when there is no memory for them: the view then answers nothing. */
static bool read_versions(struct view *v)
{
    struct module *m = &v->tables->mod;
    if (v->versions_read)
        return m->versions || !m->versym;
    v->versions_read = true;
    uintptr_t verdef = v->verdef, verneed = v->verneed;
    size_t cap = 0;
    for (size_t i = 0; verdef && i < v->verdefnum; i++) {
        const ElfW(Verdef) *vd = (const ElfW(Verdef) *)verdef;
        const ElfW(Verdaux) *aux = (const ElfW(Verdaux) *)(verdef + vd->vd_aux);
        if (!set_version(m, vd->vd_ndx, aux->vda_name, vd->vd_hash, &cap))
            return (v->versions_read = false);
        if (!vd->vd_next)
            break;
        verdef += vd->vd_next;
    }
    for (size_t i = 0; verneed && i < v->verneednum; i++) {
        const ElfW(Verneed) *vn = (const ElfW(Verneed) *)verneed;
        uintptr_t at = verneed + vn->vn_aux;
        for (unsigned j = 0; j < vn->vn_cnt; j++) {
            const ElfW(Vernaux) *aux = (const ElfW(Vernaux) *)at;
            if (!set_version(m, aux->vna_other, aux->vna_name, aux->vna_hash, &cap))
                return (v->versions_read = false);
            if (!aux->vna_next)
                break;
            at += aux->vna_next;
        }
        if (!vn->vn_next)
            break;
        verneed += vn->vn_next;
    }
    versions_fit(m);
    return true;
}

/* A reference of its own on the object of view V. */
static void *hold(const struct view *v)
{
    return dlopen(v->name, RTLD_LAZY | RTLD_NOLOAD);
}

/* Whether V's object may be read for the rest of the load: one the
 * program came with always, and one a module of ldr's needs (a system
 * library it had loaded: libgcc_s for a Rust plugin); another loaded at
 * run time once a reference of ldr's own holds it, taken when a search
 * first gets past its Bloom filter (ldr's copy) and checked to be the
 * object the list showed. Most objects never answer a load: a reference
 * on each, taken with a dlopen whose search by name is linear, cost a
 * host with hundreds of libraries milliseconds a load. */
static bool readable(struct view *v)
{
    if (v->initial || v->pin || v->held)
        return true;
    if (held_by_modules(v->map))
        return (v->held = true);
    if (v->gone || !v->name[0])
        return false;
    void *h = hold(v);
    if (h == (void *)v->map && v->map->l_addr == v->addr && v->map->l_ld == v->ld) {
        v->pin = h;
        return true;
    }
    if (h)
        dlclose(h);
    v->gone = true;
    return false;
}

/* The view's module, ready for a search of its symbols. */
static struct module *searchable(struct view *v)
{
    return readable(v) && tables_of(v) && read_versions(v) ? &v->tables->mod : NULL;
}

static void forget_view(struct view *v)
{
    if (v->tables) {
        free(v->tables->mod.versions);
        free(v->tables);
    }
    free(v->needed);
    free(v->name);
    free(v->soname);
    free(v->bloom);
}

static bool names(const struct view *v, const char *name)
{
    if (!v->name)
        return false;
    const char *slash = strrchr(v->name, '/');
    return (v->soname && strcmp(v->soname, name) == 0) || strcmp(slash ? slash + 1 : v->name, name) == 0;
}

/* The program and what it needs, transitively: the objects loaded before
 * it ran, which are in the global scope and never unloaded. (Preloaded
 * libraries are not found this way; lookups check them as they go.) */
static void mark_initial(void)
{
    if (!nviews)
        return;
    views[0].initial = true;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < nviews; i++) {
            const struct view *v = &views[i];
            if (!v->initial || !v->usable)
                continue;
            for (size_t n = 0; n < v->nneeded; n++)
                for (size_t j = 0; j < nviews; j++)
                    if (!views[j].initial && names(&views[j], v->strtab + v->needed[n])) {
                        views[j].initial = grew = true;
                        break;
                    }
        }
    }
    /* The vDSO is on the system loader's list but in no search scope;
     * the system loader itself (AT_BASE: 0 when it was run as a command,
     * and then found by name above) came with the program. */
    uintptr_t vdso = getauxval(AT_SYSINFO_EHDR), interp = getauxval(AT_BASE);
    initial_all_usable = true;
    for (size_t i = 0; i < nviews; i++) {
        if (views[i].map->l_addr == vdso)
            views[i].usable = false;
        else if (views[i].name && (!views[i].name[0] || (interp && views[i].map->l_addr == interp)))
            views[i].initial = true;
        if (views[i].initial && !views[i].usable && views[i].map->l_addr != vdso)
            initial_all_usable = false;
    }
}

static bool same_object(const struct view *v, const struct link_map *l)
{
    /* Compared, not read: an unloaded object's name is freed memory. */
    return v->map == l && v->addr == l->l_addr && v->ld == l->l_ld && v->name_at == l->l_name;
}

static void new_view(struct view *v, struct link_map *l)
{
    *v = (struct view){.map = l, .addr = l->l_addr, .ld = l->l_ld, .name_at = l->l_name, .name = strdup(l->l_name)};
    v->usable = l->l_ld && v->name && fill_view(v);
}

/* After the views moved: their tables point back to where they are. */
static void settle_tables(void)
{
    for (size_t i = 0; i < nviews; i++)
        if (views[i].tables)
            views[i].tables->view = &views[i];
}

static bool views_room(size_t n)
{
    if (n <= views_cap)
        return true;
    struct view *nv = realloc(views, n * sizeof *nv);
    if (!nv)
        return false;
    views = nv;
    views_cap = n;
    settle_tables();
    return true;
}

/* The views anew from the system loader's list of the default namespace
 * (the one dlopen(NULL) would give, without a dlopen and a dlinfo), each
 * object's view kept from before when it is the same object at the same
 * place: what a view read of it (its versions) is not read again. As a
 * rule objects only came, at the end of the list: the views then stay
 * where they are, and the new ones follow them. */
static void refresh_views(void)
{
    size_t n = 0, kept = 0;
    struct link_map *l;
    for (l = _r_debug.r_map; l; l = l->l_next)
        n++;
    for (l = _r_debug.r_map; kept < nviews && l && same_object(&views[kept], l); l = l->l_next)
        kept++;
    struct view *old = NULL;
    size_t nold = 0;
    if (kept < nviews) { /* some went: each object's view is looked for */
        old = views;
        nold = nviews;
        views = NULL;
        nviews = views_cap = kept = 0;
        l = _r_debug.r_map;
    }
    if (!views_room(n))
        n = nviews;
    for (; l && nviews < n; l = l->l_next) {
        struct view *v = &views[nviews++];
        size_t k = 0;
        while (k < nold && !same_object(&old[k], l))
            k++;
        if (k < nold) {
            *v = old[k];
            old[k] = old[--nold];
        } else {
            new_view(v, l);
        }
    }
    for (size_t k = 0; k < nold; k++)
        forget_view(&old[k]);
    free(old);
    settle_tables();
    fill_phdrs(kept);
    mark_initial();
}

/* Called back by dl_iterate_phdr, which holds the system loader's lock on
 * its list meanwhile: no object can come or go (glibc unmaps one under
 * that lock too), so every listed object may be read. Nothing here may
 * call dlopen, dlclose or dlsym. */
static int update_locked(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (!views || info->dlpi_adds != seen_adds || info->dlpi_subs != seen_subs) {
        refresh_views();
        seen_adds = info->dlpi_adds;
        seen_subs = info->dlpi_subs;
        generation++;
    }
    for (size_t i = 0; i < nviews; i++)
        if (views[i].usable && !copy_bloom(&views[i]))
            views[i].usable = false;
    return 1;
}

/* Before a load looks up the host's symbols: the list of the system
 * loader's objects, in its search order, rebuilt when objects came or went
 * since last time. An object the host loaded at run time is held for the
 * rest of the load once ldr reads its tables (readable), so that a host
 * thread's dlclose cannot pull it away meanwhile. */
static void update_views(void)
{
    dl_iterate_phdr(update_locked, NULL);
}

/* How many objects the system loader has ever added to the process. */
static int count_added(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(unsigned long long *)data = info->dlpi_adds;
    return 1;
}

unsigned long long host_objects_added(void)
{
    unsigned long long added = 0;
    dl_iterate_phdr(count_added, &added);
    return added;
}

/* Whether LD's own dlopen brought MAP's object into the process: loaded
 * RTLD_LOCAL since, it is in no global scope, and a search of the global
 * scope passes it over (the module finds it in its own scope, as a library
 * it needs) without asking dlsym(RTLD_DEFAULT), whose failure costs an
 * error message made and thrown away. */
static bool brought_by(const struct load *ld, const struct link_map *map)
{
    for (size_t i = 0; i < ld->nmods; i++)
        for (size_t j = 0; j < ld->mods[i]->ndeps; j++)
            if (ld->mods[i]->deps[j].brought && ld->mods[i]->deps[j].host == map)
                return true;
    return false;
}

void host_begin(const struct load *ld)
{
    update_views();
    all_misses = 0;
    struct filter *nf = realloc(filters, (nviews ? nviews : 1) * sizeof *nf);
    if (nf)
        filters = nf;
    nfilters = runtime_filters = 0;
    first_runtime = SIZE_MAX;
    all_key = 0;
    for (size_t i = 0; i < nviews; i++) {
        struct view *v = &views[i];
        v->local = !v->initial && brought_by(ld, v->map); /* others: the host may have made it global since */
        v->gone = false;
        if (v->usable && nf) {
            if (!v->initial && first_runtime == SIZE_MAX)
                first_runtime = nfilters;
            const uint32_t *g = v->gnu_hash;
            filters[nfilters++] = (struct filter){.bloom = v->bloom ? v->bloom : g ? gnu_bloom_of(g) : NULL,
                                                  .mask = g ? g[2] - 1 : 0, .shift = g ? g[3] : 0,
                                                  .initial = v->initial, .view = v};
            runtime_filters += !v->initial;
            if (v->initial)
                all_key = all_key * 31 + (uintptr_t)v->map;
        }
    }
    if (first_runtime > nfilters)
        first_runtime = nfilters;
    active = true;
}

void host_end(void)
{
    active = false;
    for (size_t i = 0; i < nviews; i++) {
        views[i].held = false;
        if (views[i].pin) {
            dlclose(views[i].pin);
            views[i].pin = NULL;
        }
    }
}

/* From the span its segments cover, as ldr recorded it: an object's own
 * program headers go with it. An address in a gap between an object's
 * segments is no other object's. */
static bool view_holds(const struct view *v, uintptr_t addr)
{
    return addr >= v->lo && addr < v->hi;
}

/* The host object holding ADDR. During a load the views answer (dladdr
 * would scan the object's whole symbol table for a name nobody asked
 * for); otherwise the system loader does. */
static struct link_map *object_of(const void *addr)
{
    if (active) {
        for (size_t i = 0; i < nviews; i++)
            if (views[i].usable && view_holds(&views[i], (uintptr_t)addr))
                return views[i].map;
        return NULL;
    }
    Dl_info info;
    struct link_map *map = NULL;
    return dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) ? map : NULL;
}

/* The view of the host object holding ADDR; NULL if there is none. */
static struct module *view_at(const void *addr)
{
    struct link_map *map = object_of(addr);
    if (!map || !map->l_ld)
        return NULL;
    for (size_t i = 0; i < nviews; i++)
        if (views[i].map == map && views[i].addr == map->l_addr && views[i].ld == map->l_ld)
            return views[i].usable ? searchable(&views[i]) : NULL;
    /* During a load the filters point into the views: they may not move
     * (an object that came since the load began is left to the system
     * loader's answer). */
    if (active ? nviews == views_cap : !views_room(nviews + 1))
        return NULL;
    struct view *v = &views[nviews++];
    new_view(v, map);
    fill_phdrs(nviews - 1);
    return v->usable ? searchable(v) : NULL;
}

/* NAME (at VERSION, unless NULL) as the system loader's dlsym or dlvsym
 * finds it in HANDLE. ldr asks such questions on its own account, and
 * "not there" is an answer: a failure leaves no message behind for the
 * host's next dlerror(), which after a successful load has nothing to
 * report, as after a dlopen. */
void *system_lookup(void *handle, const char *name, const char *version)
{
    void *addr = version ? dlvsym(handle, name, version) : dlsym(handle, name);
    if (!addr)
        dlerror();
    return addr;
}

/* REF as the system loader finds it in HANDLE: for what only it can
 * answer, this thread's instance of a TLS variable (it may allocate the
 * block now), the chosen copy of a unique symbol. */
static void *system_answer(void *handle, const struct symref *ref)
{
    return system_lookup(handle, ref->name, ref->version);
}

/* One Bloom filter for every name any of the objects the program came with
 * defines, asked before the objects' own filters one by one for a
 * library's references to its own definitions (its exported functions'
 * PLT entries: SQLite has 1300), which search the whole global scope to
 * find nothing there, as a rule (its imports, found there, are not
 * asked). Objects loaded at run time are not in it: reading their chains
 * would need a reference on each.
 * Made from the hashes the objects' GNU hash chains keep, without their
 * lowest bit, which a chain uses as a mark; made by the first load whose
 * such searches found nothing 256 times (it costs a pass over every host
 * symbol, which a small load, or one whose references the host answers,
 * never pays), and kept: objects the host loads and unloads at run time
 * are not in it (a host that keeps doing so made every load build it
 * anew). */

static size_t gnu_chain_length(const uint32_t *h)
{
    const uint32_t *chain = gnu_chain_of(h), *buckets = chain - h[0];
    uint32_t last = 0;
    for (uint32_t i = 0; i < h[0]; i++)
        if (buckets[i] > last)
            last = buckets[i];
    if (last < h[1])
        return 0;
    while (!(chain[last - h[1]] & 1))
        last++;
    return last + 1 - h[1];
}

/* Two bits in one word (one memory access a question), from the hash
 * without its lowest bit. */
static inline size_t all_word(uint32_t h)
{
    return (h >> 7) & (all_words - 1);
}

static inline uint64_t all_mask(uint32_t h)
{
    return (uint64_t)1 << ((h >> 1) % 64) | (uint64_t)1 << ((h >> 17) % 64);
}

/* The names every object in the search defines, as their hash chains
 * count them; 0 when one has no GNU hash table (the filter would not
 * cover it). Counted once an object, for as long as its view lives. */
static size_t host_names(void)
{
    size_t total = 0;
    for (size_t i = 0; i < nfilters; i++) {
        struct view *v = filters[i].view;
        if (!v->initial)
            continue;
        if (!filters[i].bloom)
            return 0;
        if (!v->nhashed)
            v->nhashed = gnu_chain_length(v->gnu_hash) + 1;
        total += v->nhashed - 1;
    }
    return total;
}

static bool make_all_filter(size_t total)
{
    size_t words = 64;
    while (words * 64 < total * 8)
        words *= 2;
    if (words > all_cap) {
        uint64_t *b = realloc(all_bloom, words * sizeof *b);
        if (!b)
            return false;
        all_bloom = b;
        all_cap = words;
    }
    all_words = words;
    memset(all_bloom, 0, words * sizeof *all_bloom);
    for (size_t i = 0; i < nfilters; i++) {
        if (!filters[i].view->initial)
            continue;
        const uint32_t *chain = gnu_chain_of(filters[i].view->gnu_hash);
        size_t n = filters[i].view->nhashed - 1;
        for (size_t k = 0; k < n; k++)
            all_bloom[all_word(chain[k])] |= all_mask(chain[k]);
    }
    return true;
}

/* Whether one of the objects the program came with may define a name
 * whose GNU hash is H (its lowest bit aside); during a load. */
static bool host_may_define(uint32_t h)
{
    if (!all_tried || all_key_made != all_key) {
        if (all_misses < ALL_MIN_MISSES)
            return true;
        size_t total = host_names();
        all_made = total && make_all_filter(total);
        all_key_made = all_key;
        all_tried = true;
    }
    if (!all_made)
        return true;
    uint64_t mask = all_mask(h);
    return (all_bloom[all_word(h)] & mask) == mask;
}

/* The system loader's global scope, searched as it searches it for a
 * relocation: object by object, the first definition the reference's
 * version accepts. An object that may not be in the global scope (loaded
 * at run time, perhaps RTLD_LOCAL) counts only once the system loader's
 * own answer comes from it; one that did not answer is not asked again
 * during the load (a failing dlsym formats an error message). */
/* The handle dlopen(NULL) gives: dlsym on it searches the global scope,
 * as RTLD_DEFAULT does, but records no dependency of the caller on what it
 * finds. Through RTLD_DEFAULT the caller is libldr, which is never
 * unloaded, and glibc then makes the object found NODELETE: the host
 * could never unload its own library again. */
static void *global_scope(void)
{
    static void *self;
    if (!self)
        self = dlopen(NULL, RTLD_LAZY);
    return self;
}

/* The object loaded at run time whose definition find_global last gave. */
static struct view *answered;

static void *find_global(struct symref *ref)
{
    uint32_t h = ref->gnu_hash;
    /* The objects the program came with ruled out in one test; those
     * loaded at run time are still asked one by one. */
    bool initial_out = ref->defined_here && !host_may_define(h);
    if (initial_out && !runtime_filters)
        return NULL;
    for (size_t i = initial_out ? first_runtime : 0; i < nfilters; i++) {
        const struct filter *f = &filters[i];
        if (initial_out && f->initial)
            continue;
        if (f->bloom && !bloom_passes(f->bloom, f->mask, f->shift, h))
            continue;
        struct view *v = f->view;
        if (v->local || !readable(v) || (f->bloom && !chain_holds(v->gnu_hash, h)))
            continue;
        const struct module *m = searchable(v);
        if (!m)
            continue;
        const Elf64_Sym *sym = f->bloom ? find_gnu_chain(m, ref) : find_in_module(m, ref);
        if (!sym)
            continue;
        answered = v->initial ? NULL : v;
        /* The global scope's handle (a dlopen of the program, taken once)
         * for the system loader's own answers only. */
        if (ELF64_ST_TYPE(sym->st_info) == STT_TLS) {
            void *scope = global_scope();
            return scope ? system_answer(scope, ref) : NULL;
        }
        if (!v->initial && !v->global) {
            void *scope = global_scope();
            if (!scope)
                return NULL;
            void *theirs = system_lookup(scope, ref->name, NULL);
            if (!theirs && ref->version)
                theirs = system_answer(scope, ref);
            if (!theirs || object_of(theirs) != v->map) {
                v->local = true;
                answered = NULL;
                continue;
            }
            v->global = true;
        }
        return symbol_address(m, sym);
    }
    all_misses += ref->defined_here;
    return NULL;
}

/* During a load: the view of one of the system loader's libraries, by
 * handle or by name (a dependency of such a library), for the load's own
 * scope. NULL when it has none; *COVERED when the global search already
 * looks there (the library came with the program, and so did everything
 * it needs). Views do not move while a load is active. */
static const struct module *scope_view(size_t i, bool *covered)
{
    *covered = views[i].initial && initial_all_usable;
    return views[i].usable ? tables_of(&views[i]) : NULL;
}

const struct module *host_view_of(void *handle, bool *covered)
{
    *covered = false;
    if (!active)
        return NULL;
    /* The system loader's handles are its link_maps (glibc's and musl's
     * alike): dlinfo only when that does not find it. */
    struct link_map *map = handle;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nviews; i++)
            if (views[i].map == map)
                return scope_view(i, covered);
        if (pass == 0 && dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0)
            return NULL;
    }
    return NULL;
}

const struct module *host_view_named(const char *name, bool *covered)
{
    *covered = false;
    for (size_t i = 0; active && i < nviews; i++)
        if (names(&views[i], name))
            return scope_view(i, covered);
    return NULL;
}

/* REF's definition in VIEW, as a search of that library alone finds it.
 * The system loader itself answers for a TLS variable (this thread's
 * instance) and for an STB_GNU_UNIQUE definition (the one its table of
 * them chose, perhaps another library's copy). */
void *host_view_find(const struct module *view, struct symref *ref)
{
    struct view *v = view_of_module(view);
    if (!view_may_define(v, ref->gnu_hash) || !searchable(v))
        return NULL;
    const Elf64_Sym *sym = find_in_module(view, ref);
    if (!sym)
        return NULL;
    if (ELF64_ST_TYPE(sym->st_info) != STT_TLS && ELF64_ST_BIND(sym->st_info) != STB_GNU_UNIQUE)
        return symbol_address(view, sym);
    void *h = hold(v);
    void *addr = h ? system_answer(h, ref) : NULL;
    if (h)
        dlclose(h);
    return addr;
}

/* The definition a relocation binds to, as the system loader chooses it.
 * A versioned reference also takes an unversioned definition (a host that
 * defines malloc itself interposes on malloc@GLIBC_2.2.5); an unversioned
 * one takes the object's oldest version, as programs from before symbol
 * versioning expect, hidden or not. dlsym and dlvsym alone would answer
 * neither way. In the global scope (RTLD_DEFAULT, during a load) ldr
 * searches the system loader's tables itself; in one library's scope (a
 * handle) dlsym finds the object and ldr picks the version in it. */
void *host_find(void *handle, struct symref *ref)
{
    answered = NULL;
    if (handle == RTLD_DEFAULT && active && !ref->newest)
        return find_global(ref);
    for (size_t i = 0; handle != RTLD_DEFAULT && i < nviews; i++)
        if (views[i].map == handle && views[i].initial && !views[i].handle)
            views[i].handle = hold(&views[i]);
    void *first = system_lookup(handle, ref->name, NULL);
    if (!first)
        return ref->version ? system_answer(handle, ref) : NULL;
    if (ref->newest && !ref->version)
        return first;
    lock_modules();
    struct module *view = view_at(first);
    const Elf64_Sym *sym = view ? find_in_module(view, ref) : NULL;
    void *addr = sym && ELF64_ST_TYPE(sym->st_info) != STT_TLS ? symbol_address(view, sym) : NULL;
    unlock_modules();
    if (addr)
        return addr;
    return ref->version ? system_answer(handle, ref) : first;
}

/* The handle of NAME when NAME is one of the objects loaded with the
 * program: its link_map, which is the system loader's handle for it.
 * Those are never unloaded, and need no reference; but the system loader
 * sets up what dlsym reads of an object at its first dlopen, not before,
 * so that host_find takes one, for good, when dlsym is first to search
 * it (searches during a load read ldr's view of it instead: most loads
 * never ask). NULL for any other. The list, read by the first load that
 * gets here, is right about these whatever came and went since. */
void *host_startup_object(const char *name)
{
    if (!views)
        update_views();
    for (size_t i = 0; i < nviews; i++) {
        struct view *v = &views[i];
        if (v->initial && v->usable && v->map->l_name[0] && names(v, name))
            return v->map;
    }
    return NULL;
}

/* The host's copy of a library a module needs, found as the system loader
 * finds a loaded object, without its search: by name (an object's soname
 * or file name, host_object_named), or else, once ldr's own search found
 * the file, by its identity (host_object_file: the same file under another
 * name). A reference of its own on it, or NULL. dlopen with RTLD_NOLOAD
 * would search with the paths of ldr's library, not the module's, opening
 * /etc/ld.so.cache and the file for every library the host does not
 * have. */
void *host_object_named(const char *name)
{
    update_views();
    for (size_t i = 0; i < nviews; i++)
        if (views[i].usable && views[i].map->l_name[0] && names(&views[i], name))
            return hold(&views[i]);
    return NULL;
}

void *host_object_file(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < nviews; i++) {
        struct view *v = &views[i];
        if (!v->usable || !v->map->l_name[0])
            continue;
        if (!v->file_read) {
            struct stat st;
            v->file_read = true;
            if (ldr_stat(v->map->l_name, &st) == 0) {
                v->dev = st.st_dev;
                v->ino = st.st_ino;
            }
        }
        if (v->ino && v->dev == dev && v->ino == ino)
            return hold(v);
    }
    return NULL;
}

/* After host_find(RTLD_DEFAULT) gave M a definition in an object the host
 * loaded at run time: M holds that object from now on, as the system
 * loader holds the objects a module's relocations bind into, so that the
 * host's dlclose cannot unmap what M's bindings point to. */
int host_hold_answer(struct module *m)
{
    struct view *v = answered;
    answered = NULL;
    if (!v || holds_bound_object(m, v->map))
        return 0;
    void *h = hold(v);
    if (!h)
        return fail(m->path, "%s, which defines a symbol it binds, was unloaded meanwhile", v->name);
    return hold_bound_object(m, h);
}

/* Changes whenever the system loader's list of objects has changed since
 * a load last looked: an answer about the host's objects holds while it
 * stays the same. */
unsigned long host_generation(void)
{
    return generation;
}

/* NAME's default definition in the host's library LIB (by soname), if
 * the system loader has that library; during a load only. */
void *host_symbol_in(const char *lib, const char *name)
{
    for (size_t i = 0; active && i < nviews; i++)
        if (views[i].usable && names(&views[i], lib)) {
            struct symref r;
            symref_init(&r, name, NULL);
            r.newest = true;
            struct module *m = searchable(&views[i]);
            const Elf64_Sym *sym = m ? find_in_module(m, &r) : NULL;
            return sym ? symbol_address(m, sym) : NULL;
        }
    return NULL;
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

/* During a load: the view of the next usable object of the system
 * loader's from *I on, in its search order; NULL past the last. */
const struct module *host_next_view(size_t *i)
{
    for (; active && *i < nviews; ++*i) {
        const struct module *m = views[*i].usable ? searchable(&views[*i]) : NULL;
        if (m) {
            ++*i;
            return m;
        }
    }
    return NULL;
}
