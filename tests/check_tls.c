/* Thread-local storage in ldr's modules: every TLS dialect and model
 * (global-dynamic, local-dynamic, TLSDESC, initial-exec), built with gcc
 * and clang; fresh copies in every thread, threads that existed before the
 * load included; references to the host's own TLS; thread-local and exit
 * destructors; what dl_iterate_phdr and dladdr say inside a module; and a
 * thousand load/unload rounds. Each test runs on the system loader's copy
 * (the oracle) and on ldr's: see fixtures/tls_util.h. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/host.h"
#include "fixtures/tls_dyn.h"
#include "fixtures/tls_util.h"

/* The host's own thread-local variables, which modules refer to: one of
 * this executable (exported with -rdynamic), one of libtls_hostlib.so. */
__thread int tls_host_exe_var = 17;
extern __thread int tls_hostlib_var;
int *tls_hostlib_addr(void);

typedef void *addr_fn(int);
typedef void void_fn(void);
typedef size_t modid_fn(void);
typedef int int_fn(void);
typedef int *intp_fn(void);

static uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* ---- tls_dyn.c: what one thread sees of its copy. ---- */

struct dyn_fns {
    addr_fn *addr;
    void_fn *bump;
    modid_fn *modid;
    pthread_barrier_t *barrier; /* if set, waited on before returning */
};

struct dyn_view {
    void *addr[TLS_NVARS];
    int init, zero;
    long data0, data1, data3;
    unsigned big0, big_mid, big_last;
    char bss0, bss_last;
    char page[sizeof TLS_PAGE_TEXT];
    size_t modid;
};

static struct dyn_view take_view(const struct dyn_fns *f)
{
    struct dyn_view v;
    for (int i = 0; i < TLS_NVARS; i++)
        v.addr[i] = f->addr(i);
    v.init = *(int *)v.addr[TLS_V_INIT];
    v.data0 = ((long *)v.addr[TLS_V_DATA])[0];
    v.data1 = ((long *)v.addr[TLS_V_DATA])[1];
    v.data3 = ((long *)v.addr[TLS_V_DATA])[3];
    v.zero = *(int *)v.addr[TLS_V_ZERO];
    v.big0 = ((unsigned *)v.addr[TLS_V_BIG])[0];
    v.big_mid = ((unsigned *)v.addr[TLS_V_BIG])[TLS_BIG_WORDS / 2];
    v.big_last = ((unsigned *)v.addr[TLS_V_BIG])[TLS_BIG_WORDS - 1];
    v.bss0 = ((char *)v.addr[TLS_V_BSS])[0];
    v.bss_last = ((char *)v.addr[TLS_V_BSS])[TLS_BSS_BYTES - 1];
    memcpy(v.page, v.addr[TLS_V_PAGE], sizeof v.page);
    v.page[sizeof v.page - 1] = '\0';
    v.modid = f->modid ? f->modid() : 0;
    return v;
}

/* In a thread: its view, then it changes its copy. */
static void *view_and_bump(void *arg)
{
    const struct dyn_fns *f = arg;
    struct dyn_view *v = malloc(sizeof *v);
    *v = take_view(f);
    f->bump();
    if (f->barrier)
        pthread_barrier_wait(f->barrier);
    return v;
}

static void *view_only(void *arg)
{
    struct dyn_view *v = malloc(sizeof *v);
    *v = take_view(arg);
    return v;
}

/* The values of tls_dyn.c's initializers: a fresh copy. */
static void check_fresh(const struct dyn_view *v, const char *who)
{
    ck_assert_msg(v->init == TLS_INIT_VALUE, "%s: tls_init = %#x", who, (unsigned)v->init);
    ck_assert_msg(v->data0 == TLS_DATA_0 && v->data1 == 0 && v->data3 == TLS_DATA_3,
                  "%s: tls_data = {%ld, %ld, ?, %ld}", who, v->data0, v->data1, v->data3);
    ck_assert_msg(v->zero == 0, "%s: tls_zero = %d", who, v->zero);
    ck_assert_msg(v->big0 == TLS_BIG_FIRST && v->big_mid == 0 && v->big_last == TLS_BIG_LAST,
                  "%s: tls_big = {%#x, .. %#x .., %#x}", who, v->big0, v->big_mid, v->big_last);
    ck_assert_msg(v->bss0 == 0 && v->bss_last == 0, "%s: tls_bss is not zero", who);
    ck_assert_msg(strcmp(v->page, TLS_PAGE_TEXT) == 0, "%s: tls_page = \"%s\"", who, v->page);
    ck_assert_msg((uintptr_t)v->addr[TLS_V_PAGE] % TLS_PAGE_ALIGN == 0,
                  "%s: tls_page at %p is not %d-aligned", who, v->addr[TLS_V_PAGE], TLS_PAGE_ALIGN);
    for (int i = 0; i < TLS_NVARS; i++)
        ck_assert_msg(v->addr[i] != NULL, "%s: variable %d at NULL", who, i);
}

