/* libldr-preload.so: ldr under an unmodified host. With
 * LD_PRELOAD=libldr-preload.so the host's dlopen, dlsym, dlvsym, dlclose,
 * dlerror and dladdr are these, and behave as the system loader's, except
 * that a library the system loader refuses for a missing symbol version
 * (or whose path matches the glob LDR_PRELOAD_MATCH) is loaded by ldr.
 * The handle is then an ldr module, which the other functions recognize.
 * A plugin's own dl* calls bind here too, so they take the same path. */
#include <dlfcn.h>
#include <fnmatch.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

/* The system loader's functions. This library's own names interpose on
 * them, so they are found by walking the loaded objects' symbol tables:
 * dlsym would find this library's. */
static struct {
    void *(*dlopen)(const char *, int);
    void *(*dlsym)(void *, const char *);
    void *(*dlvsym)(void *, const char *, const char *);
    int (*dlclose)(void *);
    char *(*dlerror)(void);
    int (*dladdr)(const void *, Dl_info *);
} real;

struct search {
    const char *soname, *name;
    void *addr;
};

/* One past the last symbol a GNU hash table covers. */
static size_t gnu_symbol_count(const uint32_t *h)
{
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_words = h[2];
    const uint32_t *buckets = h + 4 + 2 * (size_t)bloom_words, *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (buckets[i] > last)
            last = buckets[i];
    if (last < symoffset)
        return symoffset;
    while (!(chain[last - symoffset] & 1))
        last++;
    return (size_t)last + 1;
}

/* NAME's default definition in the object whose soname search->soname is. */
static int search_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct search *s = arg;
    const char *slash = strrchr(info->dlpi_name, '/');
    if (strcmp(slash ? slash + 1 : info->dlpi_name, s->soname) != 0)
        return 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Half) *versym = NULL;
    const uint32_t *sysv = NULL, *gnu = NULL;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        /* Relocated in place by the system loader, except where read-only. */
        uintptr_t p = dyn->d_un.d_ptr < info->dlpi_addr ? info->dlpi_addr + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)p; break;
        case DT_STRTAB: strtab = (const char *)p; break;
        case DT_VERSYM: versym = (const ElfW(Half) *)p; break;
        case DT_HASH: sysv = (const uint32_t *)p; break;
        case DT_GNU_HASH: gnu = (const uint32_t *)p; break;
        }
    }
    if (!symtab || !strtab || (!sysv && !gnu))
        return 1;
    size_t n = sysv ? sysv[1] : gnu_symbol_count(gnu);
    for (size_t i = 1; i < n; i++) {
        const ElfW(Sym) *sym = &symtab[i];
        if (sym->st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym->st_info) == STT_FUNC &&
            !(versym && (versym[i] & 0x8000)) && strcmp(strtab + sym->st_name, s->name) == 0) {
            s->addr = (void *)(info->dlpi_addr + sym->st_value);
            break;
        }
    }
    return 1;
}

/* Before glibc 2.34 the dl functions live in libdl, since then in libc. */
static void *find_real(const char *name)
{
    static const char *const sonames[] = {"libdl.so.2", "libc.so.6"};
    for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
        struct search s = {sonames[i], name, NULL};
        dl_iterate_phdr(search_object, &s);
        if (s.addr)
            return s.addr;
    }
    return NULL;
}

static const char *match; /* LDR_PRELOAD_MATCH */

static void setup(void)
{
    real.dlopen = (void *(*)(const char *, int))find_real("dlopen");
    real.dlsym = (void *(*)(void *, const char *))find_real("dlsym");
    real.dlvsym = (void *(*)(void *, const char *, const char *))find_real("dlvsym");
    real.dlclose = (int (*)(void *))find_real("dlclose");
    real.dlerror = (char *(*)(void))find_real("dlerror");
    real.dladdr = (int (*)(const void *, Dl_info *))find_real("dladdr");
    if (!real.dlopen || !real.dlsym || !real.dlvsym || !real.dlclose || !real.dlerror || !real.dladdr) {
        fputs("libldr-preload: cannot find the system loader's dl functions\n", stderr);
        abort();
    }
    match = getenv("LDR_PRELOAD_MATCH");
}

