/* What ldr_sym answered, per module. A host looks the same names up again
 * and again (per frame, per call into a plugin); a table walk costs a
 * cache miss at each step (Bloom filter, bucket, chain, symbol, version,
 * name), a probe here one at most (8 bytes a slot: the table of a library
 * with tens of thousands of exports stays in the processor's cache), then
 * the symbol and its name, which the walk reads too. Keyed by the name's
 * xxHash, which is quicker than the GNU hash for the long names of C++
 * and Rust; only definitions in the module itself, for unversioned names,
 * are kept, and only while the module is. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ldr_internal.h"

struct symcache_entry {
    uint32_t key; /* 0: empty */
    uint32_t sym; /* the definition's index in the module's symbol table */
};

struct symcache {
    struct symcache_entry *slots;
    size_t cap, count; /* cap: a power of two */
};

uint32_t symcache_key(const char *name)
{
    uint32_t key = (uint32_t)XXH3_64bits(name, strlen(name));
    return key ? key : 1;
}

void *symcache_find(const struct module *m, const char *name, uint32_t key)
{
    const struct symcache *c = m->symcache;
    if (!c)
        return NULL;
    for (size_t i = key & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        const struct symcache_entry *e = &c->slots[i];
        if (!e->key)
            return NULL;
        if (e->key == key && strcmp(m->strtab + m->symtab[e->sym].st_name, name) == 0)
            return symbol_address(m, &m->symtab[e->sym]);
    }
}

static void put(struct symcache *c, struct symcache_entry e)
{
    size_t i = e.key & (c->cap - 1);
    while (c->slots[i].key)
        i = (i + 1) & (c->cap - 1);
    c->slots[i] = e;
    c->count++;
}

/* A table half full at most, grown by doubling. Out of memory, nothing is
 * kept: the next lookup walks the tables again. */
void symcache_add(struct module *m, const Elf64_Sym *sym, uint32_t key)
{
    struct symcache *c = m->symcache;
    if (!c && !(c = m->symcache = calloc(1, sizeof *c)))
        return;
    if ((c->count + 1) * 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct symcache_entry *old = c->slots, *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return;
        size_t ocap = c->cap;
        *c = (struct symcache){.slots = slots, .cap = cap};
        for (size_t i = 0; i < ocap; i++)
            if (old[i].key)
                put(c, old[i]);
        free(old);
    }
    put(c, (struct symcache_entry){.key = key, .sym = (uint32_t)(sym - m->symtab)});
}

void symcache_free(struct module *m)
{
    if (m->symcache)
        free(m->symcache->slots);
    free(m->symcache);
    m->symcache = NULL;
}
