/* The dynamic section: tags turned into module fields. Every address it
 * yields is checked to lie inside the mapped image, with its whole extent,
 * before anything reads through it. */
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

struct raw {
    uint64_t strtab, strsz, symtab, syment, hash, gnu_hash, versym, verdef, verdefnum,
        verneed, verneednum, rela, relasz, relaent, jmprel, pltrelsz, pltrel, relr, relrsz,
        relrent, init, fini, init_array, init_arraysz, fini_array, fini_arraysz, flags,
        flags_1, soname, runpath, rpath;
    bool has_soname, has_runpath, has_rpath, has_rel, textrel, symbolic, has_pltrel;
};

const char *module_str(const struct module *m, size_t off)
{
    return off < m->strsz ? m->strtab + off : NULL;
}

#define BAD(...) fail(m->path, __VA_ARGS__)

/* table_ptr for a TYPE at ADDR: also NULL when misaligned for TYPE, which
 * only a malformed file does and which reading would make undefined. */
#define TYPED_PTR(m, addr, len, type) ((addr) % _Alignof(type) ? NULL : table_ptr(m, addr, len))

static int parse_sysv_hash(struct module *m, uint64_t addr)
{
    const uint32_t *h = TYPED_PTR(m, addr, 8, uint32_t);
    if (!h)
        return BAD("DT_HASH table lies outside the image or is misaligned");
    uint32_t nbucket = h[0], nchain = h[1];
    if (!nbucket)
        return BAD("DT_HASH table has no buckets");
    if (!(h = table_ptr(m, addr, 8 + ((uint64_t)nbucket + nchain) * 4)))
        return BAD("DT_HASH table (%u buckets, %u chains) runs outside the image", nbucket, nchain);
    m->sysv_nbuckets = nbucket;
    m->sysv_buckets = h + 2;
    m->sysv_chain = h + 2 + nbucket;
    m->nsyms = nchain;
    return 0;
}

/* The GNU hash table does not record the symbol count: it is one past
 * the end of the longest chain. 1 when no symbol is hashed: the table
 * then bounds nothing (linkers set symoffset to 1 whatever the count). */
static int parse_gnu_hash(struct module *m, uint64_t addr)
{
    const uint32_t *h = TYPED_PTR(m, addr, 16, uint64_t);
    if (!h)
        return BAD("DT_GNU_HASH table lies outside the image or is misaligned");
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], bloom_shift = h[3];
    if (nbuckets == 0 || bloom_size == 0 || (bloom_size & (bloom_size - 1)) || bloom_shift >= 32)
        return BAD("DT_GNU_HASH table has a malformed header");
    uint64_t chain_addr = addr + 16 + (uint64_t)bloom_size * 8 + (uint64_t)nbuckets * 4;
    if (!(h = table_ptr(m, addr, chain_addr - addr)))
        return BAD("DT_GNU_HASH table runs outside the image");
    m->gnu_nbuckets = nbuckets;
    m->gnu_symoffset = symoffset;
    m->gnu_bloom_size = bloom_size;
    m->gnu_bloom_shift = bloom_shift;
    m->gnu_bloom = (const uint64_t *)(h + 4);
    m->gnu_buckets = (const uint32_t *)(m->gnu_bloom + bloom_size);
    m->gnu_chain = m->gnu_buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (m->gnu_buckets[i] > last)
            last = m->gnu_buckets[i];
    if (last == 0) {
        m->nsyms = m->nsyms > symoffset ? m->nsyms : symoffset;
        return 1;
    }
    if (last < symoffset)
        return BAD("DT_GNU_HASH bucket %u precedes the first hashed symbol %u", last, symoffset);
    for (;; last++) {
        /* Read where the rest of the table is read from. */
        const uint32_t *c = table_ptr(m, chain_addr + (uint64_t)(last - symoffset) * 4, 4);
        if (!c || c != m->gnu_chain + (last - symoffset))
            return BAD("DT_GNU_HASH chain runs outside the image");
        if (*c & 1)
            break;
    }
    size_t count = (size_t)last + 1;
    m->gnu_hashed_end = (uint32_t)count;
    if (count > m->nsyms)
        m->nsyms = count;
    return 0;
}

/* Version indexes name either a definition (verdef) or a requirement
 * (verneed); one table serves both, as versym uses one index space. The
 * name's hash is computed here, once per version rather than once per
 * reference, and from the name: the file's own hash field is not trusted. */
