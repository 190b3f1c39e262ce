/* Finding a definition in one module: the GNU hash with its Bloom filter,
 * or the SysV hash, then the version rules. */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "ldr_internal.h"

uint32_t elf_gnu_hash(const char *s)
{
    /* Two characters a step (h * 33 * 33 + c0 * 33 + c1): every reference
     * of every load is hashed, and names of C++ symbols are long. */
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 5381;
    for (;; p += 2) {
        if (!p[0])
            return h;
        if (!p[1])
            return h * 33 + p[0];
        h = h * (33 * 33) + p[0] * 33u + p[1];
    }
}

uint32_t elf_sysv_hash(const char *s)
{
    uint32_t h = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h << 4) + *p;
        uint32_t g = h & 0xf0000000;
        h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

static void symref_set(struct symref *ref, const char *name, uint32_t hash, const char *version,
                       uint32_t version_hash)
{
    ref->name = name;
    ref->version = version;
    ref->version_hash = version_hash;
    ref->gnu_hash = hash;
    ref->have_sysv = false;
    ref->newest = false;
    ref->defined_here = false;
    ref->chained = NULL;
}

void symref_init(struct symref *ref, const char *name, const char *version)
{
    symref_set(ref, name, elf_gnu_hash(name), version, version ? elf_sysv_hash(version) : 0);
}

static const struct version *symbol_version(const struct module *m, size_t symidx)
{
    if (!m->versym)
        return NULL;
    unsigned ndx = m->versym[symidx] & 0x7fff;
    return ndx >= 2 && ndx < m->nversions && m->versions[ndx].name ? &m->versions[ndx] : NULL;
}

/* Whether the GNU hash chain from symbol J reaches symbol I of M with no
 * chain's end between and no symbol before I whose hash is H (the lowest
 * bit aside, which marks a chain's end). */
static bool chain_reaches(const struct module *m, uint32_t j, uint32_t i, uint32_t h)
{
    if (j < m->gnu_symoffset || j > i)
        return false;
    for (; j < i; j++) {
        uint32_t c = m->gnu_chain[j - m->gnu_symoffset];
        if ((c | 1) == (h | 1) || (c & 1))
            return false;
    }
    return true;
}

/* The GNU hash of the name of symbol I of M, from M's own table: its chain
 * keeps the hash but for the lowest bit, and which of the two buckets the
 * symbol's chain starts from tells that bit. Most of what a large library
 * binds it defines itself (libLLVM: 8 800 of 9 300 names, long C++ ones),
 * and this spares reading and hashing each name. False when the table
 * cannot tell: a single bucket, a symbol it does not hold. */
static bool hash_from_table(const struct module *m, uint32_t i, uint32_t *out)
{
    if (m->gnu_nbuckets < 2 || i < m->gnu_symoffset || i >= m->gnu_hashed_end)
        return false;
    uint32_t c = m->gnu_chain[i - m->gnu_symoffset], even = c & ~1u;
    uint32_t bucket = even % m->gnu_nbuckets, next = bucket + 1 == m->gnu_nbuckets ? 0 : bucket + 1;
    if (chain_reaches(m, m->gnu_buckets[bucket], i, even))
        *out = even;
    else if (chain_reaches(m, m->gnu_buckets[next], i, even | 1))
        *out = even | 1;
    else
        return false;
    return true;
}

/* The reference symbol SYMIDX of M makes. Its version's hash was computed
 * once, when the module's version table was read. */
void symref_of(struct symref *ref, const struct module *m, size_t symidx)
{
    const struct version *v = symbol_version(m, symidx);
    const char *name = m->strtab + m->symtab[symidx].st_name;
    uint32_t hash;
    bool chained = symidx <= UINT32_MAX && hash_from_table(m, (uint32_t)symidx, &hash);
    symref_set(ref, name, chained ? hash : elf_gnu_hash(name), v ? m->strtab + v->name : NULL, v ? v->hash : 0);
    ref->chained = chained ? &m->symtab[symidx] : NULL;
}

const char *symbol_version_name(const struct module *m, size_t symidx)
{
    const struct version *v = symbol_version(m, symidx);
    return v ? m->strtab + v->name : NULL;
}

