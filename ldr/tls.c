/* Thread-local storage for ldr's modules, in a process whose system loader
 * knows nothing of them.
 *
 * Each module with PT_TLS gets an id (TLS_ID_BASE + its slot). Each thread
 * has a vector of block pointers, indexed by slot, made on the thread's
 * first access (arch/x86_64/tls.S has the fast paths). A block is
 * allocated on a thread's first access to that module, initialized from
 * the module's image (.tdata copied, .tbss zeroed), and freed at thread
 * exit or when the module unloads. Unloading clears the slot in every
 * thread's vector before the id can be reused, so no thread ever sees a
 * stale block.
 *
 * Initial-exec TLS (DF_STATIC_TLS) is placed in a pool inside ldr's own
 * static TLS, which exists in every thread at the same offset from the
 * thread pointer; only zero-initialized blocks can go there, because
 * threads that already exist cannot be given an image. */
#include <cpuid.h>
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"
#include "tls.h"

#define POOL_ALIGN 64

struct tls_vector {
    size_t count;
    struct tls_vector *next, *prev;
    unsigned rounds;
    void *blocks[];
};
_Static_assert(offsetof(struct tls_vector, count) == TLS_VEC_COUNT, "tls.S vector layout");
_Static_assert(offsetof(struct tls_vector, blocks) == TLS_VEC_BLOCKS, "tls.S vector layout");
_Static_assert(offsetof(struct tlsdesc_arg, id) == TLSDESC_ID, "tls.S descriptor layout");
_Static_assert(offsetof(struct tlsdesc_arg, offset) == TLSDESC_OFFSET, "tls.S descriptor layout");

/* A thread starts with the empty vector rather than none: the fast paths
 * then need no test for NULL, only the bound check they make anyway. */
static struct tls_vector no_blocks;
__attribute__((tls_model("initial-exec"), visibility("hidden"))) __thread struct tls_vector *ldr_tls_vec = &no_blocks;
static __attribute__((tls_model("initial-exec"))) __thread unsigned char pool[LDR_STATIC_TLS_POOL]
    __attribute__((aligned(POOL_ALIGN)));
static size_t pool_used;

/* What tls.S needs from C. */
__attribute__((visibility("hidden"))) void *ldr_host_tls_get_addr;
__attribute__((visibility("hidden"))) unsigned long ldr_xsave_size = 4096;
__attribute__((visibility("hidden"))) unsigned ldr_xsave_mask = 0x7;
void *ldr_tls_get_addr_slow(const struct tlsdesc_arg *ti);
void *ldr_tlsdesc_slow(const struct tlsdesc_arg *arg);

struct slot {
    const struct module *mod; /* NULL: free */
    const void *image;
    size_t image_size, size, align;
    intptr_t static_offset;       /* from the thread pointer; 0: dynamic */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static size_t nslots;
static struct tls_vector *threads; /* every thread's vector */
static pthread_key_t exit_key;
static int once;

static uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* glibc runs key destructors in up to four rounds while any key is set;
 * the vector is kept until the last, so that other destructors of the
 * same thread may still use the module's TLS. */
static void thread_exit(void *p)
{
    struct tls_vector *v = p;
    if (++v->rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        pthread_setspecific(exit_key, v);
        return;
    }
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < v->count; i++)
        if (v->blocks[i] && i < nslots && !slots[i].static_offset)
            free(v->blocks[i]);
    if (v->prev)
        v->prev->next = v->next;
    else
        threads = v->next;
    if (v->next)
        v->next->prev = v->prev;
    pthread_mutex_unlock(&lock);
    ldr_tls_vec = &no_blocks;
    free(v);
}

/* The vector state a TLS descriptor's slow path must preserve: x87, SSE,
 * AVX and AVX-512 registers, as far as the OS has enabled them. */
static void measure_xsave(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 0xd)
        return;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_OSXSAVE))
        return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    __cpuid_count(0xd, 0, a, b, c, d);
    ldr_xsave_mask = lo & 0xe7;
    ldr_xsave_size = b + 64;
}

static void setup(void)
{
    pthread_key_create(&exit_key, thread_exit);
    ldr_host_tls_get_addr = dlsym(RTLD_DEFAULT, "__tls_get_addr");
}

/* What the slow paths of TLS access need, made when the first TLS
 * relocation is applied: only such a relocation leads code to them (even
 * a module without TLS of its own may reach the host's through
 * __tls_get_addr, which then needs the system's). The vector state only
 * a dynamic TLS descriptor's slow path saves, measured when the first one
 * is made. Not before: CPUID traps to the hypervisor in a virtual
 * machine, and most loads have no TLS (Rust's and most C code's reaches
 * it through __tls_get_addr, which is a normal call). */
void tls_prepare(bool descriptor)
{
    static int measured;
    run_once(&once, setup);
    if (descriptor)
        run_once(&measured, measure_xsave);
}