static int add_version(struct module *m, unsigned index, uint32_t name, size_t *cap)
{
    const char *s = module_str(m, name);
    if (!s || !*s)
        return BAD("version name index %u outside the string table, or an empty name", name);
    return set_version(m, index, name, elf_sysv_hash(s), cap) ? 0 : BAD("out of memory");
}

static int parse_versions(struct module *m, const struct raw *r)
{
    size_t cap = 0;
    uint64_t at = r->verdef;
    for (uint64_t i = 0; r->verdef && i < r->verdefnum; i++) {
        const Elf64_Verdef *vd = TYPED_PTR(m, at, sizeof *vd, Elf64_Verdef);
        if (!vd)
            return BAD("version definitions run outside the image or are misaligned");
        if (vd->vd_cnt) {
            const Elf64_Verdaux *aux = TYPED_PTR(m, at + vd->vd_aux, sizeof *aux, Elf64_Verdaux);
            if (!aux)
                return BAD("version definition auxiliary entry outside the image or misaligned");
            if (add_version(m, vd->vd_ndx, aux->vda_name, &cap) < 0)
                return -1;
        }
        if (!vd->vd_next)
            break;
        at += vd->vd_next;
    }
    at = r->verneed;
    for (uint64_t i = 0; r->verneed && i < r->verneednum; i++) {
        const Elf64_Verneed *vn = TYPED_PTR(m, at, sizeof *vn, Elf64_Verneed);
        if (!vn)
            return BAD("version requirements run outside the image or are misaligned");
        uint64_t aux_at = at + vn->vn_aux;
        for (unsigned j = 0; j < vn->vn_cnt; j++) {
            const Elf64_Vernaux *aux = TYPED_PTR(m, aux_at, sizeof *aux, Elf64_Vernaux);
            if (!aux)
                return BAD("version requirement auxiliary entry outside the image or misaligned");
            if (add_version(m, aux->vna_other, aux->vna_name, &cap) < 0)
                return -1;
            if (!aux->vna_next)
                break;
            aux_at += aux->vna_next;
        }
        if (!vn->vn_next)
            break;
        at += vn->vn_next;
    }
    versions_fit(m);
    return 0;
}

/* A table of COUNT entries of SIZE bytes at ADDR, inside the image; read
 * there, in place, when RELOCATED: relocation rewrites it. */
static const void *table(struct module *m, uint64_t addr, uint64_t bytes, uint64_t entsize, bool relocated,
                         size_t *count, const char *what)
{
    if (!addr || !bytes) {
        *count = 0;
        return NULL;
    }
    /* Every table read this way holds 8-byte words. */
    const void *p = bytes % entsize || addr % 8 ? NULL
                    : relocated                 ? image_ptr(m, addr, bytes)
                                                : table_ptr(m, addr, bytes);
    if (!p) {
        BAD("%s (%#llx, %llu bytes) lies outside the image or is misaligned", what, (unsigned long long)addr,
            (unsigned long long)bytes);
        *count = SIZE_MAX;
        return NULL;
    }
    *count = bytes / entsize;
    return p;
}