/* The values tls_bump() leaves. */
static void check_bumped(const struct dyn_view *v, const char *who)
{
    ck_assert_msg(v->init == TLS_INIT_VALUE + 1, "%s: tls_init = %#x after tls_bump", who, (unsigned)v->init);
    ck_assert_msg(v->data0 == 99 && v->data3 == TLS_DATA_3, "%s: tls_data after tls_bump", who);
    ck_assert_msg(v->zero == 42, "%s: tls_zero = %d after tls_bump", who, v->zero);
    ck_assert_msg(v->big0 == 1 && v->big_last == 2, "%s: tls_big after tls_bump", who);
    ck_assert_msg(v->bss0 == 3 && v->bss_last == 4, "%s: tls_bss after tls_bump", who);
    ck_assert_msg(v->page[0] == 'P', "%s: tls_page after tls_bump", who);
}

/* No variable of A lies in any of B's (the blocks do not overlap). */
static void check_disjoint(const struct dyn_view *a, const struct dyn_view *b, const char *who)
{
    static const size_t sizes[TLS_NVARS] = {
        sizeof(int), 4 * sizeof(long), sizeof(int), TLS_BIG_WORDS * sizeof(unsigned), TLS_BSS_BYTES, 64,
    };
    for (int i = 0; i < TLS_NVARS; i++)
        for (int j = 0; j < TLS_NVARS; j++) {
            uintptr_t ai = (uintptr_t)a->addr[i], bj = (uintptr_t)b->addr[j];
            ck_assert_msg(ai + sizes[i] <= bj || bj + sizes[j] <= ai,
                          "%s: variable %d of one thread overlaps variable %d of another", who, i, j);
        }
}

static struct dyn_fns dyn_fns(struct lib *l)
{
    struct dyn_fns f = {
        (addr_fn *)lib_sym(l, "tls_addr"), (void_fn *)lib_sym(l, "tls_bump"),
        (modid_fn *)lib_sym(l, "tls_modid"), NULL,
    };
    return f;
}

/* The builds of tls_dyn.c and whether tls_modid() can read their GOT. */
static const struct {
    const char *file;
    int has_modid;
} dyn_fixtures[] = {
    { "libtls_gd.so", 1 },
    { "libtls_gd_clang.so", 1 },
    { "libtls_ld.so", 1 },
    { "libtls_ld_clang.so", 1 },
    { "libtls_desc.so", 0 },
};
#define N_DYN (int)(sizeof dyn_fixtures / sizeof dyn_fixtures[0])

#define NEW_THREADS 3

/* Every variable of every dialect: the values of the image in the main
 * thread, in a thread that existed before the load, in new threads living
 * at the same time; each thread's copy its own; all of it fresh again
 * after close and reopen. The loop index picks loader and fixture. */
