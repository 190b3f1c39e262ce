/* Diagnostics: ldr_check's report of what a load would do, the
 * statistics trace, and the hook debuggers watch for loads and unloads
 * (ldr/gdb/ldr-gdb.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ldr_internal.h"

struct seen {
    const struct module *from;
    const char *name; /* the module's own string: one pointer per symbol */
};

struct check_report {
    void (*fn)(const struct ldr_check_event *ev, void *arg);
    void *arg;
    struct seen *seen; /* unresolved references reported already */
    size_t nseen;
};
struct check_report *check_report;

struct offers {
    struct ldr_offer *list;
    size_t n, cap;
    const char *library; /* the object being searched */
};

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void add_offer(void *arg, const char *version)
{
    struct offers *o = arg;
    for (size_t i = 0; i < o->n; i++)
        if (o->list[i].library == o->library && same(o->list[i].version, version))
            return;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct ldr_offer *l = realloc(o->list, cap * sizeof *l);
        if (!l)
            return;
        o->list = l;
        o->cap = cap;
    }
    o->list[o->n++] = (struct ldr_offer){o->library, version};
}

/* A strong reference nothing defines: reported once per module and name,
 * with every definition of the name the host's objects and this load's
 * modules have, whatever their versions. */
void report_unresolved(struct load *ld, const struct module *from, const char *name, const char *version,
                       const char *why)
{
    struct check_report *r = check_report;
    if (!r)
        return;
    for (size_t i = 0; i < r->nseen; i++)
        if (r->seen[i].from == from && r->seen[i].name == name)
            return;
    struct seen *s = realloc(r->seen, (r->nseen + 1) * sizeof *s);
    if (s) {
        r->seen = s;
        r->seen[r->nseen++] = (struct seen){from, name};
    }
    struct offers o = {0};
    size_t i = 0;
    for (const struct module *v; (v = host_next_view(&i));) {
        o.library = v->path && v->path[0] ? v->path : "the host program";
        each_definition(v, name, add_offer, &o);
    }
    for (size_t j = 0; j < ld->nscope; j++)
        if (ld->scope[j].mod && !ld->scope[j].host) {
            o.library = ld->scope[j].mod->path;
            each_definition(ld->scope[j].mod, name, add_offer, &o);
        }
    struct ldr_check_event ev = {
        .kind = LDR_CHECK_UNRESOLVED,
        .module = from->path,
        .symbol = name,
        .version = version,
        .why = why,
        .offers = o.list,
        .noffers = o.n,
    };
    r->fn(&ev, r->arg);
    free(o.list);
}

/* A reference bound to something other than what it names (compat.c):
 * TARGET is the library, or "ldr shim" for ldr's own code. */
void report_substitution(const struct module *from, const struct symref *ref, const char *target,
                         const char *target_symbol, const char *target_version, const char *why)
{
    if (!check_report)
        return;
    bool shim = strcmp(target, "ldr shim") == 0;
    struct ldr_check_event ev = {
        .kind = shim ? LDR_CHECK_SHIM : LDR_CHECK_FALLBACK,
        .module = from->path,
        .symbol = ref->name,
        .version = ref->version,
        .target = shim ? "ldr" : target,
        .target_symbol = target_symbol ? target_symbol : ref->name,
        .target_version = target_version,
        .why = why,
    };
    check_report->fn(&ev, check_report->arg);
}

LDR_API int ldr_check(const char *path, int flags, void (*fn)(const struct ldr_check_event *ev, void *arg),
                      void *arg)
{
    if (!fn)
        return fail(path, "ldr_check: no function given");
    /* The lock is recursive: ldr_open takes it again, and no other load
     * can report into this one meanwhile. */
    lock_modules();
    struct check_report r = {.fn = fn, .arg = arg}, *outer = check_report;
    check_report = &r;
    ldr_module *m = ldr_open(path, flags | LDR_NOINIT);
    check_report = outer;
    free(r.seen);
    int res = m ? ldr_close(m) : -1;
    unlock_modules();
    return res;
}

uint64_t stats_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double ms(uint64_t ns)
{
    return ns / 1e6;
}

/* Two lines per load: what was done, and how long each phase took. */
void stats_trace(const struct load *ld)
{
    if (!tracing(T_STATS))
        return;
    const struct load_stats *s = &ld->stats;
    char types[1024];
    size_t len = 0;
    unsigned long total = s->relr;
    types[0] = '\0';
    for (unsigned t = 0; t < sizeof s->by_type / sizeof s->by_type[0]; t++) {
        if (!s->by_type[t])
            continue;
        total += s->by_type[t];
        if (len < sizeof types) {
            int n = snprintf(types + len, sizeof types - len, ", %s %lu", reloc_type_name(t), s->by_type[t]);
            len += n > 0 ? (size_t)n : 0;
        }
    }
    trace(T_STATS, "%s: %zu module%s, %lu relocations (RELR %lu%s), %lu symbols bound, %lu unresolved",
          ld->root->path, ld->nmods, ld->nmods == 1 ? "" : "s", total, s->relr, types, s->bound, s->unresolved);
    trace(T_STATS, "%s: time: map %.3f ms, relocate %.3f ms, bind %.3f ms, init %.3f ms", ld->root->path,
          ms(s->map_ns), ms(s->relocate_ns), ms(s->bind_ns), ms(s->init_ns));
}

/* A debugger breaks here (ldr/gdb/ldr-gdb.py), like the system loader's
 * _dl_debug_state: LOADED 1, the module at PATH is mapped at load bias
 * BASE and relocated, its initializers not yet run; 0, it is about to be
 * unmapped. The arguments are read from registers: no debug information
 * is needed. Exported and kept out of line so that the breakpoint has a
 * place to go. */
LDR_API __attribute__((noinline, used)) void ldr_debug_state_changed(int loaded, const char *path,
                                                                     uintptr_t base);
LDR_API __attribute__((noinline, used)) void ldr_debug_state_changed(int loaded, const char *path,
                                                                     uintptr_t base)
{
    __asm__ volatile("" : : "r"(loaded), "r"(path), "r"(base) : "memory");
}

void debug_announce(const struct module *m, int loaded)
{
    crash_track(m, loaded);
    ldr_debug_state_changed(loaded, m->path, m->base);
}
