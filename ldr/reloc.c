/* Relocation: RELR, RELA and the PLT's RELA, for every module of a load,
 * dependencies before the modules that need them, everything bound at
 * load time (no lazy PLT). The psABI's types are mapped to generic kinds
 * by arch/x86_64/reloc.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "ldr_internal.h"

/* Relocated words need not be aligned (a pointer in a packed structure
 * is relocated like any other), so they are read and written bytewise. */
static uintptr_t load_word(uintptr_t at)
{
    uintptr_t v;
    memcpy(&v, (const void *)at, sizeof v);
    return v;
}

static void store_word(uintptr_t at, uintptr_t v)
{
    memcpy((void *)at, &v, sizeof v);
}

/* Unresolved strong references, all of them, for one error message. */
struct missing {
    char *text;
    size_t len, cap;
    unsigned count, listed;
};

/* One resolved symbol per symbol index: relocations name the same symbol
 * many times (a GOT entry and several data words). A symbol bound to an
 * IFUNC of the module itself waits for the second pass, when the module
 * is relocated and its resolver may run. */
enum { UNKNOWN, BOUND, WAITING, LATE };

struct pass {
    struct load *ld;
    struct module *m;
    uintptr_t *values; /* by symbol index, once its state is BOUND or LATE */
    uint8_t *states;
    struct missing *missing;
    bool deferred;  /* second pass: only what waited for an IFUNC */
    bool pending;   /* first pass left something for the second */
};

/* Each symbol once: relocations naming the same symbol share its index,
 * and symbol_value settles an index once. The message keeps to what
 * ldr_error can show; the count covers them all. */
#define MISSING_TEXT_MAX 3000

static void note_missing(struct pass *p, const char *name, const char *version, const char *why)
{
    struct missing *mi = p->missing;
    p->ld->stats.unresolved++;
    report_unresolved(p->ld, p->m, name, version, why);
    mi->count++;
    if (mi->len > MISSING_TEXT_MAX)
        return;
    char item[512];
    int n = snprintf(item, sizeof item, "%s%s%s%s%s%s", name, version ? "@" : "", version ? version : "",
                     why ? " (" : "", why ? why : "", why ? ")" : "");
    if (n < 0)
        return;
    size_t need = mi->len + sizeof item + 3;
    if (need > mi->cap) {
        size_t cap = need * 2;
        char *t = realloc(mi->text, cap);
        if (!t)
            return;
        mi->text = t;
        mi->cap = cap;
    }
    mi->len += sprintf(mi->text + mi->len, "%s%s", mi->listed ? ", " : "", item);
    mi->listed++;
}

static const char *version_of(const struct module *m, size_t symidx)
{
    const struct version *v = symbol_version(m, symidx);
    return v ? v->name : NULL;
}

static void trace_binding(const struct module *m, const char *name, const char *version,
                          const struct binding *b)
{
    if (!tracing(T_BINDINGS))
        return;
    const char *file = b->where, *sym = name;
    const char *defver = NULL;
    if (b->mod) {
        defver = version_of(b->mod, b->sym - b->mod->symtab);
    } else if (!file) {
        host_describe((void *)b->value, &file, &sym);
        if (!sym)
            sym = name;
    }
    trace(T_BINDINGS, "%s: %s%s%s -> %s %s%s%s (%#lx)", m->path, name, version ? "@" : "",
          version ? version : "", b->mod ? "module" : "host", file, defver ? " " : "",
          defver ? defver : "", (unsigned long)b->value);
}

/* resolve() for symbol SYMIDX of the module, timed and counted for
 * LDR_DEBUG=statistics. */
static int bind_symbol(struct pass *p, size_t symidx, struct symref *ref, struct binding *b)
{
    const Elf64_Sym *s = &p->m->symtab[symidx];
    const Elf64_Sym *own = is_definition(s) ? s : NULL;
    symref_of(ref, p->m, symidx);
    if (!tracing(T_STATS))
        return resolve(p->ld, p->m, ref, own, b);
    uint64_t t = stats_now();
    int r = resolve(p->ld, p->m, ref, own, b);
    p->ld->stats.bind_ns += stats_now() - t;
    p->ld->stats.bound += r == 0;
    return r;
}

