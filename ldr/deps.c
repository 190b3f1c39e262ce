/* Dependencies (DT_NEEDED). The C and compiler runtimes belong to the
 * system loader: the host's copy is used, or the system loader loads one,
 * so there is always exactly one in the process. A library the host
 * already has is reused. Everything else ldr loads itself, found the way
 * the system loader finds it: DT_RPATH (when there is no DT_RUNPATH),
 * LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, the default directories. */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldr_internal.h"

#define LIB_DIR "lib/x86_64-linux-gnu"

#define LIB(name) {name, sizeof name - 1}
static const struct {
    const char *name;
    size_t len;
} system_libraries[] = {
    LIB("libc.so.6"), LIB("libm.so.6"), LIB("libpthread.so.0"), LIB("libdl.so.2"), LIB("librt.so.1"),
    LIB("libutil.so.1"), LIB("libanl.so.1"), LIB("libresolv.so.2"), LIB("libnsl.so.1"), LIB("libmvec.so.1"),
    LIB("libBrokenLocale.so.1"), LIB("libthread_db.so.1"), LIB("libc_malloc_debug.so.0"),
    LIB("ld-linux-x86-64.so.2"), LIB("libgcc_s.so.1"), LIB("libstdc++.so.6"),
};

bool is_system_library(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    /* All are lib... or ld-...: a plugin's own name is ruled out at once. */
    if (base[0] != 'l' || (base[1] != 'i' && base[1] != 'd'))
        return false;
    if (strncmp(base, "libnss_", 7) == 0)
        return true;
    for (size_t i = 0; i < sizeof system_libraries / sizeof system_libraries[0]; i++) {
        size_t n = system_libraries[i].len;
        /* libstdc++.so.6.0.30 is libstdc++.so.6 too. */
        if (strncmp(base, system_libraries[i].name, n) == 0 && (base[n] == '\0' || base[n] == '.'))
            return true;
    }
    return false;
}

/* /etc/ld.so.cache, the "glibc-ld.so.cache1.1" format: a header, then
 * entries whose name offsets count from the header. */
struct cache_entry_raw {
    int32_t flags;
    uint32_t key, value, osversion;
    uint64_t hwcap;
};
#define CACHE_MAGIC "glibc-ld.so.cache1.1"
#define CACHE_HEADER 48
#define CACHE_X86_64_LIBC6 0x0303

static const char *cache_data;
static size_t cache_size;

static void cache_open(void)
{
    static bool tried;
    if (tried)
        return;
    tried = true;
    int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (ldr_fstat(fd, &st) == 0 && st.st_size > CACHE_HEADER) {
        void *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            cache_data = p;
            cache_size = st.st_size;
        }
    }
    close(fd);
    /* An old-format prefix ("ld.so-1.7.0") may precede the new table. */
    if (cache_data && memcmp(cache_data, "ld.so-1.7.0", 11) == 0 && cache_size >= 16) {
        uint32_t n;
        memcpy(&n, cache_data + 12, 4);
        size_t skip = (16 + (size_t)n * 12 + 7) & ~(size_t)7;
        if (skip < cache_size) {
            cache_data += skip;
            cache_size -= skip;
        } else {
            cache_size = 0;
        }
    }
    if (cache_data && (cache_size < CACHE_HEADER || memcmp(cache_data, CACHE_MAGIC, 20) != 0))
        cache_size = 0;
}

static const char *cache_str(uint32_t off)
{
    if (off >= cache_size || !memchr(cache_data + off, '\0', cache_size - off))
        return NULL;
    return cache_data + off;
}

/* The cache's order (ldconfig's): runs of digits compare by their value,
 * a digit after anything else; otherwise bytes. */