/* DYN holds the section's N entries (read_dynamic). */
static int collect(struct module *m, struct raw *r, const Elf64_Dyn *dyn, size_t ndyn)
{
    size_t n = 0, end = 0;
    for (; end < ndyn && dyn[end].d_tag != DT_NULL; end++) {
        const Elf64_Dyn *d = &dyn[end];
        uint64_t v = d->d_un.d_val;
        switch (d->d_tag) {
        case DT_NEEDED: n++; break;
        case DT_STRTAB: r->strtab = v; break;
        case DT_STRSZ: r->strsz = v; break;
        case DT_SYMTAB: r->symtab = v; break;
        case DT_SYMENT: r->syment = v; break;
        case DT_HASH: r->hash = v; break;
        case DT_GNU_HASH: r->gnu_hash = v; break;
        case DT_VERSYM: r->versym = v; break;
        case DT_VERDEF: r->verdef = v; break;
        case DT_VERDEFNUM: r->verdefnum = v; break;
        case DT_VERNEED: r->verneed = v; break;
        case DT_VERNEEDNUM: r->verneednum = v; break;
        case DT_RELA: r->rela = v; break;
        case DT_RELASZ: r->relasz = v; break;
        case DT_RELAENT: r->relaent = v; break;
        case DT_JMPREL: r->jmprel = v; break;
        case DT_PLTRELSZ: r->pltrelsz = v; break;
        case DT_PLTREL: r->pltrel = v; r->has_pltrel = true; break;
        case DT_RELR: r->relr = v; break;
        case DT_RELRSZ: r->relrsz = v; break;
        case DT_RELRENT: r->relrent = v; break;
        case DT_REL: case DT_RELSZ: r->has_rel = r->has_rel || v; break;
        case DT_INIT: r->init = v; break;
        case DT_FINI: r->fini = v; break;
        case DT_INIT_ARRAY: r->init_array = v; break;
        case DT_INIT_ARRAYSZ: r->init_arraysz = v; break;
        case DT_FINI_ARRAY: r->fini_array = v; break;
        case DT_FINI_ARRAYSZ: r->fini_arraysz = v; break;
        case DT_FLAGS: r->flags = v; break;
        case DT_FLAGS_1: r->flags_1 = v; break;
        case DT_SONAME: r->soname = v; r->has_soname = true; break;
        case DT_RUNPATH: r->runpath = v; r->has_runpath = true; break;
        case DT_RPATH: r->rpath = v; r->has_rpath = true; break;
        case DT_TEXTREL: r->textrel = true; break;
        case DT_SYMBOLIC: r->symbolic = true; break;
        }
    }
    if (end == ndyn)
        return BAD("dynamic section has no DT_NULL terminator");
    if (n) {
        m->needed = calloc(n, sizeof *m->needed);
        if (!m->needed)
            return BAD("out of memory");
        for (size_t i = 0; i < end; i++)
            if (dyn[i].d_tag == DT_NEEDED)
                m->needed[m->nneeded++] = dyn[i].d_un.d_val;
    }
    return 0;
}

static int check_strings(struct module *m, struct raw *r)
{
    if (!r->strtab || !r->strsz)
        return BAD("no string table (DT_STRTAB)");
    m->strtab = table_ptr(m, r->strtab, r->strsz);
    if (!m->strtab)
        return BAD("string table (%#llx, %llu bytes) lies outside the image",
                   (unsigned long long)r->strtab, (unsigned long long)r->strsz);
    if (m->strtab[r->strsz - 1] != '\0')
        return BAD("string table does not end with a NUL byte");
    m->strsz = r->strsz;
    for (size_t i = 0; i < m->nneeded; i++)
        if (!module_str(m, m->needed[i]))
            return BAD("DT_NEEDED name index %u outside the string table", m->needed[i]);
    if ((r->has_soname && !(m->soname = module_str(m, r->soname))) ||
        (r->has_runpath && !(m->runpath = module_str(m, r->runpath))) ||
        (r->has_rpath && !(m->rpath = module_str(m, r->rpath))))
        return BAD("DT_SONAME, DT_RUNPATH or DT_RPATH outside the string table");
    return 0;
}

static int check_symbols(struct module *m, struct raw *r)
{
    if (!r->symtab)
        return BAD("no symbol table (DT_SYMTAB)");
    if (r->syment && r->syment != sizeof(Elf64_Sym))
        return BAD("symbol entry size %llu, expected %zu", (unsigned long long)r->syment, sizeof(Elf64_Sym));
    if (!r->hash && !r->gnu_hash)
        return BAD("no symbol hash table (DT_HASH or DT_GNU_HASH)");
    if (r->hash && parse_sysv_hash(m, r->hash) < 0)
        return -1;
    int unhashed = r->gnu_hash ? parse_gnu_hash(m, r->gnu_hash) : 0;
    if (unhashed < 0)
        return -1;
    /* Nothing hashed and no DT_HASH: the symbols are the relocations'. */
    if (unhashed && !r->hash)
        for (size_t i = 0; i < m->nrela + m->njmprel; i++) {
            const Elf64_Rela *rel = i < m->nrela ? &m->rela[i] : &m->jmprel[i - m->nrela];
            if (ELF64_R_SYM(rel->r_info) >= m->nsyms)
                m->nsyms = (size_t)ELF64_R_SYM(rel->r_info) + 1;
        }
    m->symtab = TYPED_PTR(m, r->symtab, (uint64_t)m->nsyms * sizeof(Elf64_Sym), Elf64_Sym);
    if (!m->symtab)
        return BAD("symbol table (%zu symbols) lies outside the image or is misaligned", m->nsyms);
    for (size_t i = 0; i < m->nsyms; i++)
        if (m->symtab[i].st_name >= m->strsz)
            return BAD("symbol %zu: name index %u outside the string table", i, m->symtab[i].st_name);
    if (r->versym && !(m->versym = TYPED_PTR(m, r->versym, (uint64_t)m->nsyms * 2, Elf64_Half)))
        return BAD("symbol version table lies outside the image or is misaligned");
    if (parse_versions(m, r) < 0)
        return -1;
    if (m->versym)
        for (size_t i = 0; i < m->nsyms; i++) {
            unsigned v = m->versym[i] & 0x7fff;
            if (v > 1 && (v >= m->nversions || !m->versions[v].name))
                return BAD("symbol %zu: version index %u names no version", i, v);
        }
    return 0;
}