/* 0: *value set; 1: wait for the second pass; -1: failed. */
static int symbol_value(struct pass *p, size_t symidx, uintptr_t *value)
{
    struct module *m = p->m;
    uint8_t *state = &p->states[symidx];
    if (*state == BOUND || *state == LATE) {
        *value = p->values[symidx];
        return 0;
    }
    const Elf64_Sym *s = &m->symtab[symidx];
    const char *name = m->strtab + s->st_name;
    const char *version = version_of(m, symidx);
    struct binding b = {0};
    int res;
    if (ELF64_ST_BIND(s->st_info) == STB_LOCAL) {
        /* A local symbol is its own definition. */
        if (s->st_shndx == SHN_UNDEF)
            return fail(m->path, "relocation against undefined local symbol %s", name);
        b.mod = m;
        b.sym = s;
        b.where = m->path;
        if (ELF64_ST_TYPE(s->st_info) == STT_GNU_IFUNC && !p->deferred) {
            res = 1;
        } else {
            b.value = (uintptr_t)symbol_address(m, s);
            res = b.value ? 0 : fail(m->path, "IFUNC resolver of %s lies outside the module's code", name) - 1;
        }
    } else {
        struct symref ref;
        res = bind_symbol(p, symidx, &ref, &b);
    }
    if (res == -2)
        return -1;
    if (res == 1) {
        if (p->deferred)
            return fail(m->path, "%s binds to an IFUNC in a module not yet relocated (a dependency cycle)", name);
        *state = WAITING;
        return 1;
    }
    if (res == -1) {
        if (ELF64_ST_BIND(s->st_info) != STB_WEAK)
            note_missing(p, name, version, b.where);
        else
            b = (struct binding){.value = 0, .where = "nothing (weak, unresolved)"};
    }
    if (res == 0 || ELF64_ST_BIND(s->st_info) == STB_WEAK)
        trace_binding(m, name, version, &b);
    p->values[symidx] = b.value;
    *state = p->deferred ? LATE : BOUND;
    *value = b.value;
    return 0;
}

/* The TLS variable a relocation names: a module and an offset in its
 * block, for an ldr module or one of the system loader's. */
struct tls_target {
    struct module *mod; /* NULL: the host's, or nothing (weak) */
    size_t id, offset;
    const void *host_addr;  /* this thread's instance of a host variable */
    bool undefined;         /* an unresolved weak reference */
};

static int tls_target(struct pass *p, size_t symidx, struct tls_target *t)
{
    struct module *m = p->m;
    const Elf64_Sym *s = &m->symtab[symidx];
    *t = (struct tls_target){0};
    if (!symidx || (s->st_shndx != SHN_UNDEF && ELF64_ST_BIND(s->st_info) == STB_LOCAL)) {
        t->mod = m;
        t->offset = symidx ? s->st_value : 0;
    } else {
        const char *name = m->strtab + s->st_name, *version = version_of(m, symidx);
        struct symref ref;
        struct binding b;
        int res = bind_symbol(p, symidx, &ref, &b);
        if (res == -2)
            return -1;
        if (res != 0) {
            if (ELF64_ST_BIND(s->st_info) != STB_WEAK)
                note_missing(p, name, version, NULL);
            t->undefined = true;
            return 0;
        }
        trace_binding(m, name, version, &b);
        if (b.mod) {
            if (ELF64_ST_TYPE(b.sym->st_info) != STT_TLS)
                return fail(m->path, "TLS relocation against %s, which %s defines as no TLS variable", name,
                            b.mod->path);
            t->mod = (struct module *)b.mod;
            t->offset = b.sym->st_value;
        } else {
            if (host_tls_locate((void *)b.value, &t->id, &t->offset) < 0)
                return fail(m->path, "TLS relocation against %s, which the host defines as no TLS variable", name);
            t->host_addr = (void *)b.value;
            return 0;
        }
    }
    if (!t->mod->tls_id)
        return fail(m->path, "TLS relocation against a module without a TLS segment (%s)", t->mod->path);
    t->id = t->mod->tls_id;
    return 0;
}

/* The offset from the thread pointer, the same in every thread, that an
 * initial-exec access needs. ldr can give one for a module of this load
 * whose TLS image is zero (it goes to ldr's static pool, for good: such a
 * module is never unloaded), and for a host library in static TLS. */
static int tls_tpoff(struct pass *p, const struct tls_target *t, intptr_t *off)
{
    if (t->host_addr) {
        if (host_tls_static_offset(t->host_addr, off) < 0)
            return fail(p->m->path, "initial-exec TLS access to a host variable outside static TLS");
        return 0;
    }
    if (!tls_static_offset(t->mod)) {
        if (t->mod->initialized)
            return fail(p->m->path, "initial-exec TLS access to %s, which already runs with dynamic TLS",
                        t->mod->path);
        if (tls_make_static(t->mod) < 0)
            return -1;
        t->mod->nodelete = true;
    }
    *off = tls_static_offset(t->mod) + (intptr_t)t->offset;
    return 0;
}