START_TEST(test_dialects)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = dyn_fixtures[_i / TLS_NLOADERS].file;
    int has_modid = dyn_fixtures[_i / TLS_NLOADERS].has_modid;
    char who[128];
    struct servant early;

    servant_start(&early); /* exists before the module does */
    struct lib l = lib_open(loader, fixture(file));
    struct dyn_fns f = dyn_fns(&l);
    if (!has_modid)
        f.modid = NULL;

    snprintf(who, sizeof who, "[%s] %s, main thread", tls_loader_names[loader], file);
    struct dyn_view m = take_view(&f);
    check_fresh(&m, who);
    f.bump();
    struct dyn_view m2 = take_view(&f);
    check_bumped(&m2, who);
    for (int i = 0; i < TLS_NVARS; i++)
        ck_assert_ptr_eq(m.addr[i], m2.addr[i]);
    if (has_modid)
        ck_assert_msg(m.modid != 0, "%s: module id 0", who);

    snprintf(who, sizeof who, "[%s] %s, thread older than the load", tls_loader_names[loader], file);
    struct dyn_view *e = servant_run(&early, view_and_bump, &f);
    check_fresh(e, who);
    check_disjoint(e, &m, who);
    ck_assert_uint_eq(e->modid, m.modid);

    pthread_barrier_t barrier;
    pthread_t t[NEW_THREADS];
    struct dyn_view *v[NEW_THREADS];
    struct dyn_fns tf = f;
    tf.barrier = &barrier;
    pthread_barrier_init(&barrier, NULL, NEW_THREADS);
    for (int i = 0; i < NEW_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, view_and_bump, &tf), 0);
    for (int i = 0; i < NEW_THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], (void **)&v[i]), 0);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < NEW_THREADS; i++) {
        snprintf(who, sizeof who, "[%s] %s, new thread %d", tls_loader_names[loader], file, i);
        check_fresh(v[i], who);
        check_disjoint(v[i], &m, who);
        check_disjoint(v[i], e, who);
        for (int j = 0; j < i; j++)
            check_disjoint(v[i], v[j], who);
        ck_assert_uint_eq(v[i]->modid, m.modid);
    }
    for (int i = 0; i < NEW_THREADS; i++)
        free(v[i]);

    /* The others' changes left each copy alone. */
    snprintf(who, sizeof who, "[%s] %s, main thread again", tls_loader_names[loader], file);
    struct dyn_view m3 = take_view(&f);
    check_bumped(&m3, who);
    snprintf(who, sizeof who, "[%s] %s, older thread again", tls_loader_names[loader], file);
    struct dyn_view *e2 = servant_run(&early, view_only, &f);
    check_bumped(e2, who);
    ck_assert_ptr_eq(e2->addr[TLS_V_INIT], e->addr[TLS_V_INIT]);
    free(e);
    free(e2);
    lib_close(&l);

    /* Reopened: both threads that had a copy get a fresh one. */
    l = lib_open(loader, fixture(file));
    f = dyn_fns(&l);
    if (!has_modid)
        f.modid = NULL;
    snprintf(who, sizeof who, "[%s] %s, main thread after reopening", tls_loader_names[loader], file);
    m = take_view(&f);
    check_fresh(&m, who);
    snprintf(who, sizeof who, "[%s] %s, older thread after reopening", tls_loader_names[loader], file);
    e = servant_run(&early, view_only, &f);
    check_fresh(e, who);
    free(e);
    lib_close(&l);
    servant_stop(&early);
}
END_TEST

/* ---- Initial-exec, zero image. ---- */

struct ie_view {
    int counter;
    long word7;
    intptr_t counter_off, words_off; /* from the thread pointer */
};

static addr_fn *ie_addr;
static void_fn *ie_bump;

static void *call_ie_bump(void *arg)
{
    (void)arg;
    ie_bump();
    return NULL;
}

static void *ie_take(void *arg)
{
    struct ie_view *v = malloc(sizeof *v);
    (void)arg;
    int *c = ie_addr(0);
    long *w = ie_addr(1);
    v->counter = *c;
    v->word7 = w[7];
    v->counter_off = (intptr_t)((uintptr_t)c - thread_pointer());
    v->words_off = (intptr_t)((uintptr_t)w - thread_pointer());
    return v;
}

static const char *const ie_fixtures[] = { "libtls_ie.so", "libtls_ie_clang.so" };

/* The copies of a freshly opened zero-image module (ie_addr and ie_bump
 * set): the main thread's, zero and then changed by ie_bump; the older
 * thread EARLY's and a new thread's, zero. WHO opens the messages. */
struct ie_copies {
    struct ie_view *main, *older, *fresh;
};

static struct ie_copies ie_check_fresh(const char *who, struct servant *early)
{
    struct ie_copies c;
    c.main = ie_take(NULL);
    ck_assert_msg(c.main->counter == 0 && c.main->word7 == 0, "%s: main thread's copy is not zero", who);
    ie_bump();
    free(c.main);
    c.main = ie_take(NULL);
    ck_assert_msg(c.main->counter == 5 && c.main->word7 == 77, "%s: writes did not stick", who);
    c.older = servant_run(early, ie_take, NULL);
    ck_assert_msg(c.older->counter == 0 && c.older->word7 == 0, "%s: older thread's copy is not zero", who);
    c.fresh = in_thread(ie_take, NULL);
    ck_assert_msg(c.fresh->counter == 0 && c.fresh->word7 == 0, "%s: new thread's copy is not zero", who);
    return c;
}

