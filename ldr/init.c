/* Initializers and finalizers. Initializers run once every module of a
 * load is relocated, dependencies first, each called with the process's
 * argc, argv and envp as the system loader calls them (Rust's std reads
 * its arguments this way). Finalizers run in the reverse order: the fini
 * array backwards, DT_FINI, then the handlers the module's code
 * registered with __cxa_atexit. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

typedef void (*init_fn)(int, char **, char **);
typedef void (*fini_fn)(void);

extern char **environ;
int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
void __cxa_finalize(void *dso);

static int saved_argc;
static char **saved_argv;

/* The system loader calls libldr's own initializers with the process's
 * arguments, whether libldr came with the program or was loaded late. */
__attribute__((constructor)) static void save_arguments(int argc, char **argv, char **envp)
{
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

char **process_argv(int *argc)
{
    *argc = saved_argc;
    return saved_argv;
}

static int check_array(const struct module *m, const uintptr_t *array, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uintptr_t f = array[i];
        if (f != 0 && f != (uintptr_t)-1 && (f < m->base || !executable_at(m, f - m->base)))
            return fail(m->path, "%s[%zu] = %#lx lies outside the module's code", what, i, (unsigned long)f);
    }
    return 0;
}

/* Before any code of the load runs: every initializer and finalizer must
 * point into its module's code, so that a lying file fails cleanly instead
 * of jumping anywhere. */
int check_initializers(struct load *ld)
{
    for (size_t i = 0; i < ld->nmods; i++) {
        const struct module *m = ld->mods[i];
        if (m->init && !executable_at(m, m->init))
            return fail(m->path, "DT_INIT %#lx lies outside the module's code", (unsigned long)m->init);
        if (m->fini && !executable_at(m, m->fini))
            return fail(m->path, "DT_FINI %#lx lies outside the module's code", (unsigned long)m->fini);
        if (check_array(m, m->init_array, m->ninit_array, "DT_INIT_ARRAY") < 0 ||
            check_array(m, m->fini_array, m->nfini_array, "DT_FINI_ARRAY") < 0)
            return -1;
    }
    return 0;
}

static unsigned long init_counter;

static void init_module(struct module *m)
{
    m->mark = 1;
    for (size_t i = 0; i < m->ndeps; i++)
        if (m->deps[i].mod && !m->deps[i].mod->mark)
            init_module(m->deps[i].mod);
    if (m->initialized)
        return;
    /* Marked before running: an initializer that opens its own module
     * again must not run it twice. */
    m->initialized = true;
    m->init_seq = ++init_counter;
    if (m->flags & LDR_NOINIT)
        return;
    int argc;
    char **argv = process_argv(&argc);
    if (m->init) {
        trace(T_INIT, "%s: calling DT_INIT at %#lx", m->path, (unsigned long)m->init);
        ((init_fn)(m->base + m->init))(argc, argv, environ);
    }
    for (size_t i = 0; i < m->ninit_array; i++) {
        uintptr_t f = m->init_array[i];
        if (f == 0 || f == (uintptr_t)-1)
            continue;
        trace(T_INIT, "%s: calling DT_INIT_ARRAY[%zu] at +%#lx", m->path, i, (unsigned long)(f - m->base));
        ((init_fn)f)(argc, argv, environ);
    }
}

void run_initializers(struct load *ld)
{
    clear_marks();
    init_module(ld->root);
}

static void run_exit_handlers(struct module *m)
{
    while (m->nexits) {
        struct exit_handler h = m->exits[--m->nexits];
        trace(T_INIT, "%s: calling exit handler %p(%p)", m->path, (void *)h.fn, h.arg);
        h.fn(h.arg);
    }
}

void run_finalizers(struct module *m)
{
    if (!m->initialized || m->finalized)
        return;
    m->finalized = true;
    if (!(m->flags & LDR_NOINIT)) {
        for (size_t i = m->nfini_array; i-- > 0;) {
            uintptr_t f = m->fini_array[i];
            if (f == 0 || f == (uintptr_t)-1)
                continue;
            trace(T_INIT, "%s: calling DT_FINI_ARRAY[%zu] at +%#lx", m->path, i, (unsigned long)(f - m->base));
            ((fini_fn)f)();
        }
        if (m->fini) {
            trace(T_INIT, "%s: calling DT_FINI at %#lx", m->path, (unsigned long)m->fini);
            ((fini_fn)(m->base + m->fini))();
        }
    }
    run_exit_handlers(m);
    free(m->exits);
    m->exits = NULL;
    m->exits_cap = 0;
}