int tls_register(struct module *m)
{
    const Elf64_Phdr *t = NULL;
    for (size_t i = 0; i < m->phnum; i++)
        if (m->phdr[i].p_type == PT_TLS && m->phdr[i].p_memsz)
            t = &m->phdr[i];
    if (!t)
        return 0;
    if (t->p_filesz > t->p_memsz || (t->p_align > 1 && (t->p_align & (t->p_align - 1))))
        return fail(m->path, "malformed TLS segment");
    const void *image = t->p_filesz ? image_ptr(m, t->p_vaddr, t->p_filesz) : NULL;
    if (t->p_filesz && !image)
        return fail(m->path, "TLS initialization image lies outside the image");
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < nslots && slots[i].mod)
        i++;
    if (i == nslots) {
        struct slot *s = realloc(slots, (nslots + 16) * sizeof *s);
        if (!s) {
            pthread_mutex_unlock(&lock);
            return fail(m->path, "out of memory");
        }
        memset(s + nslots, 0, 16 * sizeof *s);
        slots = s;
        nslots += 16;
    }
    size_t align = t->p_align > 1 ? t->p_align : 1;
    slots[i] = (struct slot){
        .mod = m,
        .image = image,
        .image_size = t->p_filesz,
        .size = (t->p_memsz + align - 1) & ~(align - 1),
        .align = align,
    };
    pthread_mutex_unlock(&lock);
    m->tls_id = TLS_ID_BASE + i;
    trace(T_TLS, "%s: TLS module id %#zx, %zu bytes aligned %zu, %zu initialized", m->path, m->tls_id,
          (size_t)t->p_memsz, align, (size_t)t->p_filesz);
    return 0;
}

/* Places slot S in the static pool if it may go there and LIMIT bytes of
 * the pool leave room; why not, otherwise. Under the lock. The pool's bytes
 * are zero in every thread, those that exist and those to come, until a
 * module uses them: so only an all-zero image may go there, and space once
 * given is never given again (a module unloaded leaves its bytes dirty). */
static const char *place_static(struct slot *s, size_t limit)
{
    if (s->static_offset)
        return NULL;
    for (size_t i = 0; i < s->image_size; i++)
        if (((const unsigned char *)s->image)[i])
            return "its TLS image is not all zeros (threads that already exist could not be given it)";
    if (s->align > POOL_ALIGN)
        return "its TLS alignment is larger than the pool's";
    size_t at = (pool_used + s->align - 1) & ~(s->align - 1);
    if (at > limit || limit - at < s->size)
        return "ldr's static TLS pool is full (configure --with-static-tls-pool=BYTES)";
    pool_used = at + s->size;
    s->static_offset = (intptr_t)((uintptr_t)(pool + at) - thread_pointer());
    return NULL;
}

/* Places M's TLS block in the static pool, for initial-exec accesses. */
int tls_make_static(struct module *m)
{
    pthread_mutex_lock(&lock);
    struct slot *s = &slots[m->tls_id - TLS_ID_BASE];
    const char *why = place_static(s, sizeof pool);
    intptr_t off = s->static_offset;
    pthread_mutex_unlock(&lock);
    if (why)
        return fail(m->path, "uses initial-exec TLS (%zu bytes), which ldr cannot place: %s", s->size, why);
    trace(T_TLS, "%s: initial-exec TLS at thread pointer %+ld (static pool %zu of %zu bytes used)", m->path,
          (long)off, pool_used, sizeof pool);
    return 0;
}

/* For a module whose dynamic-model accesses (TLS descriptors,
 * __tls_get_addr) are being bound, before its code ever ran: a place in
 * the static pool, when its image allows, so that its descriptors return
 * a fixed offset (two instructions, as the system loader's for a block in
 * its static TLS) and __tls_get_addr adds one, rather than look the
 * thread's block up. These take no more than half the pool: the rest
 * stays for initial-exec modules, which have nowhere else to go. */
bool tls_try_static(struct module *m)
{
    pthread_mutex_lock(&lock);
    struct slot *s = &slots[m->tls_id - TLS_ID_BASE];
    bool placed = !place_static(s, sizeof pool / 2);
    intptr_t off = s->static_offset;
    pthread_mutex_unlock(&lock);
    if (placed)
        trace(T_TLS, "%s: dynamic-model TLS with a static block at thread pointer %+ld", m->path, (long)off);
    return placed;
}

intptr_t tls_static_offset(const struct module *m)
{
    pthread_mutex_lock(&lock);
    intptr_t off = slots[m->tls_id - TLS_ID_BASE].static_offset;
    pthread_mutex_unlock(&lock);
    return off;
}

/* Frees every thread's block of M and frees its id. A module placed in
 * the static pool is never unloaded (see tls_make_static's callers). */
void tls_release(struct module *m)
{
    if (!m->tls_id)
        return;
    size_t i = m->tls_id - TLS_ID_BASE;
    pthread_mutex_lock(&lock);
    for (struct tls_vector *v = threads; v; v = v->next)
        if (i < v->count && v->blocks[i]) {
            if (!slots[i].static_offset)
                free(v->blocks[i]);
            v->blocks[i] = NULL;
        }
    memset(&slots[i], 0, sizeof slots[i]);
    pthread_mutex_unlock(&lock);
    m->tls_id = 0;
}

