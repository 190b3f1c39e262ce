/* What ldr_sym answered, per module. A host looks the same names up again
 * and again (per frame, per call into a plugin). A walk of the module's
 * tables costs a cache miss at each step (Bloom filter, bucket, chain,
 * symbol, version, name); here a probe of a compact index, then the entry,
 * which holds the name and the address together, in the order the names
 * were first asked for. Keyed by the name's xxHash, quicker than the GNU
 * hash for the long names of C++ and Rust. Only definitions in the module
 * itself, for unversioned names, are kept, and only while the module is. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ldr_internal.h"

struct entry {
    void *addr;
    uint32_t len;
    char name[]; /* NUL-terminated */
};

struct symcache {
    uint64_t *index;   /* key << 32 | (offset of the entry in arena + 1); 0: empty */
    size_t cap, count; /* cap: a power of two */
    char *arena;
    size_t used, size;
};

uint32_t symcache_key(const char *name, size_t *len)
{
    *len = strlen(name);
    return (uint32_t)XXH3_64bits(name, *len);
}

static const struct entry *entry_at(const struct symcache *c, uint64_t slot)
{
    return (const struct entry *)(c->arena + (uint32_t)slot - 1);
}

void *symcache_find(const struct module *m, const char *name, size_t len, uint32_t key)
{
    const struct symcache *c = m->symcache;
    if (!c)
        return NULL;
    for (size_t i = key & (c->cap - 1); c->index[i]; i = (i + 1) & (c->cap - 1)) {
        if (c->index[i] >> 32 != key)
            continue;
        const struct entry *e = entry_at(c, c->index[i]);
        if (e->len == len && memcmp(e->name, name, len) == 0)
            return e->addr;
    }
    return NULL;
}

static void put(struct symcache *c, uint64_t slot)
{
    size_t i = (slot >> 32) & (c->cap - 1);
    while (c->index[i])
        i = (i + 1) & (c->cap - 1);
    c->index[i] = slot;
}

static bool grow_index(struct symcache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    uint64_t *old = c->index, *index = calloc(cap, sizeof *index);
    if (!index)
        return false;
    size_t ocap = c->cap;
    c->index = index;
    c->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            put(c, old[i]);
    free(old);
    return true;
}

/* The index three quarters full at most (libLLVM's 36000 exports keep to
 * 512 KiB of it) and the arena both grown by doubling. Out of memory (or
 * past 4 GiB of names), nothing is kept: the next lookup walks the tables
 * again. */
void symcache_add(struct module *m, const char *name, size_t len, uint32_t key, void *addr)
{
    struct symcache *c = m->symcache;
    if (!c && !(c = m->symcache = calloc(1, sizeof *c)))
        return;
    size_t need = (sizeof(struct entry) + len + 1 + 7) & ~(size_t)7;
    if (c->size - c->used < need) {
        size_t size = c->size ? c->size * 2 : 4096;
        while (size - c->used < need)
            size *= 2;
        char *arena = size <= UINT32_MAX ? realloc(c->arena, size) : NULL;
        if (!arena)
            return;
        c->arena = arena;
        c->size = size;
    }
    if ((c->count + 1) * 4 > c->cap * 3 && !grow_index(c))
        return;
    struct entry *e = (struct entry *)(c->arena + c->used);
    e->addr = addr;
    e->len = (uint32_t)len;
    memcpy(e->name, name, len + 1);
    put(c, (uint64_t)key << 32 | (c->used + 1));
    c->used += need;
    c->count++;
}

void symcache_free(struct module *m)
{
    if (m->symcache) {
        free(m->symcache->index);
        free(m->symcache->arena);
    }
    free(m->symcache);
    m->symcache = NULL;
}
