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


static void trace_binding(const struct module *m, const char *name, const char *version,
                          const struct binding *b)
{
    if (!tracing(T_BINDINGS))
        return;
    const char *file = b->where, *sym = name;
    const char *defver = NULL;
    if (b->mod) {
        defver = symbol_version_name(b->mod, b->sym - b->mod->symtab);
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
    ref->defined_here = own != NULL;
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
    const char *version = symbol_version_name(m, symidx);
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
        const char *name = m->strtab + s->st_name, *version = symbol_version_name(m, symidx);
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

/* A dynamic TLS descriptor's argument: the GOT keeps its address, so each
 * has an allocation of its own, which a longer list does not move. */
static struct tlsdesc_arg *new_tlsdesc(struct module *m)
{
    struct tlsdesc_arg **list = realloc(m->tlsdesc, (m->ntlsdesc + 1) * sizeof *list);
    if (!list)
        return NULL;
    m->tlsdesc = list;
    struct tlsdesc_arg *arg = malloc(sizeof *arg);
    if (arg)
        list[m->ntlsdesc++] = arg;
    return arg;
}

/* Whether T's block is, or may now go, in ldr's static pool: then the
 * module's dynamic-model accesses need no lookup of the thread's block. */
static bool static_block(const struct tls_target *t)
{
    return t->mod && (tls_static_offset(t->mod) || (!t->mod->initialized && tls_try_static(t->mod)));
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
        /* For a static block, its offset from the thread pointer, which is
         * negative, as no module id is: ldr_tls_get_addr tests the sign. */
        word0 = static_block(&t) ? (uintptr_t)tls_static_offset(t.mod) : t.id;
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
        } else if (static_block(&t)) {
            word0 = (uintptr_t)ldr_tlsdesc_static;
            word1 = tls_static_offset(t.mod) + t.offset + rel->r_addend;
        } else {
            tls_prepare(true);
            struct tlsdesc_arg *arg = new_tlsdesc(m);
            if (!arg)
                return fail(m->path, "out of memory");
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
    if (kind == RK_UNSUPPORTED)
        return fail(m->path, "unsupported relocation type %u (R_X86_64_%s) at offset %#lx", type,
                    reloc_type_name(type), (unsigned long)rel->r_offset);
    if (!writable_segment(m, rel->r_offset, kind == RK_TLSDESC ? 16 : 8))
        return fail(m->path, "relocation R_X86_64_%s at offset %#lx lies outside the writable image",
                    reloc_type_name(type), (unsigned long)rel->r_offset);
    if (symidx >= m->nsyms)
        return fail(m->path, "relocation at offset %#lx names symbol %zu of %zu",
                    (unsigned long)rel->r_offset, symidx, m->nsyms);
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
        const char *version = symidx ? symbol_version_name(m, symidx) : NULL;
        trace(T_RELOC, "%s: %s +%#lx = %#lx%s%s%s%s", m->path, reloc_type_name(type),
              (unsigned long)rel->r_offset, (unsigned long)value, symidx ? " " : "",
              symidx ? m->strtab + m->symtab[symidx].st_name : "", version ? "@" : "", version ? version : "");
    }
    return 0;
}

/* A writable segment, as the loops below keep it: a word's target is
 * inside when target - start <= last. */
struct window {
    bool valid;
    uintptr_t start, last;
};

static inline bool in_window(struct window w, uintptr_t at)
{
    return w.valid && at - w.start <= w.last;
}

/* The window of the writable segment that holds the word at AT, invalid
 * if none does. Out of line, and returned by value: the loops keep their
 * window in registers. */
__attribute__((noinline)) static struct window window_at(const struct module *m, uintptr_t at)
{
    const Elf64_Phdr *s = writable_segment(m, at, 8);
    return s ? (struct window){true, s->p_vaddr, s->p_memsz - 8} /* it holds 8 bytes at least */
             : (struct window){false, 0, 0};
}

/* Whether the word at AT lies in a writable segment, *W moved to it. */
static inline bool window_holds(const struct module *m, struct window *w, uintptr_t at)
{
    if (!in_window(*w, at))
        *w = window_at(m, at);
    return w->valid;
}

/* RELR: an address word, then bitmaps of the following words. */
static int apply_relr(struct pass *p)
{
    struct module *m = p->m;
    struct window w = {0};
    uintptr_t where = 0;
    for (size_t i = 0; i < m->nrelr; i++) {
        uint64_t entry = m->relr[i];
        uint64_t bits = entry & 1 ? entry >> 1 : 1;
        uintptr_t first = entry & 1 ? where : entry;
        for (unsigned bit = 0; bits; bit++, bits >>= 1) {
            if (!(bits & 1))
                continue;
            uintptr_t at = first + bit * 8;
            if (!window_holds(m, &w, at))
                return fail(m->path, "RELR relocation at offset %#lx lies outside the writable image",
                            (unsigned long)at);
            store_word(m->base + at, load_word(m->base + at) + m->base);
            p->ld->stats.relr++;
        }
        where = entry & 1 ? where + 63 * 8 : entry + 8;
    }
    if (m->nrelr)
        trace(T_RELOC, "%s: RELR %zu entries applied", m->path, m->nrelr);
    return 0;
}

/* The pages relocation is about to write: one pass over the targets of
 * the tables, each entry's page marked once, in a writable segment.
 * Linkers sort a table's RELATIVE entries by target, and its others
 * apart, not always in order (a Rust cdylib's: three runs), so that
 * searching for where each page's entries end missed pages. */
struct marks {
    const struct module *m;
    struct page_set *ps;
    struct window w;
    uintptr_t read_lo, read_hi; /* RELRO read into memory: nothing to populate */
};

static void mark(struct marks *mk, uintptr_t at)
{
    if (at - mk->read_lo >= mk->read_hi - mk->read_lo && window_holds(mk->m, &mk->w, at))
        page_set_add(mk->ps, mk->m->base + at);
}

static void mark_table(struct marks *mk, const Elf64_Rela *rel, size_t n)
{
    uintptr_t page = UINTPTR_MAX;
    for (size_t i = 0; i < n; i++)
        if (rel[i].r_offset / PAGE != page) {
            page = rel[i].r_offset / PAGE;
            mark(mk, rel[i].r_offset);
        }
}

static void mark_relr(struct marks *mk)
{
    const struct module *m = mk->m;
    uintptr_t where = 0;
    for (size_t i = 0; i < m->nrelr; i++) {
        uint64_t entry = m->relr[i];
        if (!(entry & 1)) {
            mark(mk, entry);
            where = entry + 8;
            continue;
        }
        /* A bitmap's words span 504 bytes: two pages at most, those of its
         * first and last relocated word. */
        uint64_t bits = entry >> 1;
        if (bits) {
            mark(mk, where + (uintptr_t)__builtin_ctzll(bits) * 8);
            mark(mk, where + (uintptr_t)(63 - __builtin_clzll(bits)) * 8);
        }
        where += 63 * 8;
    }
}

/* Before anything writes the image: the pages relocation will write are
 * copied at once (populate_writes), the image's writable span a bit a
 * page, on the stack for any but a huge library. */
int prefault_relocations(struct module *m)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_W) || !p->p_memsz)
            continue;
        if (p->p_vaddr < lo)
            lo = p->p_vaddr;
        if (p->p_vaddr + p->p_memsz > hi)
            hi = p->p_vaddr + p->p_memsz;
    }
    if (hi <= lo)
        return 0;
    uint64_t local[64];
    struct page_set ps = {.first = PAGE_DOWN(m->base + lo)};
    ps.npages = (PAGE_UP(m->base + hi) - ps.first) / PAGE;
    size_t words = (ps.npages + 63) / 64;
    ps.bits = words <= sizeof local / sizeof *local ? local : malloc(words * sizeof *ps.bits);
    if (!ps.bits)
        return fail(m->path, "out of memory");
    memset(ps.bits, 0, words * sizeof *ps.bits);
    struct marks mk = {.m = m, .ps = &ps, .read_lo = m->relro_read_end ? m->relro_start : 0,
                       .read_hi = m->relro_read_end};
    mark_relr(&mk);
    mark_table(&mk, m->rela, m->nrela);
    mark_table(&mk, m->jmprel, m->njmprel);
    populate_writes(m, &ps);
    if (ps.bits != local)
        free(ps.bits);
    return 0;
}