static int cache_order(const char *a, const char *b)
{
    while (*a) {
        bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
        if (da && db) {
            unsigned long va = 0, vb = 0;
            while (*a >= '0' && *a <= '9')
                va = va * 10 + (unsigned)(*a++ - '0');
            while (*b >= '0' && *b <= '9')
                vb = vb * 10 + (unsigned)(*b++ - '0');
            if (va != vb)
                return va < vb ? -1 : 1;
        } else if (da != db) {
            return da ? 1 : -1;
        } else if (*a != *b) {
            return (unsigned char)*a - (unsigned char)*b;
        } else {
            a++, b++;
        }
    }
    return -(unsigned char)*b;
}

static bool cache_usable(const struct cache_entry_raw *e)
{
    return e->flags == CACHE_X86_64_LIBC6 && !e->hwcap;
}

/* Entries are sorted by name, last first: a binary search finds one of
 * NAME's, its neighbours hold the others (other ABIs, hwcaps). A search
 * reads a few of the cache's pages, not all of them. */
static const char *cache_lookup(const char *name)
{
    cache_open();
    if (!cache_size)
        return NULL;
    uint32_t n;
    memcpy(&n, cache_data + 20, 4);
    if (n > (cache_size - CACHE_HEADER) / sizeof(struct cache_entry_raw))
        return NULL;
    const struct cache_entry_raw *e = (const void *)(cache_data + CACHE_HEADER);
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *key = cache_str(e[mid].key);
        int c = key ? cache_order(name, key) : 1;
        if (c == 0) {
            for (lo = mid; lo > 0 && (key = cache_str(e[lo - 1].key)) && strcmp(key, name) == 0;)
                lo--;
            for (size_t i = lo; i < n && (key = cache_str(e[i].key)) && strcmp(key, name) == 0; i++)
                if (cache_usable(&e[i]))
                    return cache_str(e[i].value);
            return NULL;
        }
        if (c > 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* LD_LIBRARY_PATH, which a setuid (secure) process ignores, as the
 * system loader does. */
static const char *library_path_env(void)
{
    return getauxval(AT_SECURE) ? NULL : env_value("LD_LIBRARY_PATH");
}

/* What dlopen is given for a system library: the path /etc/ld.so.cache
 * names for it, where the system loader's own search would end there too
 * (no LD_LIBRARY_PATH before it). Given a bare name, the system loader
 * opens, maps and unmaps the cache at each dlopen (a first dlopen of
 * libgcc_s took 390 us by name, 240 by path, on a 2-CPU VM); ldr maps it
 * once. A library missing from the cache goes by name. */
static const char *system_library_path(const char *name)
{
    const char *paths = library_path_env();
    const char *cached = paths && *paths ? NULL : cache_lookup(name);
    return cached ? cached : name;
}

/* The directory of M's file, symbolic links resolved, for $ORIGIN: only a
 * module whose paths use it pays for the lookups. */
static const char *origin_of(struct module *m)
{
    if (m->origin)
        return m->origin;
    char real[PATH_MAX];
    char *dir = realpath(m->path, real) ? strdup(real) : strdup(m->path);
    if (!dir)
        return NULL;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    return m->origin = dir;
}

/* $ORIGIN, $LIB and $PLATFORM, braced or not. */
static bool expand(struct module *m, const char *dir, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const char *value = NULL;
        size_t skip = 0;
        if (dir[i] == '$') {
            static const struct {
                const char *name;
                const char *value;
            } vars[] = {{"ORIGIN", NULL}, {"LIB", LIB_DIR}, {"PLATFORM", "x86_64"}};
            for (size_t v = 0; v < 3 && !value; v++) {
                size_t n = strlen(vars[v].name);
                bool braced = i + 1 < len && dir[i + 1] == '{';
                size_t at = i + 1 + braced;
                if (at + n <= len && strncmp(dir + at, vars[v].name, n) == 0 &&
                    (!braced || (at + n < len && dir[at + n] == '}'))) {
                    if (!vars[v].value && !m)
                        return false;
                    value = vars[v].value ? vars[v].value : origin_of(m);
                    if (!value)
                        return false;
                    skip = 1 + n + 2 * braced;
                    /* The system loader ignores $ORIGIN in a secure process. */
                    if (!vars[v].value && getauxval(AT_SECURE))
                        return false;
                }
            }
        }
        if (value) {
            size_t n = strlen(value);
            if (o + n >= cap)
                return false;
            memcpy(out + o, value, n);
            o += n;
            i += skip;
        } else {
            if (o + 1 >= cap)
                return false;
            out[o++] = dir[i++];
        }
    }
    out[o] = '\0';
    return true;
}

struct search {
    const char *name;
    struct elf_file *f;
    int found; /* ELF_OK once found; ELF_BAD stops the search with its error */
};

static void try_path(struct search *s, const char *path)
{
    if (s->found != ELF_MISSING)
        return;
    struct elf_file f;
    int r = open_elf(path, &f);
    if (r == ELF_MISSING || r == ELF_WRONG_KIND)
        return;
    s->found = r;
    if (r == ELF_OK) {
        char *copy = strdup(path);
        if (!copy) {
            close_elf(&f);
            s->found = fail(path, "out of memory");
            return;
        }
        *s->f = f;
        s->f->path = copy;
    }
}

static void try_dirs(struct search *s, struct module *m, const char *list)
{
    for (const char *p = list; p && s->found == ELF_MISSING;) {
        size_t len = strcspn(p, ":;");
        char dir[4096], path[4096];
        if (len == 0) {
            strcpy(dir, ".");
        } else if (!expand(m, p, len, dir, sizeof dir)) {
            dir[0] = '\0';
        }
        if (dir[0] && snprintf(path, sizeof path, "%s/%s", dir, s->name) < (int)sizeof path)
            try_path(s, path);
        p = p[len] ? p + len + 1 : NULL;
    }
}

/* Finds NAME for M (NULL: for ldr_open, which has no module to take
 * paths from); on success F is open with f->path a malloc'd copy. */
int find_library(struct module *m, const char *name, struct elf_file *f)
{
    struct search s = {.name = name, .f = f, .found = ELF_MISSING};
    if (strchr(name, '/')) {
        try_path(&s, name);
    } else {
        if (m && !m->runpath)
            for (struct module *p = m; p; p = p->parent)
                if (p->rpath)
                    try_dirs(&s, p, p->rpath);
        try_dirs(&s, m, library_path_env());
        if (m && m->runpath)
            try_dirs(&s, m, m->runpath);
        const char *cached = cache_lookup(name);
        if (cached)
            try_path(&s, cached);
        try_dirs(&s, m, "/lib/" "x86_64-linux-gnu:/usr/" LIB_DIR ":/lib64:/usr/lib64:/lib:/usr/lib");
    }
    if (s.found == ELF_MISSING && strchr(name, '/'))
        return -1; /* open_elf said why */
    if (s.found == ELF_MISSING)
        return m ? fail(m->path, "cannot find dependency %s (searched%s%s LD_LIBRARY_PATH, "
                        "/etc/ld.so.cache and the default directories)", name,
                        m->rpath && !m->runpath ? " DT_RPATH," : "", m->runpath ? " DT_RUNPATH," : "")
                 : fail(name, "not found in LD_LIBRARY_PATH, /etc/ld.so.cache or the default directories");
    return s.found;
}

static int add_dep(struct module *m, struct dep d)
{
    struct dep *deps = realloc(m->deps, (m->ndeps + 1) * sizeof *deps);
    if (!deps) {
        if (d.counted)
            dlclose(d.host);
        return fail(m->path, "out of memory");
    }
    m->deps = deps;
    m->deps[m->ndeps++] = d;
    return 0;
}

static int load_dep(struct load *ld, struct module *m, const char *name)
{
    struct module *have = find_module_by_name(name);
    if (have)
        return add_dep(m, (struct dep){.mod = have});
    void *h = host_startup_object(name);
    if (h) {
        trace(T_FILES, "%s: needs %s: %s", m->path, name,
              is_system_library(name) ? "the system loader's copy" : "reusing the host's copy");
        return add_dep(m, (struct dep){.host = h});
    }
    if (is_system_library(name)) {
        /* Bound as the system loader binds the host's own libraries:
         * lazily, unless the library or LD_BIND_NOW asks otherwise (ldr's
         * modules are bound at load; libstdc++'s thousand PLT entries
         * need not be, for a C++ plugin to load). */
        const char *given = system_library_path(name);
        unsigned long long added = host_objects_added();
        h = dlopen(given, RTLD_LAZY | RTLD_LOCAL);
        if (!h && given != name) /* a cache older than the files: the system loader's search */
            h = dlopen(given = name, RTLD_LAZY | RTLD_LOCAL);
        if (!h)
            return fail(m->path, "system library %s: %s", name, dlerror());
        trace(T_FILES, "%s: needs %s: the system loader's copy, loaded %s%s", m->path, name,
              given == name ? "by its own search for " : "from ", given);
        /* A library already there came back as it was; otherwise it is
         * new, and this dlopen's. */
        return add_dep(m, (struct dep){.host = h, .counted = true, .brought = host_objects_added() != added});
    }
    h = host_object_named(name);
    if (h) {
        trace(T_FILES, "%s: needs %s: reusing the host's copy", m->path, name);
        return add_dep(m, (struct dep){.host = h, .counted = true});
    }
    struct elf_file f;
    if (find_library(m, name, &f) < 0)
        return -1;
    char *path = (char *)f.path;
    have = find_module_by_file(f.dev, f.ino);
    h = have ? NULL : host_object_file(f.dev, f.ino);
    if (have || h) {
        close_elf(&f);
        if (h)
            trace(T_FILES, "%s: needs %s: reusing the host's copy of %s", m->path, name, path);
        free(path);
        return add_dep(m, have ? (struct dep){.mod = have} : (struct dep){.host = h, .counted = true});
    }
    struct module *dep;
    trace(T_FILES, "%s: needs %s: loading %s", m->path, name, path);
    int r = load_elf(&f, ld->flags, &dep);
    free(path);
    if (r < 0)
        return -1;
    dep->parent = m;
    if (load_add(ld, dep) < 0) {
        destroy_module(dep);
        return -1;
    }
    publish_module(dep);
    return add_dep(m, (struct dep){.mod = dep});
}

/* Breadth-first over the load's new modules, which grow as it goes. */
int load_deps(struct load *ld)
{
    for (size_t i = 0; i < ld->nmods; i++) {
        struct module *m = ld->mods[i];
        for (size_t j = 0; j < m->nneeded; j++)
            if (load_dep(ld, m, m->strtab + m->needed[j]) < 0)
                return -1;
    }
    return 0;
}

void release_deps(struct module *m)
{
    for (size_t i = 0; i < m->ndeps; i++)
        if (m->deps[i].counted)
            dlclose(m->deps[i].host);
    free(m->deps);
    m->deps = NULL;
    m->ndeps = 0;
    for (size_t i = 0; i < m->nbound; i++)
        dlclose(m->bound[i]);
    free(m->bound);
    m->bound = NULL;
    m->nbound = 0;
}

/* Whether M holds a reference on HANDLE's object as a library it needs:
 * the system loader's handles are its link_maps. */
bool holds_dep(const struct module *m, const void *handle)
{
    for (size_t i = 0; i < m->ndeps; i++)
        if (m->deps[i].counted && m->deps[i].host == handle)
            return true;
    return false;
}

/* Whether M holds HANDLE's object already, for a binding or as a library
 * it needs. */
bool holds_bound_object(const struct module *m, const void *handle)
{
    for (size_t i = 0; i < m->nbound; i++)
        if (m->bound[i] == handle)
            return true;
    return holds_dep(m, handle);
}

/* HANDLE, a reference on a host object loaded at run time that one of M's
 * bindings points into, kept until M goes. */
int hold_bound_object(struct module *m, void *handle)
{
    void **b = realloc(m->bound, (m->nbound + 1) * sizeof *b);
    if (!b) {
        dlclose(handle);
        return fail(m->path, "out of memory");
    }
    m->bound = b;
    m->bound[m->nbound++] = handle;
    return 0;
}