static void ie_free(struct ie_copies *c)
{
    free(c->main);
    free(c->older);
    free(c->fresh);
}

/* Static TLS: zero in every thread, old ones included, at the same offset
 * from each thread's pointer. */
START_TEST(test_initial_exec)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = ie_fixtures[_i / TLS_NLOADERS];
    const char *ln = tls_loader_names[loader];
    struct servant early;
    servant_start(&early);

    struct lib l = lib_open(loader, fixture(file));
    ie_addr = (addr_fn *)lib_sym(&l, "ie_addr");
    ie_bump = (void_fn *)lib_sym(&l, "ie_bump");
    char who[128];
    snprintf(who, sizeof who, "[%s] %s", ln, file);
    struct ie_copies c = ie_check_fresh(who, &early);
    struct ie_view *m = c.main, *e = c.older, *n = c.fresh;
    ck_assert_msg(e->counter_off == m->counter_off && n->counter_off == m->counter_off &&
                  e->words_off == m->words_off && n->words_off == m->words_off,
                  "%s: offsets from the thread pointer differ between threads", who);
    ck_assert_msg(m->counter_off < 0 && m->words_off < 0, "%s: static TLS above the thread pointer", who);
    ie_free(&c);
    lib_close(&l);
    servant_stop(&early);
}
END_TEST

/* An all-zero TLS image reached through TLS descriptors or through
 * __tls_get_addr (global and local dynamic), opened, changed and closed
 * round after round: zero again each time in the main thread, in a thread
 * older than every load and in a new one. Under ldr the first rounds'
 * blocks are in its static pool (the same offset from every thread's
 * pointer: the descriptors return a fixed offset, __tls_get_addr adds
 * one); once they have used half of it, later rounds' blocks are dynamic,
 * and nothing of an earlier round shows through either way. */
static const char *const zero_fixtures[] = {"libtls_desc_zero.so", "libtls_gd_zero.so"};

START_TEST(test_dynamic_model_zero_image)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = zero_fixtures[_i / TLS_NLOADERS];
    const char *ln = tls_loader_names[loader];
    struct servant early;
    servant_start(&early);
    for (int round = 0; round < 12; round++) {
        struct lib l = lib_open(loader, fixture(file));
        ie_addr = (addr_fn *)lib_sym(&l, "ie_addr");
        ie_bump = (void_fn *)lib_sym(&l, "ie_bump");
        char who[128];
        snprintf(who, sizeof who, "[%s] %s round %d", ln, file, round);
        struct ie_copies c = ie_check_fresh(who, &early);
        servant_run(&early, call_ie_bump, NULL); /* for the next round to find gone */
        if (loader == TLS_LDR && round == 0)
            ck_assert_msg(c.older->counter_off == c.main->counter_off && c.fresh->counter_off == c.main->counter_off,
                          "%s: the block is not in the static pool", who);
        ie_free(&c);
        lib_close(&l);
    }
    servant_stop(&early);
}
END_TEST

/* Changed in two threads, closed, reopened: both threads' copies are
 * fresh (zero) again, as for any other module. */