/* The relocations most of a library has take a loop of their own: a
 * RELATIVE word, and a symbol's whose value an earlier relocation already
 * settled, inside the writable segment of the one before. The rest, and
 * every check that fails here, go through apply(), which says why. */
/* From REL[I], a RELATIVE inside W, on to the first that is not one or
 * not inside: where that is. Most of a large library's relocations are
 * one such run; a function of its own, the loop keeps all it needs in
 * registers. */
__attribute__((noinline)) static size_t relative_run(const Elf64_Rela *rel, size_t i, size_t n, uintptr_t base,
                                                     uintptr_t start, uintptr_t last)
{
    for (; i < n && ELF64_R_TYPE(rel[i].r_info) == LDR_R_RELATIVE && rel[i].r_offset - start <= last; i++)
        store_word(base + rel[i].r_offset, base + rel[i].r_addend);
    return i;
}

static int walk_table(struct pass *p, const Elf64_Rela *rel, size_t n)
{
    const struct module *m = p->m;
    const uintptr_t base = m->base;
    const size_t nsyms = m->nsyms;
    const uint8_t *states = p->states;
    const uintptr_t *values = p->values;
    unsigned long *by_type = p->ld->stats.by_type;
    const bool quick = !p->deferred && !tracing(T_RELOC);
    struct window w = {0};
    unsigned long relative = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t at = rel[i].r_offset;
        unsigned type = ELF64_R_TYPE(rel[i].r_info);
        size_t symidx = ELF64_R_SYM(rel[i].r_info);
        if (quick && !in_window(w, at))
            w = window_at(m, at);
        if (quick && w.valid) {
            if (type == LDR_R_RELATIVE) {
                size_t end = relative_run(rel, i, n, base, w.start, w.last);
                relative += end - i;
                i = end - 1;
                continue;
            }
            enum reloc_kind kind = reloc_kind_of(type);
            if ((kind == RK_ABS || kind == RK_GOT || kind == RK_PLT) && symidx && symidx < nsyms &&
                states[symidx] == BOUND) {
                store_word(base + at, values[symidx] + (kind == RK_ABS ? rel[i].r_addend : 0));
                by_type[type % 64]++;
                continue;
            }
        }
        if (apply(p, &rel[i]) < 0)
            return -1;
    }
    by_type[LDR_R_RELATIVE] += relative;
    return 0;
}

static int walk(struct pass *p)
{
    return walk_table(p, p->m->rela, p->m->nrela) < 0 ? -1 : walk_table(p, p->m->jmprel, p->m->njmprel);
}

static int relocate_module(struct load *ld, struct module *m, struct missing *missing)
{
    struct pass p = {.ld = ld, .m = m, .missing = missing};
    size_t nsyms = m->nsyms ? m->nsyms : 1;
    size_t size = nsyms * (sizeof *p.values + sizeof *p.states);
    if (!(p.values = malloc(size)))
        return fail(m->path, "out of memory");
    /* Fresh memory the walk fills as it goes: SQLite's 13 KiB, a fault a
     * page, or a first load's heap pages at once. */
    prefault(p.values, size);
    p.states = (uint8_t *)(p.values + nsyms);
    memset(p.states, UNKNOWN, nsyms);
    int r = apply_relr(&p);
    if (r == 0)
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