static int apply_tls(struct pass *p, const Elf64_Rela *rel, enum reloc_kind kind)
{
    struct module *m = p->m;
    struct tls_target t;
    tls_prepare(false);
    if (tls_target(p, ELF64_R_SYM(rel->r_info), &t) < 0)
        return -1;
    uintptr_t where = m->base + rel->r_offset, word0 = 0, word1 = 0;
    intptr_t off = 0;
    switch (kind) {
    case RK_DTPMOD:
        word0 = t.id;
        break;
    case RK_DTPOFF:
        word0 = t.offset + rel->r_addend;
        break;
    case RK_TPOFF:
        if (!t.undefined && tls_tpoff(p, &t, &off) < 0)
            return -1;
        word0 = off + rel->r_addend;
        break;
    default: /* RK_TLSDESC */
        if (t.undefined) {
            word0 = (uintptr_t)ldr_tlsdesc_undefweak;
        } else if (t.mod && tls_static_offset(t.mod)) {
            word0 = (uintptr_t)ldr_tlsdesc_static;
            word1 = tls_static_offset(t.mod) + t.offset + rel->r_addend;
        } else {
            tls_prepare(true);
            struct tlsdesc_arg *arg = &m->tlsdesc[m->ntlsdesc++];
            *arg = (struct tlsdesc_arg){t.id, t.offset + rel->r_addend};
            word0 = (uintptr_t)ldr_tlsdesc_dynamic;
            word1 = (uintptr_t)arg;
        }
        break;
    }
    store_word(where, word0);
    if (kind == RK_TLSDESC)
        store_word(where + 8, word1);
    if (tracing(T_RELOC))
        trace(T_RELOC, "%s: %s +%#lx = %#lx %#lx", m->path, reloc_type_name(ELF64_R_TYPE(rel->r_info)),
              (unsigned long)rel->r_offset, (unsigned long)word0,
              (unsigned long)word1);
    return 0;
}

__attribute__((noinline)) static int apply(struct pass *p, const Elf64_Rela *rel)
{
    struct module *m = p->m;
    unsigned type = ELF64_R_TYPE(rel->r_info);
    size_t symidx = ELF64_R_SYM(rel->r_info);
    enum reloc_kind kind = reloc_kind_of(type);
    if (kind == RK_NONE)
        return 0;
    bool with_symbol = symidx && (kind == RK_ABS || kind == RK_GOT || kind == RK_PLT);
    /* The second pass applies only what the first left waiting. */
    if (p->deferred && kind != RK_IRELATIVE &&
        !(with_symbol && (p->states[symidx] == WAITING || p->states[symidx] == LATE)))
        return 0;
    /* Counted once: an IRELATIVE in the second pass, which applies it. */
    if (p->deferred == (kind == RK_IRELATIVE))
        p->ld->stats.by_type[type % (sizeof p->ld->stats.by_type / sizeof p->ld->stats.by_type[0])]++;
    if (kind == RK_DTPMOD || kind == RK_DTPOFF || kind == RK_TPOFF || kind == RK_TLSDESC)
        return apply_tls(p, rel, kind);
    uintptr_t s = 0, value;
    if (with_symbol) {
        int r = symbol_value(p, symidx, &s);
        if (r < 0)
            return -1;
        if (r == 1) {
            p->pending = true;
            return 0;
        }
    }
    switch (kind) {
    case RK_RELATIVE:
        value = m->base + rel->r_addend;
        break;
    case RK_ABS:
        value = s + rel->r_addend;
        break;
    case RK_GOT:
    case RK_PLT:
        value = s;
        break;
    case RK_IRELATIVE:
        /* The resolver may read data other relocations fill in: it runs
         * in the second pass, after all of them. */
        if (!p->deferred) {
            p->pending = true;
            return 0;
        }
        if (!executable_at(m, rel->r_addend))
            return fail(m->path, "IRELATIVE resolver at %#lx lies outside the module's code",
                        (unsigned long)rel->r_addend);
        value = (uintptr_t)((ifunc_resolver)(m->base + rel->r_addend))(getauxval(AT_HWCAP));
        break;
    default:
        return 0;
    }
    store_word(m->base + rel->r_offset, value);
    if (tracing(T_RELOC)) {
        const char *version = symidx ? version_of(m, symidx) : NULL;
        trace(T_RELOC, "%s: %s +%#lx = %#lx%s%s%s%s", m->path, reloc_type_name(type),
              (unsigned long)rel->r_offset, (unsigned long)value, symidx ? " " : "",
              symidx ? m->strtab + m->symtab[symidx].st_name : "", version ? "@" : "", version ? version : "");
    }
    return 0;
}