START_TEST(test_initial_exec_reopen)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = ie_fixtures[_i / TLS_NLOADERS];
    const char *ln = tls_loader_names[loader];
    struct servant early;
    servant_start(&early);

    struct lib l = lib_open(loader, fixture(file));
    ie_addr = (addr_fn *)lib_sym(&l, "ie_addr");
    ie_bump = (void_fn *)lib_sym(&l, "ie_bump");
    ie_bump();
    servant_run(&early, call_ie_bump, NULL);
    struct ie_view *e = servant_run(&early, ie_take, NULL);
    ck_assert_msg(e->counter == 5 && e->word7 == 77, "[%s] %s: the older thread's writes did not stick", ln, file);
    free(e);
    lib_close(&l);

    l = lib_open(loader, fixture(file));
    ie_addr = (addr_fn *)lib_sym(&l, "ie_addr");
    struct ie_view *m = ie_take(NULL);
    e = servant_run(&early, ie_take, NULL);
    /* ldr cannot reach into every thread to clear a reused block, so a
     * module in its static TLS pool is never unloaded (README, "Thread-local
     * storage"): reopening finds it as it was, as reopening a NODELETE
     * library does under the system loader. */
    int fresh = loader == TLS_DLOPEN;
    ck_assert_msg(fresh ? m->counter == 0 && m->word7 == 0 : m->counter == 5 && m->word7 == 77,
                  "[%s] %s: main thread's copy after reopening (%d, %ld)", ln, file, m->counter, m->word7);
    ck_assert_msg(fresh ? e->counter == 0 && e->word7 == 0 : e->counter == 5 && e->word7 == 77,
                  "[%s] %s: older thread's copy after reopening (%d, %ld)", ln, file, e->counter, e->word7);
    free(m);
    free(e);
    lib_close(&l);
    servant_stop(&early);
}
END_TEST

/* ---- References to the host's TLS. ---- */

struct host_view {
    int *exe_host, *exe_mod, *lib_host, *lib_own, *lib_mod;
    int exe_value, lib_value;
};

static intp_fn *hostref_exe, *hostref_lib;

static void *host_take(void *arg)
{
    struct host_view *v = malloc(sizeof *v);
    (void)arg;
    v->exe_host = &tls_host_exe_var;
    v->lib_host = &tls_hostlib_var;
    v->lib_own = tls_hostlib_addr();
    v->exe_mod = hostref_exe();
    v->lib_mod = hostref_lib();
    v->exe_value = *v->exe_mod;
    v->lib_value = *v->lib_mod;
    return v;
}

static const char *const hostref_fixtures[] = {
    "libtls_hostref_gd.so", "libtls_hostref_desc.so", "libtls_hostref_ie.so",
};

static void check_host_view(const struct host_view *v, const char *who)
{
    ck_assert_msg(v->exe_mod == v->exe_host, "%s: the module's tls_host_exe_var is %p, the host's %p",
                  who, (void *)v->exe_mod, (void *)v->exe_host);
    ck_assert_msg(v->lib_own == v->lib_host, "%s: libtls_hostlib.so disagrees with the host", who);
    ck_assert_msg(v->lib_mod == v->lib_host, "%s: the module's tls_hostlib_var is %p, the host's %p",
                  who, (void *)v->lib_mod, (void *)v->lib_host);
    ck_assert_msg(v->exe_value == 17 && v->lib_value == 23, "%s: values %d and %d", who, v->exe_value,
                  v->lib_value);
}

/* A module's GD, TLSDESC or IE reference to a thread-local variable of the
 * executable or of a library the host linked is the host's own copy, in
 * every thread. */
START_TEST(test_host_tls)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = hostref_fixtures[_i / TLS_NLOADERS];
    char who[128];
    struct servant early;
    servant_start(&early);

    struct lib l = lib_open(loader, fixture(file));
    hostref_exe = (intp_fn *)lib_sym(&l, "hostref_exe");
    hostref_lib = (intp_fn *)lib_sym(&l, "hostref_lib");
    snprintf(who, sizeof who, "[%s] %s, main thread", tls_loader_names[loader], file);
    struct host_view *v = host_take(NULL);
    check_host_view(v, who);
    free(v);
    snprintf(who, sizeof who, "[%s] %s, older thread", tls_loader_names[loader], file);
    v = servant_run(&early, host_take, NULL);
    check_host_view(v, who);
    free(v);
    snprintf(who, sizeof who, "[%s] %s, new thread", tls_loader_names[loader], file);
    v = in_thread(host_take, NULL);
    check_host_view(v, who);
    free(v);
    lib_close(&l);
    servant_stop(&early);
}
END_TEST

/* ---- Destructors: exit handlers and thread-local ones. ---- */

/* Exit handlers that module code registers run at its close, last
 * registered first, and not again at process exit. */
START_TEST(test_exit_handlers)
{
    int loader = _i;
    struct lib l = lib_open(loader, fixture("libtls_life.so"));
    host_trace[0] = '\0';
    ((void_fn *)lib_sym(&l, "life_register_exit"))();
    ck_assert_str_eq(host_trace, "");
    lib_close(&l);
    ck_assert_msg(strcmp(host_trace, "cxa_atexit,atexit,") == 0, "[%s] trace after close: \"%s\"",
                  tls_loader_names[loader], host_trace);
}
END_TEST

