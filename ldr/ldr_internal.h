/* The loader's shared vocabulary: what a loaded module is, and the verbs
 * each step of a load exports to the next. One file per step; see README. */
#ifndef LDR_INTERNAL_H
#define LDR_INTERNAL_H

#include <elf.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ldr.h"
#include "reloc.h"

#define LDR_API __attribute__((visibility("default")))

/* The page size of x86-64 Linux, which segments are aligned to. */
#define PAGE 4096u
#define PAGE_DOWN(x) ((x) & ~(uintptr_t)(PAGE - 1))
#define PAGE_UP(x) PAGE_DOWN((x) + PAGE - 1)

/* A dependency is either a module ldr loaded or a library the system
 * loader owns (the C runtime, or one the host had already). */
struct dep {
    struct module *mod;
    void *host;
    bool counted; /* host is a reference of ldr's, from dlopen */
    bool brought; /* ldr's dlopen (RTLD_LOCAL) brought it into the process */
};

/* One handler registered through __cxa_atexit by a module's code. */
struct exit_handler {
    void (*fn)(void *);
    void *arg;
};

/* A __tls_get_addr argument (tls_index), and a dynamic TLS descriptor's. */
struct tlsdesc_arg {
    size_t id;
    size_t offset;
};

/* A loaded file as ldr_reload compares it: metadata first, then (on a
 * difference) an xxHash of the content. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t hash;
    bool hashed;
};

/* A handle: what ldr_open returns, ldr_close drops, and ldr_reload keeps
 * valid while the module behind it changes. */
struct reload_slot {
    const char *name; /* owned */
    void **where;
};
struct reload_hook {
    void (*fn)(struct ldr_module *, void *);
    void *arg;
};
struct ldr_module {
    struct module *mod;
    unsigned opens;
    int flags;
    struct reload_slot *slots;
    size_t nslots;
    struct reload_hook *hooks;
    size_t nhooks;
    struct ldr_module *next;
};

/* A version, by the offset of its name in the object's string table (0:
 * no version at this index); a module keeps one per index it uses. */
struct version {
    uint32_t name;
    uint32_t hash;
};

struct module {
    char *path;        /* as found; what traces and errors name */
    const char *name;  /* the basename of path, for short trace lines */
    char *origin;      /* directory of the real path, for $ORIGIN, when asked */
    int flags;         /* LDR_* flags of the load that brought it in */
    int mark;          /* scratch for graph walks */

    /* the image */
    uintptr_t base;            /* load bias */
    unsigned char *map_start;  /* the reservation */
    size_t map_size;
    Elf64_Phdr *phdr;          /* in the image or in tables, or a private copy */
    size_t phnum;
    /* The first segment's bytes as read with the file header, when that
     * read held all of it and the segment is only read (a small library):
     * its tables are read from here, and its page is never faulted in. */
    unsigned char *tables;
    uintptr_t tables_vaddr;
    size_t tables_len;
    uintptr_t relro_start, relro_end; /* file vaddrs, 0/0 without RELRO */
    uintptr_t relro_read_end;  /* RELRO read into memory up to here (map.c), 0: mapped */

    /* the dynamic section, every pointer checked against the image */
    const Elf64_Dyn *dynamic;
    const char *strtab;
    size_t strsz;
    const Elf64_Sym *symtab;
    size_t nsyms;
    const Elf64_Half *versym;
    struct version *versions;  /* indexed by versym & 0x7fff */
    size_t nversions;
    uint32_t gnu_nbuckets, gnu_symoffset, gnu_bloom_size, gnu_bloom_shift;
    const uint64_t *gnu_bloom;
    const uint32_t *gnu_buckets, *gnu_chain;
    uint32_t sysv_nbuckets;
    uint32_t gnu_hashed_end; /* one past the last symbol the GNU chains hold; 0: none */
    const uint32_t *sysv_buckets, *sysv_chain;
    const Elf64_Rela *rela, *jmprel;
    size_t nrela, njmprel;
    const uint64_t *relr;
    size_t nrelr;
    uintptr_t init, fini;
    const uintptr_t *init_array, *fini_array;
    size_t ninit_array, nfini_array;
    const char *soname;
    const char *runpath, *rpath;
    uint32_t *needed;          /* strtab offsets of DT_NEEDED */
    size_t nneeded;