static void ready(void)
{
    static int once;
    run_once(&once, setup);
}

/* The handles ldr gave out, with how many dlopen calls each answers. */
static struct handle {
    ldr_module *m;
    unsigned count;
} *handles;
static size_t nhandles;
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;

static bool is_ldr(void *h)
{
    bool found = false;
    pthread_mutex_lock(&handles_lock);
    for (size_t i = 0; i < nhandles && !found; i++)
        found = handles[i].m == h;
    pthread_mutex_unlock(&handles_lock);
    return found;
}

static bool remember(ldr_module *m)
{
    pthread_mutex_lock(&handles_lock);
    size_t i = 0;
    while (i < nhandles && handles[i].m != m)
        i++;
    bool ok = true;
    if (i == nhandles) {
        struct handle *h = realloc(handles, (nhandles + 1) * sizeof *h);
        if (h) {
            handles = h;
            handles[nhandles++] = (struct handle){m, 0};
        }
        ok = h != NULL;
    }
    if (ok)
        handles[i].count++;
    pthread_mutex_unlock(&handles_lock);
    return ok;
}

static void forget(ldr_module *m)
{
    pthread_mutex_lock(&handles_lock);
    for (size_t i = 0; i < nhandles; i++)
        if (handles[i].m == m && --handles[i].count == 0) {
            handles[i] = handles[--nhandles];
            break;
        }
    pthread_mutex_unlock(&handles_lock);
}

/* What dlerror reports next on this thread, when the error is ours. */
static __thread char error[1024];
static __thread bool error_set;

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, sizeof error, fmt, ap);
    va_end(ap);
    error_set = true;
}

LDR_API void *dlopen(const char *file, int mode)
{
    ready();
    const char *refused = NULL;
    error_set = false;
    if (!file || !match || fnmatch(match, file, 0) != 0) {
        void *h = real.dlopen(file, mode);
        if (h || !file || (mode & RTLD_NOLOAD))
            return h;
        /* "FILE: version `GLIBC_2.34' not found (required by ...)" */
        refused = real.dlerror();
        if (!refused || !strstr(refused, ": version `")) {
            set_error("%s", refused ? refused : "dlopen failed");
            return NULL;
        }
    }
    ldr_module *m = ldr_open(file, 0);
    if (!m) {
        const char *why = ldr_error();
        set_error("%s%sldr: %s", refused ? refused : "", refused ? "; " : "", why ? why : "failed");
        return NULL;
    }
    if (!remember(m)) {
        ldr_close(m);
        set_error("%s: out of memory", file);
        return NULL;
    }
    return m;
}

static void *ldr_symbol(void *h, const char *name, const char *version)
{
    void *addr = version ? ldr_vsym(h, name, version) : ldr_sym(h, name);
    if (!addr) {
        const char *why = ldr_error();
        set_error("%s", why ? why : "undefined symbol");
    }
    return addr;
}

LDR_API void *dlsym(void *h, const char *name)
{
    ready();
    if (is_ldr(h))
        return ldr_symbol(h, name, NULL);
    return real.dlsym(h, name); /* a tail call: RTLD_NEXT sees the caller */
}

LDR_API void *dlvsym(void *h, const char *name, const char *version)
{
    ready();
    if (is_ldr(h))
        return ldr_symbol(h, name, version);
    return real.dlvsym(h, name, version);
}

LDR_API int dlclose(void *h)
{
    ready();
    if (!is_ldr(h))
        return real.dlclose(h);
    forget(h);
    if (ldr_close(h) == 0)
        return 0;
    set_error("%s", ldr_error());
    return -1;
}

LDR_API char *dlerror(void)
{
    ready();
    if (!error_set)
        return real.dlerror();
    error_set = false;
    return error;
}

LDR_API int dladdr(const void *addr, Dl_info *info)
{
    ready();
    return ldr_addr(addr, info) || real.dladdr(addr, info);
}