static int_fn *life_thread_dtor, *life_value;

static void *call_life_value(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)life_value();
}

static void *register_thread_dtor(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)life_thread_dtor();
}

/* A thread that owes the module a thread-local destructor keeps it mapped
 * past its close; the destructor runs, with the thread's TLS, when the
 * thread exits, and then (ldr) the module is unmapped. */
START_TEST(test_thread_dtor_keeps_module)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    struct servant s;
    servant_start(&s);
    struct lib l = lib_open(loader, fixture("libtls_life.so"));
    struct lib_range r = lib_range(&l);
    life_thread_dtor = (int_fn *)lib_sym(&l, "life_thread_dtor");
    host_trace[0] = '\0';
    ck_assert_int_eq((intptr_t)servant_run(&s, register_thread_dtor, NULL), 0);
    ck_assert_int_eq(((int_fn *)lib_sym(&l, "life_value"))(), 11); /* the main thread's copy */
    lib_close(&l);
    ck_assert_msg(pages_mapped(r.start, r.size) == pages_in(r.start, r.size),
                  "[%s] module unmapped while a thread owes it a destructor", ln);
    ck_assert_str_eq(host_trace, "");
    servant_stop(&s);
    ck_assert_msg(strcmp(host_trace, "thread-dtor,") == 0, "[%s] trace after the thread's exit: \"%s\"", ln,
                  host_trace);
    if (loader == TLS_LDR)
        ck_assert_msg(pages_mapped(r.start, r.size) == 0, "[ldr] module still mapped after the destructor ran");
}
END_TEST

/* Without destructors owed, the last close unmaps at once, even though
 * other threads used the module's TLS. */
START_TEST(test_no_dtor_unmaps)
{
    struct lib l = lib_open(TLS_LDR, fixture("libtls_life.so"));
    struct lib_range r = lib_range(&l);
    ck_assert_int_eq(((int_fn *)lib_sym(&l, "life_value"))(), 11);
    life_value = (int_fn *)lib_sym(&l, "life_value");
    ck_assert_int_eq((intptr_t)in_thread(call_life_value, NULL), 11);
    lib_close(&l);
    ck_assert_uint_eq(pages_mapped(r.start, r.size), 0);
}
END_TEST

/* ---- What the module's own code learns about itself. ---- */

typedef void self_fn(struct tls_self_view *);

START_TEST(test_self_view)
{
    int loader = _i % TLS_NLOADERS;
    const char *file = dyn_fixtures[_i / TLS_NLOADERS].file;
    const char *ln = tls_loader_names[loader];
    const char *path = fixture(file);
    struct lib l = lib_open(loader, path);
    struct lib_range r = lib_range(&l);
    struct tls_self_view v;
    ((self_fn *)lib_sym(&l, "tls_self_view"))(&v);

    ck_assert_msg(v.found == 1, "[%s] %s: dl_iterate_phdr from inside: %d entries hold its code", ln, file,
                  v.found);
    ck_assert_msg(v.name && strcmp(v.name, path) == 0, "[%s] %s: dlpi_name \"%s\"", ln, file,
                  v.name ? v.name : "(null)");
    ck_assert_msg(v.addr == r.base, "[%s] %s: dlpi_addr %#lx, base %#lx", ln, file, v.addr,
                  (unsigned long)r.base);
    if (dyn_fixtures[_i / TLS_NLOADERS].has_modid) {
        size_t id = ((modid_fn *)lib_sym(&l, "tls_modid"))();
        ck_assert_msg(v.tls_modid == id, "[%s] %s: dlpi_tls_modid %zu, the GOT says %zu", ln, file,
                      v.tls_modid, id);
    } else {
        ck_assert_msg(v.tls_modid != 0, "[%s] %s: dlpi_tls_modid 0 for a module with PT_TLS", ln, file);
    }

    ck_assert_msg(v.dladdr_ok, "[%s] %s: dladdr from inside failed", ln, file);
    ck_assert_msg(v.dli_fname && strcmp(v.dli_fname, path) == 0, "[%s] %s: dli_fname \"%s\"", ln, file,
                  v.dli_fname ? v.dli_fname : "(null)");
    ck_assert_ptr_eq(v.dli_fbase, (void *)r.start);
    ck_assert_msg(v.dli_sname && strcmp(v.dli_sname, "tls_addr") == 0, "[%s] %s: dli_sname \"%s\"", ln,
                  file, v.dli_sname ? v.dli_sname : "(null)");
    ck_assert_ptr_eq(v.dli_saddr, lib_sym(&l, "tls_addr"));
    ck_assert_ptr_eq(v.fn, lib_sym(&l, "tls_addr"));
    lib_close(&l);
}
END_TEST