    /* its place among the others */
    struct dep *deps;
    size_t ndeps;
    /* Host objects loaded at run time that its bindings point into, held
     * as the system loader holds such relocation dependencies. */
    void **bound;
    size_t nbound;
    struct module *parent; /* who needed it first: RPATH inheritance */
    struct ldr_module *handle; /* the handle ldr_open gave for it, if any */
    struct file_id file;       /* what was loaded, for ldr_reload */
    unsigned long init_seq;    /* order its initializers ran, for fini order */
    struct exit_handler *exits;
    size_t nexits, exits_cap;
    unsigned *keys;            /* pthread keys its code created and has not deleted */
    size_t nkeys;

    /* thread-local storage and unwinding */
    size_t tls_id;             /* 0: no PT_TLS */
    struct tlsdesc_arg **tlsdesc; /* arguments of its TLS descriptors */
    size_t ntlsdesc;
    const void *eh_frame;      /* registered with the unwinder, or NULL */
    struct symcache *symcache; /* ldr_sym's answers */
    struct module *next, *prev;

    /* together, where they pack */
    unsigned thread_dtors;     /* thread_local destructors still owed */
    bool phdr_mapped;          /* phdr is in the image: not freed */
    bool leak_checked;         /* its data is a LeakSanitizer root region */
    bool symbolic, nodelete, bind_now; /* from the dynamic section */
    bool from_memory;          /* ldr_open_mem: no file behind it */
    bool relocated, initialized, finalized;
    bool eh_pending;           /* to register once there is an unwinder */
};

/* pthread_once without its system call: glibc's wakes waiters with a
 * futex call after every first run, waiting or not, and the first load of
 * a process runs several. Callers that come while FN runs yield until it
 * is done. STATE starts at 0. */
