/* The loaded modules: one list, one recursive lock (an initializer may
 * call ldr_open), and the unloading of what nothing holds any more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct ldr_module *head;

void lock_modules(void)
{
    pthread_mutex_lock(&lock);
}

void unlock_modules(void)
{
    pthread_mutex_unlock(&lock);
}

struct ldr_module *first_module(void)
{
    return head;
}

void publish_module(struct ldr_module *m)
{
    count_load();
    m->prev = NULL;
    m->next = head;
    if (head)
        head->prev = m;
    head = m;
}

static void unpublish(struct ldr_module *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else if (head == m)
        head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
}

struct ldr_module *find_module_by_file(dev_t dev, ino_t ino)
{
    for (struct ldr_module *m = head; m; m = m->next)
        if (m->dev == dev && m->ino == ino)
            return m;
    return NULL;
}

struct ldr_module *find_module_by_name(const char *name)
{
    for (struct ldr_module *m = head; m; m = m->next)
        if ((m->soname && strcmp(m->soname, name) == 0) || strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

struct ldr_module *find_module_by_addr(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    for (struct ldr_module *m = head; m; m = m->next)
        if (a >= (uintptr_t)m->map_start && a - (uintptr_t)m->map_start < m->map_size)
            return m;
    return NULL;
}

bool module_is_live(const struct ldr_module *m)
{
    for (struct ldr_module *p = head; p; p = p->next)
        if (p == m)
            return true;
    return false;
}

void destroy_module(struct ldr_module *m)
{
    if (module_is_live(m))
        count_unload();
    unpublish(m);
    trace(T_UNLOAD, "%s: unmapping %#lx-%#lx", m->path, (unsigned long)m->map_start,
          (unsigned long)(m->map_start + m->map_size));
    release_deps(m);
    unwind_deregister(m);
    tls_release(m);
    unmap_image(m);
    free(m->tlsdesc);
    free(m->exits);
    free(m->versions);
    free(m->needed);
    free(m->phdr);
    free(m->origin);
    free(m->path);
    free(m);
}

static void mark_reachable(struct ldr_module *m)
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
    for (struct ldr_module *m = head; m; m = m->next)
        m->mark = 0;
}

static void mark_live(void)
{
    clear_marks();
    for (struct ldr_module *m = head; m; m = m->next)
        if (m->opens || m->thread_dtors || (m->nodelete && m->initialized))
            mark_reachable(m);
}

void collect_unreachable(void)
{
    for (;;) {
        /* A finalizer may open or close modules (the lock is recursive), so
         * liveness is computed afresh before each one. */
        mark_live();
        struct ldr_module *last = NULL;
        for (struct ldr_module *m = head; m; m = m->next)
            if (!m->mark && !m->finalized && m->initialized && (!last || m->init_seq > last->init_seq))
                last = m;
        if (!last)
            break;
        run_finalizers(last);
    }
    for (struct ldr_module *m = head, *next; m; m = next) {
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
        struct ldr_module *last = NULL;
        for (struct ldr_module *m = head; m; m = m->next)
            if (!m->finalized && m->initialized && (!last || m->init_seq > last->init_seq))
                last = m;
        if (!last)
            break;
        run_finalizers(last);
    }
    unlock_modules();
}