/* ---- A thousand rounds. ---- */

/* Bytes in use in malloc's heaps, all arenas, and in its own mappings. */
static long heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return (long)(m.uordblks + m.hblkhd);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

#define ROUNDS 1000
#define WARMUP 50
#define LIVE_THREADS 3

static int_fn *round_get;

static void *round_job(void *arg)
{
    (void)arg;
    int first = round_get();
    int second = round_get();
    return (void *)(intptr_t)(first == 7 && second == 9);
}

/* Load, use from three long-lived threads and the main one, unload: the
 * module id is recycled, and neither the heap nor the mappings grow. */
START_TEST(test_rounds)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    const char *path = fixture("libtls_round.so");
    struct servant s[LIVE_THREADS];
    unsigned long max_early_id = 0, id = 0;
    long heap0 = 0, rss0 = 0;
    int maps0 = 0;

    for (int t = 0; t < LIVE_THREADS; t++)
        servant_start(&s[t]);
    for (int r = 0; r < ROUNDS; r++) {
        if (r == WARMUP) {
            heap0 = heap_in_use();
            rss0 = rss_kb();
            maps0 = maps_lines(NULL);
        }
        struct lib l = lib_open(loader, path);
        round_get = (int_fn *)lib_sym(&l, "round_get");
        id = ((unsigned long (*)(void))lib_sym(&l, "round_modid"))();
        ck_assert_msg(id != 0, "[%s] round %d: module id 0", ln, r);
        if (r < WARMUP && id > max_early_id)
            max_early_id = id;
        ck_assert_msg(id <= max_early_id, "[%s] round %d: module id %lu, at most %lu in the first %d rounds",
                      ln, r, id, max_early_id, WARMUP);
        ck_assert_msg(round_job(NULL) != NULL, "[%s] round %d: main thread's copy is not fresh", ln, r);
        for (int t = 0; t < LIVE_THREADS; t++)
            ck_assert_msg(servant_run(&s[t], round_job, NULL) != NULL,
                          "[%s] round %d: thread %d's copy is not fresh", ln, r, t);
        lib_close(&l);
    }
    long heap = heap_in_use(), rss = rss_kb();
    int maps = maps_lines(NULL);
    for (int t = 0; t < LIVE_THREADS; t++)
        servant_stop(&s[t]);
    ck_assert_msg(heap - heap0 < 32 * 1024, "[%s] heap grew by %ld bytes in %d rounds", ln, heap - heap0,
                  ROUNDS - WARMUP);
#ifdef __SANITIZE_ADDRESS__ /* its quarantine keeps freed memory, its allocator maps more */
    (void)rss;
    (void)rss0;
    (void)maps;
    (void)maps0;
#else
    /* valgrind's own bookkeeping grows and maps as it goes. */
    if (!getenv("LDR_UNDER_VALGRIND")) {
        ck_assert_msg(rss - rss0 < 1024, "[%s] resident memory grew by %ld kB in %d rounds", ln, rss - rss0,
                      ROUNDS - WARMUP);
        ck_assert_msg(maps <= maps0, "[%s] %d mappings after the rounds, %d before", ln, maps, maps0);
    }
#endif
    ck_assert_int_eq(maps_lines("libtls_round"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_dialects, 0, N_DYN * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_initial_exec, 0, 2 * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_initial_exec_reopen, 0, 2 * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_dynamic_model_zero_image, 0, 2 * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_host_tls, 0, 3 * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_exit_handlers, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_thread_dtor_keeps_module, 0, TLS_NLOADERS);
    tcase_add_test(tc, test_no_dtor_unmaps);
    tcase_add_loop_test(tc, test_self_view, 0, N_DYN * TLS_NLOADERS);
    tcase_add_loop_test(tc, test_rounds, 0, TLS_NLOADERS);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