static int check_relocs(struct module *m, struct raw *r)
{
    if (r->has_rel)
        return BAD("uses REL relocations, which x86_64 objects do not");
    if ((r->relaent && r->relaent != sizeof(Elf64_Rela)) || (r->relrent && r->relrent != 8))
        return BAD("unexpected relocation entry size");
    if (r->has_pltrel && r->pltrel != DT_RELA)
        return BAD("PLT relocations are not RELA");
    m->rela = table(m, r->rela, r->relasz, sizeof(Elf64_Rela), false, &m->nrela, "RELA relocations");
    m->jmprel = table(m, r->jmprel, r->pltrelsz, sizeof(Elf64_Rela), false, &m->njmprel, "PLT relocations");
    m->relr = table(m, r->relr, r->relrsz, 8, false, &m->nrelr, "RELR relocations");
    m->init_array = table(m, r->init_array, r->init_arraysz, 8, true, &m->ninit_array, "DT_INIT_ARRAY");
    m->fini_array = table(m, r->fini_array, r->fini_arraysz, 8, true, &m->nfini_array, "DT_FINI_ARRAY");
    if (m->nrela == SIZE_MAX || m->njmprel == SIZE_MAX || m->nrelr == SIZE_MAX ||
        m->ninit_array == SIZE_MAX || m->nfini_array == SIZE_MAX)
        return -1;
    m->init = r->init;
    m->fini = r->fini;
    return 0;
}

/* The tables a load reads from end to end (symbol, hash and version
 * tables, relocations) mapped in at once: from the lowest address any of
 * them begins at to the furthest end of those whose size is known, on
 * both sides of the string table, of which a load reads some names only
 * (libLLVM's: megabytes). They lie together in the first segment, as a
 * rule (prefault_tables checks). */
static void prefault_span(const struct module *m, const struct raw *r)
{
    const uint64_t starts[] = {r->symtab, r->hash, r->gnu_hash, r->versym, r->verdef,
                               r->verneed, r->rela, r->jmprel, r->relr};
    const uint64_t ends[] = {r->rela + r->relasz, r->jmprel + r->pltrelsz, r->relr + r->relrsz};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
        if (starts[i] && starts[i] < lo)
            lo = starts[i];
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++)
        if (ends[i] > hi)
            hi = ends[i];
    if (r->strtab > lo && r->strtab < hi && r->strsz < hi - r->strtab) {
        prefault_tables(m, lo, r->strtab);
        lo = r->strtab + r->strsz;
    }
    prefault_tables(m, lo, hi);
}

int parse_dynamic(struct module *m, const Elf64_Dyn *dyn, size_t n)
{
    struct raw r = {0};
    if (collect(m, &r, dyn, n) < 0)
        return -1;
    prefault_span(m, &r);
    if (check_strings(m, &r) < 0)
        return -1;
    if (r.textrel || (r.flags & DF_TEXTREL))
        return BAD("has text relocations (DT_TEXTREL); ldr never makes code writable, rebuild with -fPIC");
    if (r.flags_1 & DF_1_PIE)
        return BAD("a position-independent executable, not a library");
    if (r.flags_1 & DF_1_NOOPEN)
        return BAD("marked not to be opened at run time (DF_1_NOOPEN)");
    if (check_relocs(m, &r) < 0 || check_symbols(m, &r) < 0)
        return -1;
    m->symbolic = r.symbolic || (r.flags & DF_SYMBOLIC);
    m->bind_now = (r.flags & DF_BIND_NOW) || (r.flags_1 & DF_1_NOW);
    m->nodelete = r.flags_1 & DF_1_NODELETE;
    return 0;
}
