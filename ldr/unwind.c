/* Unwind tables: each module's .eh_frame is registered with the unwinder
 * the host uses (libgcc's __register_frame). libgcc looks at registered
 * frames before anything else, and on glibc 2.35 and later it otherwise
 * asks only _dl_find_object, which knows nothing of ldr's modules: without
 * this, a C++ exception or a Rust panic inside a plugin aborts. */
#include <dlfcn.h>
#include <string.h>

#include "ldr_internal.h"

#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

static void (*register_frame)(const void *);
static void (*deregister_frame)(const void *);

/* libgcc_s is the unwinder of every module that unwinds through the
 * system's C++ runtime or Rust's std, and such a module needs it, so it is
 * loaded by the time the module is. A process without it has nothing that
 * could unwind a frame (a plain C plugin): loading it only to register
 * tables nobody reads would double the cost of a small load, so the
 * registration waits for a later load that finds it. */
static bool find_unwinder(void)
{
    static unsigned long absent_since; /* host_generation() + 1 when last not found */
    if (register_frame)
        return true;
    if (absent_since == host_generation() + 1)
        return false;
    /* Loaded already, the name finds it at once; the reference taken keeps
     * it for good, as tables registered with it must stay deregistrable. */
    if (!host_symbol_in("libgcc_s.so.1", "__register_frame")) {
        absent_since = host_generation() + 1;
        return false;
    }
    void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!h)
        return false;
    register_frame = (void (*)(const void *))system_lookup(h, "__register_frame", NULL);
    deregister_frame = (void (*)(const void *))system_lookup(h, "__deregister_frame", NULL);
    if (!deregister_frame)
        register_frame = NULL;
    return register_frame;
}

/* .eh_frame's address, from the eh_frame_ptr field of .eh_frame_hdr. */
static const void *eh_frame_of(const struct module *m)
{
    for (size_t i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->phdr[i];
        if (p->p_type != PT_GNU_EH_FRAME)
            continue;
        const unsigned char *hdr = image_ptr(m, p->p_vaddr, 12);
        if (!hdr || hdr[0] != 1)
            return NULL;
        /* The header only promises 4-byte alignment: read bytewise. */
        uintptr_t field = (uintptr_t)(hdr + 4), value;
        uint32_t u32;
        int32_t s32;
        uint64_t u64;
        switch (hdr[1] & 0x0f) {
        case DW_EH_PE_udata4: memcpy(&u32, hdr + 4, 4); value = u32; break;
        case DW_EH_PE_sdata4: memcpy(&s32, hdr + 4, 4); value = (uintptr_t)(intptr_t)s32; break;
        case DW_EH_PE_absptr:
        case DW_EH_PE_sdata8: memcpy(&u64, hdr + 4, 8); value = u64; break;
        default: return NULL;
        }
        switch (hdr[1] & 0x70) {
        case DW_EH_PE_pcrel: value += field; break;
        case DW_EH_PE_datarel: value += (uintptr_t)hdr; break;
        case 0: value += m->base; break;
        default: return NULL;
        }
        return value >= m->base && image_ptr(m, value - m->base, 4) ? (const void *)value : NULL;
    }
    return NULL;
}

static void register_module(struct module *m, const void *eh)
{
    register_frame(eh);
    m->eh_frame = eh;
    trace(T_FILES, "%s: unwind tables registered (.eh_frame at +%#lx)", m->path,
          (unsigned long)((uintptr_t)eh - m->base));
}

static bool has_eh_frame_hdr(const struct module *m)
{
    for (size_t i = 0; i < m->phnum; i++)
        if (m->phdr[i].p_type == PT_GNU_EH_FRAME)
            return true;
    return false;
}

/* The unwinder is looked for before the tables are read: a module whose
 * tables must wait keeps their pages untouched (not resident) until then. */
void unwind_register(struct module *m)
{
    if (has_eh_frame_hdr(m) && !find_unwinder()) {
        m->eh_pending = true;
        trace(T_FILES, "%s: no unwinder (libgcc_s) in the process yet; unwind tables wait", m->path);
        return;
    }
    const void *eh = eh_frame_of(m);
    if (!eh) {
        trace(T_FILES, "%s: no unwind tables (PT_GNU_EH_FRAME) to register", m->path);
        return;
    }
    for (struct module *p = first_module(); p; p = p->next)
        if (p->eh_pending && p != m) {
            p->eh_pending = false;
            const void *peh = eh_frame_of(p);
            if (peh)
                register_module(p, peh);
        }
    register_module(m, eh);
}

void unwind_deregister(struct module *m)
{
    if (m->eh_frame)
        deregister_frame(m->eh_frame);
    m->eh_frame = NULL;
}