/* How well definition INDEX of M answers REF, as the system loader judges:
 * a versioned reference takes only that version, hidden ones included
 * (that is how old callers keep their old ABI). An unversioned one takes
 * at once a definition without a version or of the object's first version
 * (glibc's oldest: what a caller from before symbol versioning meant);
 * any other version only if it is not hidden, and only when nothing
 * better turns up (ldr_sym, like dlsym, asks for the newest instead). */
enum fit { NO_FIT, FALLBACK_FIT, EXACT_FIT };

static enum fit version_fit(const struct module *m, size_t index, const struct symref *ref)
{
    if (!m->versym)
        return EXACT_FIT;
    unsigned v = m->versym[index];
    unsigned ndx = v & 0x7fff;
    if (!ref->version) {
        if (ndx < (ref->newest ? 2u : 3u))
            return EXACT_FIT;
        return v & 0x8000 ? NO_FIT : FALLBACK_FIT;
    }
    /* An unversioned definition answers a versioned reference, except for
     * dlvsym's exact question. */
    if (ndx < 2)
        return ref->newest ? NO_FIT : EXACT_FIT;
    if (ndx >= m->nversions || !m->versions[ndx].name)
        return NO_FIT;
    const struct version *def = &m->versions[ndx];
    return def->hash == ref->version_hash && strcmp(m->strtab + def->name, ref->version) == 0 ? EXACT_FIT : NO_FIT;
}

/* Records version NDX of M (versym's index space, shared by definitions
 * and requirements), growing the table as needed. false: out of memory. */
bool set_version(struct module *m, unsigned ndx, uint32_t name, uint32_t hash, size_t *cap)
{
    ndx &= 0x7fff;
    if (ndx >= *cap) {
        size_t ncap = ndx + 16;
        struct version *v = realloc(m->versions, ncap * sizeof *v);
        if (!v)
            return false;
        memset(v + *cap, 0, (ncap - *cap) * sizeof *v);
        m->versions = v;
        *cap = ncap;
    }
    m->versions[ndx] = (struct version){.name = name, .hash = hash};
    if (ndx >= m->nversions)
        m->nversions = ndx + 1;
    return true;
}

/* Once every version is recorded: the table's slack given back, as it
 * stays for as long as the module. */
void versions_fit(struct module *m)
{
    struct version *v = m->nversions ? realloc(m->versions, m->nversions * sizeof *v) : NULL;
    if (v)
        m->versions = v;
}

bool is_definition(const Elf64_Sym *s)
{
    unsigned bind = ELF64_ST_BIND(s->st_info), type = ELF64_ST_TYPE(s->st_info);
    if (s->st_shndx == SHN_UNDEF)
        return false;
    if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
        return false;
    if (type == STT_TLS)
        return true;
    if (s->st_value == 0 && s->st_shndx != SHN_ABS)
        return false;
    return type == STT_NOTYPE || type == STT_OBJECT || type == STT_FUNC || type == STT_COMMON ||
           type == STT_GNU_IFUNC;
}

static enum fit fit_of(const struct module *m, size_t i, const struct symref *ref)
{
    const Elf64_Sym *s = &m->symtab[i];
    if (!is_definition(s) || strcmp(m->strtab + s->st_name, ref->name) != 0)
        return NO_FIT;
    return version_fit(m, i, ref);
}

/* Keeps the best definition seen in a chain walk; true once it is final. */
static bool consider(const struct module *m, size_t i, const struct symref *ref, const Elf64_Sym **best)
{
    enum fit f = fit_of(m, i, ref);
    if (f == EXACT_FIT) {
        *best = &m->symtab[i];
        return true;
    }
    if (f == FALLBACK_FIT && !*best)
        *best = &m->symtab[i];
    return false;
}