/* __cxa_atexit for module code: a handler whose DSO handle lies in an ldr
 * module runs when that module closes, not at exit after it is gone. */
int ldr_cxa_atexit(void (*fn)(void *), void *arg, void *dso)
{
    lock_modules();
    struct module *m = dso ? find_module_by_addr(dso) : NULL;
    if (!m) {
        unlock_modules();
        return __cxa_atexit(fn, arg, dso);
    }
    int r = 0;
    if (m->nexits == m->exits_cap) {
        size_t ncap = m->exits_cap ? m->exits_cap * 2 : 8;
        struct exit_handler *h = realloc(m->exits, ncap * sizeof *h);
        if (h) {
            m->exits = h;
            m->exits_cap = ncap;
        } else {
            r = -1;
        }
    }
    if (r == 0)
        m->exits[m->nexits++] = (struct exit_handler){fn, arg};
    unlock_modules();
    return r;
}

void ldr_cxa_finalize(void *dso)
{
    lock_modules();
    struct module *m = dso ? find_module_by_addr(dso) : NULL;
    if (m)
        run_exit_handlers(m);
    unlock_modules();
    if (!m)
        __cxa_finalize(dso);
}

/* thread_local destructors (__cxa_thread_atexit_impl, and libstdc++'s
 * __cxa_thread_atexit). One owed by module code keeps its module mapped
 * until it has run, as glibc guarantees for dlclose: the count is taken
 * here and given back when the destructor returns. The host's glibc runs
 * them at thread exit; before glibc 2.18 it has no such service, and a
 * per-thread list on a pthread key stands in. */
struct thread_dtor {
    void (*fn)(void *);
    void *obj;
    struct module *mod;
    struct thread_dtor *next; /* the per-thread list, without glibc's */
};

extern void *__dso_handle;
static int (*host_thread_atexit)(void (*)(void *), void *, void *);
static pthread_key_t dtor_key;
static int dtor_once;

static void run_thread_dtor(void *p)
{
    struct thread_dtor *d = p;
    d->fn(d->obj);
    if (d->mod) {
        lock_modules();
        if (--d->mod->thread_dtors == 0 && !module_held(d->mod))
            collect_unreachable();
        unlock_modules();
    }
    free(d);
}

static void run_thread_list(void *p)
{
    for (struct thread_dtor *d = p, *next; d; d = next) {
        next = d->next;
        run_thread_dtor(d);
    }
}

static void setup_thread_dtors(void)
{
    host_thread_atexit = (int (*)(void (*)(void *), void *, void *))system_lookup(RTLD_DEFAULT, "__cxa_thread_atexit_impl", NULL);
    if (!host_thread_atexit)
        pthread_key_create(&dtor_key, run_thread_list);
}

int ldr_cxa_thread_atexit(void (*fn)(void *), void *obj, void *dso)
{
    run_once(&dtor_once, setup_thread_dtors);
    struct thread_dtor *d = malloc(sizeof *d);
    if (!d)
        return -1;
    *d = (struct thread_dtor){.fn = fn, .obj = obj};
    lock_modules();
    d->mod = dso ? find_module_by_addr(dso) : NULL;
    if (d->mod)
        d->mod->thread_dtors++;
    unlock_modules();
    if (!d->mod && host_thread_atexit) {
        free(d);
        return host_thread_atexit(fn, obj, dso);
    }
    if (host_thread_atexit)
        /* Registered under libldr's own handle: the system loader then
         * keeps libldr, which holds run_thread_dtor, loaded as well. */
        return host_thread_atexit(run_thread_dtor, d, &__dso_handle);
    d->next = pthread_getspecific(dtor_key);
    return pthread_setspecific(dtor_key, d);
}