static void tls_abort(size_t id)
{
    fprintf(stderr, "ldr: TLS access to module id %#zx, which no loaded module has\n", id);
    abort();
}

/* The calling thread's block for slot I, made on first use. */
static void *thread_block(size_t i)
{
    pthread_mutex_lock(&lock);
    if (i >= nslots || !slots[i].mod) {
        pthread_mutex_unlock(&lock);
        tls_abort(TLS_ID_BASE + i);
    }
    struct tls_vector *v = ldr_tls_vec == &no_blocks ? NULL : ldr_tls_vec;
    if (!v || i >= v->count) {
        size_t count = nslots;
        struct tls_vector *nv = realloc(v, sizeof *nv + count * sizeof nv->blocks[0]);
        if (!nv) {
            pthread_mutex_unlock(&lock);
            fprintf(stderr, "ldr: out of memory for a thread's TLS vector\n");
            abort();
        }
        if (!v) {
            memset(nv, 0, sizeof *nv);
            nv->next = threads;
            if (threads)
                threads->prev = nv;
            threads = nv;
        } else {
            /* realloc moved it: its neighbours must follow. */
            if (nv->prev)
                nv->prev->next = nv;
            else
                threads = nv;
            if (nv->next)
                nv->next->prev = nv;
        }
        memset(nv->blocks + nv->count, 0, (count - nv->count) * sizeof nv->blocks[0]);
        nv->count = count;
        ldr_tls_vec = v = nv;
        pthread_setspecific(exit_key, v);
    }
    const struct slot *s = &slots[i];
    void *block = v->blocks[i];
    if (!block && s->static_offset) {
        block = (void *)(thread_pointer() + s->static_offset);
    } else if (!block) {
        /* C11 wants the size a multiple of the alignment. */
        size_t align = s->align < sizeof(void *) ? sizeof(void *) : s->align;
        block = aligned_alloc(align, (s->size + align - 1) & ~(align - 1));
        if (!block) {
            pthread_mutex_unlock(&lock);
            fprintf(stderr, "ldr: out of memory for a TLS block of %zu bytes\n", s->size);
            abort();
        }
        if (s->image_size)
            memcpy(block, s->image, s->image_size);
        memset((char *)block + s->image_size, 0, s->size - s->image_size);
    }
    v->blocks[i] = block;
    pthread_mutex_unlock(&lock);
    return block;
}

void *ldr_tls_get_addr_slow(const struct tlsdesc_arg *ti)
{
    if (ti->id < TLS_ID_BASE)
        tls_abort(ti->id);
    return (char *)thread_block(ti->id - TLS_ID_BASE) + ti->offset;
}

/* A descriptor's slow path: an ldr module's first access in this thread,
 * or a module of the system loader's. */
void *ldr_tlsdesc_slow(const struct tlsdesc_arg *arg)
{
    if (arg->id >= TLS_ID_BASE)
        return ldr_tls_get_addr_slow(arg);
    void *(*host)(const struct tlsdesc_arg *) = (void *(*)(const struct tlsdesc_arg *))ldr_host_tls_get_addr;
    return host(arg);
}

/* For dl_iterate_phdr: this thread's block of M, NULL before first use. */
void *tls_block_if_any(const struct module *m)
{
    struct tls_vector *v = ldr_tls_vec;
    size_t i = m->tls_id - TLS_ID_BASE;
    return m->tls_id && v && i < v->count ? v->blocks[i] : NULL;
}

struct host_tls_query {
    uintptr_t addr;
    size_t id, offset;
};

static int find_host_block(struct dl_phdr_info *info, size_t size, void *data)
{
    struct host_tls_query *q = data;
    (void)size;
    if (!info->dlpi_tls_modid || !info->dlpi_tls_data)
        return 0;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uintptr_t start = (uintptr_t)info->dlpi_tls_data;
        if (p->p_type == PT_TLS && q->addr >= start && q->addr - start < p->p_memsz) {
            q->id = info->dlpi_tls_modid;
            q->offset = q->addr - start;
            return 1;
        }
    }
    return 0;
}

/* The system loader's module id and offset of the TLS variable at ADDR
 * (this thread's instance, as dlsym gives it). */
int host_tls_locate(const void *addr, size_t *id, size_t *offset)
{
    struct host_tls_query q = {.addr = (uintptr_t)addr};
    if (!dl_iterate_phdr(find_host_block, &q))
        return -1;
    *id = q.id;
    *offset = q.offset;
    return 0;
}

/* The offset from the thread pointer of a host TLS variable, valid in
 * every thread only if its module lives in static TLS: the system
 * loader's static block ends at the thread pointer. */
int host_tls_static_offset(const void *addr, intptr_t *offset)
{
    intptr_t off = (intptr_t)((uintptr_t)addr - thread_pointer());
    if (off >= 0 || off < -(intptr_t)(1 << 20))
        return -1;
    *offset = off;
    return 0;
}