/* After the Bloom filter (ldr_internal.h) let REF's hash pass. */
const Elf64_Sym *find_gnu_chain(const struct module *m, const struct symref *ref)
{
    uint32_t h = ref->gnu_hash, off = m->gnu_symoffset;
    /* dynamic.c checked that every chain ends inside the symbol table. */
    const Elf64_Sym *best = NULL;
    for (uint32_t i = gnu_chain_first(m->gnu_buckets, m->gnu_nbuckets, m->gnu_chain, off, h); i;
         i = m->gnu_chain[i - off] & 1 ? 0 : gnu_chain_next(m->gnu_chain, off, i + 1, h))
        if (consider(m, i, ref, &best))
            return best;
    return best;
}

const Elf64_Sym *find_sysv(const struct module *m, struct symref *ref)
{
    if (!ref->have_sysv) {
        ref->sysv_hash = elf_sysv_hash(ref->name);
        ref->have_sysv = true;
    }
    /* The chain is walked at most nsyms steps, so a looping chain in a
     * hostile file ends. */
    size_t steps = 0;
    const Elf64_Sym *best = NULL;
    for (uint32_t i = m->sysv_buckets[ref->sysv_hash % m->sysv_nbuckets];
         i != STN_UNDEF && i < m->nsyms && steps++ < m->nsyms; i = m->sysv_chain[i])
        if (consider(m, i, ref, &best))
            break;
    return best;
}

/* Whether a search of M for REF would find OWN, a definition in M that
 * REF was made from, without the search: REF's GNU hash chain reaches OWN
 * and holds no earlier symbol of the same hash (a duplicate name), as was
 * seen already if REF's hash was read at OWN. No means only that the
 * search must be made. */
bool finds_itself(const struct module *m, const Elf64_Sym *own, const struct symref *ref)
{
    uint32_t h = ref->gnu_hash, i = (uint32_t)(own - m->symtab);
    if (!m->gnu_buckets || i < m->gnu_symoffset)
        return false;
    if (!gnu_bloom_passes(m, h))
        return false;
    if (ref->chained != own && (!chain_reaches(m, m->gnu_buckets[h % m->gnu_nbuckets], i, h) ||
                                (m->gnu_chain[i - m->gnu_symoffset] | 1) != (h | 1)))
        return false;
    return version_fit(m, i, ref) == EXACT_FIT;
}


/* The address a definition stands for; an IFUNC's resolver is called,
 * and NULL returned when the resolver does not lie in the module's code. */
void *symbol_address(const struct module *m, const Elf64_Sym *sym)
{
    if (sym->st_shndx == SHN_ABS)
        return (void *)sym->st_value;
    uintptr_t addr = m->base + sym->st_value;
    if (ELF64_ST_TYPE(sym->st_info) != STT_GNU_IFUNC)
        return (void *)addr;
    if (!executable_at(m, sym->st_value))
        return NULL;
    return ((ifunc_resolver)addr)(getauxval(AT_HWCAP));
}

static void report_definition(const struct module *m, size_t i, const char *name,
                              void (*fn)(void *arg, const char *version), void *arg)
{
    const Elf64_Sym *s = &m->symtab[i];
    if (!is_definition(s) || strcmp(m->strtab + s->st_name, name) != 0)
        return;
    fn(arg, symbol_version_name(m, i));
}

/* Every definition of NAME in M, whatever its version: FN(ARG, version)
 * for each, the version NULL for an unversioned one. The same chain walks
 * as the lookups above, without stopping at the first fit. */
void each_definition(const struct module *m, const char *name, void (*fn)(void *arg, const char *version),
                     void *arg)
{
    if (m->gnu_buckets) {
        uint32_t h = elf_gnu_hash(name);
        uint32_t i = m->gnu_buckets[h % m->gnu_nbuckets];
        for (; i >= m->gnu_symoffset; i++) {
            uint32_t c = m->gnu_chain[i - m->gnu_symoffset];
            if ((c | 1) == (h | 1))
                report_definition(m, i, name, fn, arg);
            if (c & 1)
                break;
        }
        return;
    }
    size_t steps = 0;
    for (uint32_t i = m->sysv_buckets[elf_sysv_hash(name) % m->sysv_nbuckets];
         i != STN_UNDEF && i < m->nsyms && steps++ < m->nsyms; i = m->sysv_chain[i])
        report_definition(m, i, name, fn, arg);
}