/* RELR: an address word, then bitmaps of the following words. FN(ARG,
 * offset) for each word the table relocates, until FN fails. */
static int each_relr(const struct module *m, int (*fn)(void *arg, uintptr_t at), void *arg)
{
    uintptr_t where = 0;
    for (size_t i = 0; i < m->nrelr; i++) {
        uint64_t entry = m->relr[i];
        if (!(entry & 1)) {
            if (fn(arg, entry) < 0)
                return -1;
            where = entry + 8;
            continue;
        }
        for (unsigned bit = 1; bit < 64; bit++)
            if (((entry >> bit) & 1) && fn(arg, where + (bit - 1) * 8) < 0)
                return -1;
        where += 63 * 8;
    }
    return 0;
}

static int relr_apply(void *arg, uintptr_t at)
{
    struct pass *p = arg;
    uintptr_t base = p->m->base;
    store_word(base + at, load_word(base + at) + base);
    p->ld->stats.relr++;
    return 0;
}

/* Before anything is written: every relocation's type is one ldr applies,
 * its symbol lies in the table and its target in a writable segment. The
 * walk also counts the TLS descriptors and marks the pages written, so
 * that they can be faulted in at once; afterwards the application loops
 * check nothing. */
struct plan {
    const struct module *m;
    uintptr_t lo;          /* the image's first vaddr: pages counts from there */
    bool in_seg;           /* a target seen: the writable segment it lies in, */
    uintptr_t seg_start;   /* its start */
    uintptr_t seg_last;    /* and the last offset in it a word may start at */
    unsigned char *pages;  /* a bit per page of the image */
    size_t ndesc;
};

static void plan_page(struct plan *pl, uintptr_t at)
{
    size_t page = (at - pl->lo) / 4096;
    pl->pages[page / 8] |= 1u << (page % 8);
}

static bool plan_target(struct plan *pl, uintptr_t at, size_t len)
{
    if (!pl->in_seg || at - pl->seg_start > pl->seg_last || pl->seg_last - (at - pl->seg_start) < len - 8) {
        const Elf64_Phdr *s = writable_segment(pl->m, at, len);
        if (!s)
            return false;
        pl->in_seg = true;
        pl->seg_start = s->p_vaddr;
        pl->seg_last = s->p_memsz - 8; /* it holds this target, 8 bytes at least */
    }
    plan_page(pl, at);
    plan_page(pl, at + len - 1);
    return true;
}

static int plan_relr(void *arg, uintptr_t at)
{
    struct plan *pl = arg;
    if (!plan_target(pl, at, 8))
        return fail(pl->m->path, "RELR relocation at offset %#lx lies outside the writable image",
                    (unsigned long)at);
    return 0;
}

/* Out of line, as apply() is: the loops that call them stay small. */
__attribute__((noinline)) static int plan_rela(struct plan *pl, const Elf64_Rela *rel)
{
    const struct module *m = pl->m;
    unsigned type = ELF64_R_TYPE(rel->r_info);
    size_t symidx = ELF64_R_SYM(rel->r_info);
    enum reloc_kind kind = reloc_kind_of(type);
    if (kind == RK_NONE)
        return 0;
    if (kind == RK_UNSUPPORTED)
        return fail(m->path, "unsupported relocation type %u (R_X86_64_%s) at offset %#lx", type,
                    reloc_type_name(type), (unsigned long)rel->r_offset);
    if (!plan_target(pl, rel->r_offset, kind == RK_TLSDESC ? 16 : 8))
        return fail(m->path, "relocation R_X86_64_%s at offset %#lx lies outside the writable image",
                    reloc_type_name(type), (unsigned long)rel->r_offset);
    if (symidx >= m->nsyms)
        return fail(m->path, "relocation at offset %#lx names symbol %zu of %zu",
                    (unsigned long)rel->r_offset, symidx, m->nsyms);
    pl->ndesc += kind == RK_TLSDESC;
    return 0;
}

/* A RELATIVE word inside the segment of the last target, on one page,
 * needs nothing more than its page marked. The segment is kept in locals:
 * stores to the bitmap could alias the plan's fields. */
