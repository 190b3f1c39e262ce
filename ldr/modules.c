/* The loaded modules: one list, one recursive lock (an initializer may
 * call ldr_open), and the unloading of what nothing holds any more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct module *head;
static struct ldr_module *handles;

bool module_held(const struct module *m)
{
    return m->handle && m->handle->opens;
}

/* The handle of M, made on its first ldr_open, with one more reference. */
struct ldr_module *handle_for(struct module *m, int flags)
{
    struct ldr_module *h = m->handle;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return NULL;
        h->mod = m;
        h->flags = flags;
        h->next = handles;
        handles = h;
        m->handle = h;
    }
    h->opens++;
    return h;
}

/* Compares pointers only: a stale handle is never read. */
bool handle_is_live(const struct ldr_module *h)
{
    for (struct ldr_module *p = handles; p; p = p->next)
        if (p == h)
            return h->opens > 0;
    return false;
}

void free_handle(struct ldr_module *h)
{
    for (struct ldr_module **p = &handles; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    if (h->mod && h->mod->handle == h)
        h->mod->handle = NULL;
    for (size_t i = 0; i < h->nslots; i++)
        free((void *)h->slots[i].name);
    free(h->slots);
    free(h->hooks);
    free(h);
}

void lock_modules(void)
{
    pthread_mutex_lock(&lock);
}

/* For the crash handler, which must not wait on a lock its own thread or
 * a stopped one may hold. */
bool trylock_modules(void)
{
    return pthread_mutex_trylock(&lock) == 0;
}

void unlock_modules(void)
{
    pthread_mutex_unlock(&lock);
}

struct module *first_module(void)
{
    return head;
}

void publish_module(struct module *m)
{
    count_load();
    m->prev = NULL;
    m->next = head;
    if (head)
        head->prev = m;
    head = m;
}

static void unpublish(struct module *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else if (head == m)
        head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
}

struct module *find_module_by_file(dev_t dev, ino_t ino)
{
    for (struct module *m = head; m; m = m->next)
        if (m->file.dev == dev && m->file.ino == ino)
            return m;
    return NULL;
}

struct module *find_module_by_name(const char *name)
{
    for (struct module *m = head; m; m = m->next)
        if ((m->soname && strcmp(m->soname, name) == 0) || strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

struct module *find_module_by_addr(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    for (struct module *m = head; m; m = m->next)
        if (a >= (uintptr_t)m->map_start && a - (uintptr_t)m->map_start < m->map_size)
            return m;
    return NULL;
}

/* Whether another loaded module has M among its dependencies. */
bool module_needed(const struct module *m)
{
    for (struct module *p = head; p; p = p->next)
        for (size_t i = 0; i < p->ndeps; i++)
            if (p->deps[i].mod == m && p != m)
                return true;
    return false;
}

bool module_is_live(const struct module *m)
{
    for (struct module *p = head; p; p = p->next)
        if (p == m)
            return true;
    return false;
}

void destroy_module(struct module *m)
{
    if (module_is_live(m))
        count_unload();
    unpublish(m);
    if (m->initialized) /* announced to debuggers by start() */
        debug_announce(m, 0);
    trace(T_UNLOAD, "%s: unmapping %#lx-%#lx", m->path, (unsigned long)m->map_start,
          (unsigned long)m->map_start + m->map_size);
    unwind_deregister(m);
    release_deps(m);
    unique_forget(m);
    tls_release(m);
    keys_release(m);
    unmap_image(m);
    symcache_free(m);
    for (size_t i = 0; i < m->ntlsdesc; i++)
        free(m->tlsdesc[i]);
    free(m->tlsdesc);
    free(m->exits);
    free(m->versions);
    free(m->needed);
    if (!m->phdr_mapped)
        free(m->phdr);
    free(m->tables);
    free(m->origin);
    free(m->path);
    free(m);
}

static void mark_reachable(struct module *m)
{
    if (m->mark)
        return;
    m->mark = 1;
    for (size_t i = 0; i < m->ndeps; i++)
        if (m->deps[i].mod)
            mark_reachable(m->deps[i].mod);
}

/* A module stays while a handle is open on it, it is NODELETE, or one that
 * stays depends on it. Reachability rather than counts: dependency cycles
 * then unload like everything else. The unreachable ones are finalized in
 * the reverse of their initialization, then unmapped. */
void clear_marks(void)
{
    for (struct module *m = head; m; m = m->next)
        m->mark = 0;
}

static void mark_live(void)
{
    clear_marks();
    for (struct module *m = head; m; m = m->next)
        if (module_held(m) || m->thread_dtors || (m->nodelete && m->initialized))
            mark_reachable(m);
}

void collect_unreachable(void)
{
    /* A finalizer that closes a module comes back here while its own
     * module is unreachable too: only the outermost call unmaps, once
     * every finalizer has returned. */
    static unsigned depth;
    depth++;
    for (;;) {
        /* A finalizer may open or close modules (the lock is recursive), so
         * liveness is computed afresh before each one. */
        mark_live();
        struct module *last = NULL;
        for (struct module *m = head; m; m = m->next)
            if (!m->mark && !m->finalized && m->initialized && (!last || m->init_seq > last->init_seq))
                last = m;
        if (!last)
            break;
        run_finalizers(last);
    }
    if (--depth)
        return;
    for (struct module *m = head, *next; m; m = next) {
        next = m->next;
        if (!m->mark)
            destroy_module(m);
    }
}

/* At exit, like the system loader for what dlopen loaded and nobody
 * closed: finalizers run, nothing is unmapped (other exit code may still
 * hold pointers into the modules). */
void finalize_all(void)
{
    lock_modules();
    for (;;) {
        struct module *last = NULL;
        for (struct module *m = head; m; m = m->next)
            if (!m->finalized && m->initialized && (!last || m->init_seq > last->init_seq))
                last = m;
        if (!last)
            break;
        run_finalizers(last);
    }
    unlock_modules();
}
