/* What glibc's loader gives the modules it knows and ldr must give its
 * own: a module's references to these names bind here, before the host.
 * Each implementation lives with its concern; the ones that only extend
 * a host function to ldr's modules are here. */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

int ldr_cxa_atexit(void (*fn)(void *), void *arg, void *dso);
void ldr_cxa_finalize(void *dso);
int ldr_cxa_thread_atexit(void (*fn)(void *), void *obj, void *dso);
void *ldr_tls_get_addr(void *ti);

static unsigned long loads, unloads;

void count_load(void)
{
    loads++;
}

void count_unload(void)
{
    unloads++;
}

/* dl_iterate_phdr: the system loader's objects, then ldr's (Rust's
 * backtraces and libunwind find code through it). */
static int iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    int r = dl_iterate_phdr(cb, data);
    if (r)
        return r;
    lock_modules();
    for (struct module *m = first_module(); m && !r; m = m->next) {
        struct dl_phdr_info info = {
            .dlpi_addr = m->base,
            .dlpi_name = m->path,
            .dlpi_phdr = m->phdr,
            .dlpi_phnum = (ElfW(Half))m->phnum,
            .dlpi_adds = loads,
            .dlpi_subs = unloads,
            .dlpi_tls_modid = m->tls_id,
            .dlpi_tls_data = tls_block_if_any(m),
        };
        r = cb(&info, sizeof info, data);
    }
    unlock_modules();
    return r;
}

static int addr_info(const void *addr, Dl_info *info)
{
    return ldr_addr(addr, info) || dladdr(addr, info);
}

static int addr_info1(const void *addr, Dl_info *info, void **extra, int flags)
{
    if (ldr_addr(addr, info)) {
        if (extra)
            *extra = NULL; /* ldr's modules have no link_map to give */
        return 1;
    }
    return dladdr1(addr, info, extra, flags);
}

/* pthread keys a module creates (Rust's std makes one per copy of itself
 * and never deletes it): ldr deletes the ones left when the module is
 * unmapped. Otherwise each load would cost a key, of which a process has
 * 1024, and a thread exiting later with a value set would call the key's
 * destructor in unmapped code; a deleted key's destructors are never
 * called. The creator is the module the call returns to. */
static int key_create(pthread_key_t *key, void (*destructor)(void *))
{
    const void *caller = __builtin_return_address(0);
    int r = pthread_key_create(key, destructor);
    if (r != 0)
        return r;
    lock_modules();
    struct module *m = find_module_by_addr(caller);
    if (m) {
        unsigned *keys = realloc(m->keys, (m->nkeys + 1) * sizeof *keys);
        if (keys) {
            keys[m->nkeys++] = *key;
            m->keys = keys;
        }
    }
    unlock_modules();
    return 0;
}

static int key_delete(pthread_key_t key)
{
    lock_modules();
    for (struct module *m = first_module(); m; m = m->next)
        for (size_t i = 0; i < m->nkeys; i++)
            if (m->keys[i] == key)
                m->keys[i] = m->keys[--m->nkeys];
    unlock_modules();
    return pthread_key_delete(key);
}

void keys_release(struct module *m)
{
    for (size_t i = 0; i < m->nkeys; i++) {
        trace(T_UNLOAD, "%s: deleting pthread key %u it left", m->path, m->keys[i]);
        pthread_key_delete(m->keys[i]);
    }
    free(m->keys);
    m->keys = NULL;
    m->nkeys = 0;
}

static const struct {
    const char *name;
    void *addr;
} hooks[] = {
    {"__cxa_atexit", (void *)ldr_cxa_atexit},
    {"__cxa_finalize", (void *)ldr_cxa_finalize},
    {"__cxa_thread_atexit", (void *)ldr_cxa_thread_atexit},
    {"__cxa_thread_atexit_impl", (void *)ldr_cxa_thread_atexit},
    {"__tls_get_addr", (void *)ldr_tls_get_addr},
    {"dl_iterate_phdr", (void *)iterate_phdr},
    {"dladdr", (void *)addr_info},
    {"dladdr1", (void *)addr_info1},
    {"pthread_key_create", (void *)key_create},
    {"pthread_key_delete", (void *)key_delete},
};

/* Asked for every reference of every load: a name's hash, which the
 * reference carries anyway, rules out almost all of them at once. */
void *find_hook(const struct symref *ref)
{
    enum { NHOOKS = sizeof hooks / sizeof hooks[0] };
    static uint32_t hashes[NHOOKS];
    static uint64_t any; /* a bit per hash % 64 of the names: most fail this */
    if (!any)
        for (size_t i = 0; i < NHOOKS; i++) {
            hashes[i] = elf_gnu_hash(hooks[i].name);
            any |= (uint64_t)1 << (hashes[i] % 64);
        }
    if (!(any & ((uint64_t)1 << (ref->gnu_hash % 64))))
        return NULL;
    for (size_t i = 0; i < NHOOKS; i++)
        if (hashes[i] == ref->gnu_hash && strcmp(hooks[i].name, ref->name) == 0)
            return hooks[i].addr;
    return NULL;
}