static inline void run_once(int *state, void (*fn)(void))
{
    if (__atomic_load_n(state, __ATOMIC_ACQUIRE) == 2)
        return;
    int idle = 0;
    if (__atomic_compare_exchange_n(state, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
        fn();
        __atomic_store_n(state, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(state, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
}

/* getenv, in ldr's own code: libc's is on a page of its own that nothing
 * else of a load runs, and a process's first load would fault it in for a
 * few names (on a 2-CPU VM, 15 to 30 us). */
static inline const char *env_value(const char *name)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        const char *s = *e, *n = name;
        while (*n && *s == *n)
            s++, n++;
        if (!*n && *s == '=')
            return s + 1;
    }
    return NULL;
}

/* error.c: "FILE: reason" for ldr_error(). fail() always returns -1. */
int fail(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *take_error(void);

/* trace.c: LDR_DEBUG categories. */
enum {
    T_FILES = 1u << 0,
    T_BINDINGS = 1u << 1,
    T_RELOC = 1u << 2,
    T_INIT = 1u << 3,
    T_UNLOAD = 1u << 4,
    T_TLS = 1u << 5,
    T_VERSIONS = 1u << 6,
    T_STATS = 1u << 7,
    T_ALL = ~0u
};
extern unsigned trace_mask;
void trace_setup(void);
void trace_line(unsigned category, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tracing(category) (trace_mask & (category))
/* A line for CATEGORY; with the category off, not even its arguments are
 * computed (the loader's fast paths trace as they go). */
#define trace(category, ...)                        \
    do {                                            \
        if (tracing(category))                      \
            trace_line((category), __VA_ARGS__);    \
    } while (0)

/* elf.c: the file header and program headers, validated. */
struct elf_file {
    const char *path;
    int fd;
    off_t size;
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns, ctime_ns;
    Elf64_Ehdr ehdr;
    Elf64_Phdr *phdr;
    size_t phnum;
    uint64_t dynamic_off, dynamic_size; /* where the file holds PT_DYNAMIC's entries */
    bool dynamic_zero_tail;             /* and memory adds zeros: a DT_NULL */
    unsigned char *head;                /* a copy of its first segment (keep_tables), or NULL */
    uintptr_t head_vaddr;
    size_t head_len;
};
enum { ELF_OK = 0, ELF_BAD = -1, ELF_WRONG_KIND = -2, ELF_MISSING = -3 };
int read_elf(struct elf_file *f);
/* LEN bytes of the file at OFF, whole, or an error naming the file. */
int read_at(const struct elf_file *f, void *buf, size_t len, off_t off);
int read_dynamic(const struct elf_file *f, Elf64_Dyn **dyn, size_t *n);

/* map.c: the image in memory. */
int map_image(struct module *m, const struct elf_file *f);
/* Pages of the image from FIRST on, a bit each. */
struct page_set {
    uintptr_t first;
    size_t npages;
    uint64_t *bits;
};
void page_set_add(struct page_set *ps, uintptr_t addr);
void prefault(void *start, size_t len);
void prefault_self(void);
void prefault_tables(const struct module *m, uint64_t lo, uint64_t hi);
void populate_writes(struct module *m, struct page_set *ps);
void *image_ptr(const struct module *m, uintptr_t vaddr, size_t len);
const void *table_ptr(const struct module *m, uintptr_t vaddr, size_t len);
const Elf64_Phdr *writable_segment(const struct module *m, uintptr_t vaddr, size_t len);
bool executable_at(const struct module *m, uintptr_t vaddr);
bool relro_fits(const struct module *m);
int protect_relro(struct module *m);
void unmap_image(struct module *m);

/* dynamic.c */
int parse_dynamic(struct module *m, const Elf64_Dyn *dyn, size_t n);
const char *module_str(const struct module *m, size_t off);

/* symbol.c: finding definitions. */
struct symref {
    const char *name;
    const char *version; /* NULL: unversioned, takes the default */
    uint32_t version_hash;
    uint32_t gnu_hash;
    uint32_t sysv_hash;
    bool have_sysv;
    bool newest; /* dlsym's rule for unversioned names: the default version */
    bool defined_here; /* the referring module defines the name itself */
    /* The definition the hash was read at, in its module's GNU hash table,
     * where a search of that module for the name finds it: NULL if the hash
     * came from the name. */
    const Elf64_Sym *chained;
};
void symref_init(struct symref *ref, const char *name, const char *version);
void symref_of(struct symref *ref, const struct module *m, size_t symidx);
const char *symbol_version_name(const struct module *m, size_t symidx);
bool is_definition(const Elf64_Sym *s);
bool set_version(struct module *m, unsigned ndx, uint32_t name, uint32_t hash, size_t *cap);
void versions_fit(struct module *m);
const Elf64_Sym *find_gnu_chain(const struct module *m, const struct symref *ref);
const Elf64_Sym *find_sysv(const struct module *m, struct symref *ref);

/* The GNU hash table's Bloom filter: most searches of most objects end
 * here, so it is inline in every caller. */
static inline bool bloom_passes(const uint64_t *bloom, uint32_t mask, uint32_t shift, uint32_t h)
{
    uint64_t word = bloom[(h / 64) & mask];
    return (word >> (h % 64)) & (word >> ((h >> shift) % 64)) & 1;
}

static inline bool gnu_bloom_passes(const struct module *m, uint32_t h)
{
    return bloom_passes(m->gnu_bloom, m->gnu_bloom_size - 1, m->gnu_bloom_shift, h);
}

/* GNU hash chains: from symbol I on, the first in its chain whose hash
 * is H's (a chain's lowest bit marks its end); 0 once the chain ends
 * (symbol 0 is in none). */
static inline uint32_t gnu_chain_next(const uint32_t *chain, uint32_t symoffset, uint32_t i, uint32_t h)
{
    for (;; i++) {
        uint32_t c = chain[i - symoffset];
        if ((c | 1) == (h | 1))
            return i;
        if (c & 1)
            return 0;
    }
}

static inline uint32_t gnu_chain_first(const uint32_t *buckets, uint32_t nbuckets, const uint32_t *chain,
                                       uint32_t symoffset, uint32_t h)
{
    uint32_t i = buckets[h % nbuckets];
    return i < symoffset ? 0 : gnu_chain_next(chain, symoffset, i, h);
}

static inline const Elf64_Sym *find_in_module(const struct module *m, struct symref *ref)
{
    if (!m->gnu_buckets)
        return find_sysv(m, ref);
    return gnu_bloom_passes(m, ref->gnu_hash) ? find_gnu_chain(m, ref) : NULL;
}
bool finds_itself(const struct module *m, const Elf64_Sym *own, const struct symref *ref);
void *symbol_address(const struct module *m, const Elf64_Sym *sym);
uint32_t elf_sysv_hash(const char *name);
uint32_t elf_gnu_hash(const char *name);
void each_definition(const struct module *m, const char *name, void (*fn)(void *arg, const char *version),
                     void *arg);

/* symcache.c: ldr_sym's answers, per module. */
uint32_t symcache_key(const char *name, size_t *len);
void *symcache_find(const struct module *m, const char *name, size_t len, uint32_t key);
void symcache_add(struct module *m, const char *name, size_t len, uint32_t key, void *addr);
void symcache_free(struct module *m);

/* host.c: definitions the system loader's objects offer. */
struct load;
void host_begin(const struct load *ld);
unsigned long long host_objects_added(void);
void host_end(void);
void *host_symbol_in(const char *lib, const char *name);
void *host_startup_object(const char *name);
void *host_object_named(const char *name);
void *host_object_file(dev_t dev, ino_t ino);
int host_hold_answer(struct module *m);
unsigned long host_generation(void);
void *host_find(void *handle, struct symref *ref);
const struct module *host_view_of(void *handle, bool *covered);
const struct module *host_view_named(const char *name, bool *covered);
void *host_view_find(const struct module *view, struct symref *ref);
void host_describe(const void *addr, const char **file, const char **sym);
void *system_lookup(void *handle, const char *name, const char *version);
const struct module *host_next_view(size_t *i);

/* hooks.c: ldr's own implementations of what glibc gives its modules. */
void *find_hook(const struct symref *ref);
void count_load(void);
void count_unload(void);
void keys_release(struct module *m);

/* load.c: one file into one module (no dependencies, no relocation). */
int open_elf(const char *path, struct elf_file *f);
int open_elf_fd(const char *path, int fd, struct elf_file *f);
int memfd_with(const char *name, const void *data, size_t size);
int memfd_copy(const char *path, int src);
void close_elf(struct elf_file *f);
int load_elf(struct elf_file *f, int flags, struct module **out);

/* deps.c: DT_NEEDED, searched and loaded; system libraries. */
struct load;
int load_deps(struct load *ld);
bool is_system_library(const char *name);
int find_library(struct module *m, const char *name, struct elf_file *f);
void release_deps(struct module *m);
bool holds_dep(const struct module *m, const void *handle);
bool holds_bound_object(const struct module *m, const void *handle);
int hold_bound_object(struct module *m, void *handle);

/* reloc.c: every dynamic relocation of every module of a load. */
int relocate(struct load *ld);
int prefault_relocations(struct module *m);

/* scope.c: where a load's references bind, in the product's order. */
struct binding {
    uintptr_t value;
    const struct module *mod; /* NULL when the host defined it */
    const Elf64_Sym *sym;         /* the definition in mod */
    const char *where;            /* what traces say */
};
int resolve(struct load *ld, struct module *from, struct symref *ref, const Elf64_Sym *own,
            struct binding *out);
int scope_build(struct load *ld);
void load_release(struct load *ld);
void unique_forget(const struct module *m);
void *module_symbol(struct module *m, const char *name, const char *version);
const Elf64_Sym *nearest_symbol(const struct module *m, uintptr_t addr);

/* compat.c: fallbacks for versions the host's glibc lacks (not under
 * LDR_STRICT). compat_find binds REF as the table says and traces it, or
 * returns false with out->where saying why nothing binds (or NULL). */
enum compat_kind { COMPAT_OLDER, COMPAT_RENAME, COMPAT_SHIM, COMPAT_BY_LDR, COMPAT_UNSAFE };
struct compat_rule {
    const char *name;    /* a name, or an fnmatch pattern */
    const char *since;   /* the version the reference asks for */
    enum compat_kind kind;
    const char *target;  /* OLDER: the library that holds it (NULL: libc); RENAME: the function */
    const char *version; /* OLDER: the oldest safe version; RENAME: the function's (NULL: default) */
    const char *why;
};
extern const struct compat_rule compat_rules[];
extern const size_t compat_nrules;
bool compat_find(const struct module *from, const struct symref *ref, struct binding *out);

/* shims.c: ldr's own versions of functions an old glibc lacks. */
struct stat;
void *find_shim(const char *name);
int ldr_fstat(int fd, struct stat *st);
int ldr_stat(const char *path, struct stat *st);

/* tls.c */
void tls_prepare(bool descriptor);
int tls_register(struct module *m);
int tls_make_static(struct module *m);
bool tls_try_static(struct module *m);
intptr_t tls_static_offset(const struct module *m);
void tls_release(struct module *m);
void *tls_block_if_any(const struct module *m);
int host_tls_locate(const void *addr, size_t *id, size_t *offset);
int host_tls_static_offset(const void *addr, intptr_t *offset);

/* unwind.c */
void unwind_register(struct module *m);
void unwind_deregister(struct module *m);

/* init.c */
int check_initializers(struct load *ld);
void run_initializers(struct load *ld);
void run_finalizers(struct module *m);
char **process_argv(int *argc);

/* reload.c */
int hash_fd(int fd, uint64_t *hash);
int file_changed(struct module *m, uint64_t *content);
int reload_add_slot(struct ldr_module *h, const char *name, void **slot);
int reload_add_hook(struct ldr_module *h, void (*fn)(struct ldr_module *, void *), void *arg);
void reload_notify(struct ldr_module *h);

/* modules.c: the list of loaded modules, and handles. */
bool module_needed(const struct module *m);
bool module_held(const struct module *m);
struct ldr_module *handle_for(struct module *m, int flags);
bool handle_is_live(const struct ldr_module *h);
void free_handle(struct ldr_module *h);
void lock_modules(void);
bool trylock_modules(void);
void unlock_modules(void);
struct module *first_module(void);
void publish_module(struct module *m);
struct module *find_module_by_file(dev_t dev, ino_t ino);
struct module *find_module_by_name(const char *name);
struct module *find_module_by_addr(const void *addr);
bool module_is_live(const struct module *m);
void clear_marks(void);
void collect_unreachable(void);
void finalize_all(void);
void destroy_module(struct module *m);

/* Counts and time per phase of one load, for LDR_DEBUG=statistics. */
struct load_stats {
    uint64_t start_ns, map_ns, relocate_ns, bind_ns, init_ns;
    unsigned long by_type[64]; /* relocations applied, by psABI type */
    unsigned long relr, bound, unresolved;
};

/* One place a load's references look after the host's global scope. */
struct scope_entry {
    const struct module *mod; /* an ldr module, or the view of a host library */
    void *handle;             /* a host library without a view: dlsym searches it */
    bool host;                /* mod is a view */
};

/* One ldr_open in progress: the modules it brought in, and the scope
 * their references search after the host. */
struct load {
    int flags;
    struct module *root;
    struct module **mods; /* new modules, breadth-first from root */
    size_t nmods, capmods;
    struct scope_entry *scope; /* root and every dependency, breadth-first */
    size_t nscope;
    struct load_stats stats;  /* filled only under LDR_DEBUG=statistics */
};
int load_add(struct load *ld, struct module *m);

/* diag.c: ldr_check's report, the statistics trace, and what debuggers
 * watch. A check load runs under the module lock with check_report set;
 * reloc.c and compat.c tell it every unresolved reference and every
 * substitution instead of stopping at the first. */
struct check_report;
extern struct check_report *check_report;
void report_unresolved(struct load *ld, const struct module *from, const char *name, const char *version,
                       const char *why);
void report_substitution(const struct module *from, const struct symref *ref, const char *target,
                         const char *target_symbol, const char *target_version, const char *why);
uint64_t stats_now(void);
void stats_trace(const struct load *ld);
void debug_announce(const struct module *m, int loaded);

/* crash.c: ldr_crash_reports. */
void crash_track(const struct module *m, int loaded);

#endif