static int plan_table(struct plan *pl, const Elf64_Rela *rel, size_t n)
{
    uintptr_t start = pl->seg_start, last = pl->seg_last, lo = pl->lo;
    bool in_seg = pl->in_seg;
    unsigned char *pages = pl->pages;
    for (size_t i = 0; i < n; i++) {
        uintptr_t at = rel[i].r_offset;
        if (ELF64_R_TYPE(rel[i].r_info) == LDR_R_RELATIVE && in_seg && at - start <= last &&
            at % 4096 <= 4096 - 8) {
            size_t page = (at - lo) / 4096;
            pages[page / 8] |= 1u << (page % 8);
        } else {
            if (plan_rela(pl, &rel[i]) < 0)
                return -1;
            in_seg = pl->in_seg;
            start = pl->seg_start;
            last = pl->seg_last;
        }
    }
    return 0;
}

static int plan(struct plan *pl)
{
    const struct module *m = pl->m;
    pl->lo = (uintptr_t)m->map_start - m->base;
    if (each_relr(m, plan_relr, pl) < 0 || plan_table(pl, m->rela, m->nrela) < 0)
        return -1;
    return plan_table(pl, m->jmprel, m->njmprel);
}

/* Most of a large library's relocations are RELATIVE: they take a loop
 * of their own, the rest go through apply(). */
static int walk_table(struct pass *p, const Elf64_Rela *rel, size_t n)
{
    uintptr_t base = p->m->base;
    bool quick = !p->deferred && !tracing(T_RELOC);
    unsigned long relative = 0;
    for (size_t i = 0; i < n; i++) {
        if (quick && ELF64_R_TYPE(rel[i].r_info) == LDR_R_RELATIVE) {
            store_word(base + rel[i].r_offset, base + rel[i].r_addend);
            relative++;
        } else if (apply(p, &rel[i]) < 0) {
            return -1;
        }
    }
    p->ld->stats.by_type[LDR_R_RELATIVE] += relative;
    return 0;
}

static int walk(struct pass *p)
{
    return walk_table(p, p->m->rela, p->m->nrela) < 0 ? -1 : walk_table(p, p->m->jmprel, p->m->njmprel);
}

static int relocate_module(struct load *ld, struct module *m, struct missing *missing)
{
    struct plan pl = {.m = m, .pages = calloc(m->map_size / 4096 / 8 + 1, 1)};
    if (!pl.pages)
        return fail(m->path, "out of memory");
    int r = plan(&pl);
    if (r == 0)
        prefault_pages(m, pl.pages);
    free(pl.pages);
    if (r < 0)
        return -1;

    struct pass p = {.ld = ld, .m = m, .missing = missing};
    size_t nsyms = m->nsyms ? m->nsyms : 1;
    p.values = malloc(nsyms * (sizeof *p.values + sizeof *p.states));
    if (pl.ndesc && !m->tlsdesc)
        m->tlsdesc = calloc(pl.ndesc, sizeof *m->tlsdesc);
    if (!p.values || (pl.ndesc && !m->tlsdesc)) {
        free(p.values);
        return fail(m->path, "out of memory");
    }
    p.states = (uint8_t *)(p.values + nsyms);
    memset(p.states, UNKNOWN, nsyms);
    each_relr(m, relr_apply, &p);
    if (m->nrelr)
        trace(T_RELOC, "%s: RELR %zu entries applied", m->path, m->nrelr);
    r = walk(&p);
    if (r == 0) {
        m->relocated = true;
        if (p.pending) {
            p.deferred = true;
            r = walk(&p);
        }
    }
    free(p.values);
    return r;
}

/* Dependencies first (the load's list is breadth-first from the root, so
 * backwards), so that a dependency's IFUNC resolvers run relocated. */
int relocate(struct load *ld)
{
    struct missing missing = {0};
    int r = 0;
    for (size_t i = ld->nmods; i-- > 0 && r == 0;)
        r = relocate_module(ld, ld->mods[i], &missing);
    if (r == 0 && missing.count)
        r = fail(ld->root->path, "%u undefined symbol%s: %s%s", missing.count, missing.count > 1 ? "s" : "",
                 missing.text ? missing.text : "", missing.listed < missing.count ? ", ..." : "");
    for (size_t i = 0; r == 0 && i < ld->nmods; i++)
        r = protect_relro(ld->mods[i]);
    free(missing.text);
    return r;
}
