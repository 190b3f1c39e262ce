/* ldr: a userspace dynamic loader for x86_64 Linux plugins.
 *
 * Loads shared objects without the system loader, binding their imports
 * against the host process first, so that one C runtime serves everybody. */
#ifndef LDR_H
#define LDR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* Dl_info */
#endif
#include <dlfcn.h>
#ifndef __USE_GNU
#error "ldr.h needs Dl_info from <dlfcn.h>: compile with -D_GNU_SOURCE, or include ldr.h first"
#endif
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ldr_module ldr_module;

/* Map and relocate only: run no initializers, and no finalizers at close. */
#define LDR_NOINIT   0x1
/* Exact symbol versions only, like the system loader: no fallback, no shims. */
#define LDR_STRICT   0x2
/* Load from a private copy of the file (a memfd), so that rewriting the
 * file in place can neither change nor crash code already loaded. */
#define LDR_SNAPSHOT 0x4

/* Loads the shared object at PATH (a path with a slash, or a name searched
 * like a dependency). Opening a file that is already loaded returns the
 * same module with one more reference. NULL on failure: see ldr_error(). */
ldr_module *ldr_open(const char *path, int flags);

/* The default version of the symbol NAME, searched in the module and then
 * in its dependencies, breadth-first. NULL if there is none. */
void *ldr_sym(ldr_module *m, const char *name);

/* NAME at exactly VERSION (hidden, non-default versions included). */
void *ldr_vsym(ldr_module *m, const char *name, const char *version);

/* Drops one reference. The last one runs the finalizers (unless the module
 * was opened with LDR_NOINIT) and unmaps the module and the dependencies
 * nothing else holds. 0 on success, -1 on error (see ldr_error()). */
int ldr_close(ldr_module *m);

/* This thread's last error as "FILE: reason", like dlerror(); NULL once
 * read or if there has been none. */
const char *ldr_error(void);

struct ldr_info {
    const char *path;   /* the file as it was found */
    uintptr_t base;     /* load bias: file vaddr + base = address */
    size_t size;        /* bytes reserved for the image */
    const char *soname; /* DT_SONAME, or NULL */
    unsigned refs;      /* handles open on the module */
    unsigned ndeps;     /* DT_NEEDED entries */
};
int ldr_info(ldr_module *m, struct ldr_info *out);

/* dladdr() for addresses inside ldr-loaded modules: 1 if ADDR lies in one
 * (INFO filled in like dladdr does), 0 if not. */
int ldr_addr(const void *addr, Dl_info *info);

/* Like ldr_open, from an ELF image in memory. NAME is what errors, traces
 * and /proc/self/maps ("/memfd:NAME") show. */
ldr_module *ldr_open_mem(const char *name, const void *image, size_t size, int flags);

/* If the file at the module's path changed (its content, not only its
 * time stamps), loads the new file completely, then runs the old module's
 * finalizers and the new one's initializers, updates the slots and calls
 * the hooks below, and unmaps the old module. The handle stays valid and
 * ldr_sym answers with the new addresses. 1: reloaded; 0: unchanged; -1:
 * the new file could not be loaded (ldr_error says why) and the old module
 * runs on untouched. FLAGS may add LDR_SNAPSHOT. */
int ldr_reload(ldr_module *m, int flags);

/* Keeps *SLOT equal to ldr_sym(m, NAME): set now, and again after every
 * reload (NULL if the new file does not export NAME). 0 on success. */
int ldr_bind(ldr_module *m, const char *name, void **slot);

/* Calls FN(m, ARG) after every successful reload of M. 0 on success. */
int ldr_on_reload(ldr_module *m, void (*fn)(ldr_module *m, void *arg), void *arg);

/* What loading a file would do, without running any of its code: ldr_check
 * loads PATH and its dependencies with LDR_NOINIT (plus FLAGS, e.g.
 * LDR_STRICT), resolves every relocation, calls FN for every event below,
 * and unloads again. IFUNC resolvers are the one exception to "no code":
 * they run, as they do under the system loader's `ldd -r`. A file already
 * loaded is not loaded again and reports nothing. 0: the load would
 * succeed; -1: it would fail, and ldr_error() says why. */
enum ldr_check_kind {
    LDR_CHECK_UNRESOLVED, /* nothing defines it (a strong reference) */
    LDR_CHECK_FALLBACK,   /* bound to another version or function */
    LDR_CHECK_SHIM        /* bound to ldr's own implementation */
};
struct ldr_offer {
    const char *library; /* a file the host has, or a module of this load */
    const char *version; /* NULL: unversioned */
};
struct ldr_check_event {
    enum ldr_check_kind kind;
    const char *module;   /* the file whose relocation asks */
    const char *symbol;
    const char *version;  /* what it asks for; NULL: unversioned */
    const char *target;   /* FALLBACK: the library bound to; SHIM: "ldr" */
    const char *target_symbol, *target_version;
    const char *why;      /* why this substitution, or why nothing binds (may be NULL) */
    const struct ldr_offer *offers; /* UNRESOLVED: every definition of the name, any version */
    size_t noffers;
};
int ldr_check(const char *path, int flags, void (*fn)(const struct ldr_check_event *ev, void *arg), void *arg);

/* Crash reports: with ON, a SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT
 * whose stack has a frame in an ldr-loaded module prints a backtrace to
 * stderr (module, offset and function of each frame), then the process
 * dies of the same signal. Any other crash goes to the handler installed
 * before. 0 on success. ldrun turns this on. */
int ldr_crash_reports(int on);

#ifdef __cplusplus
}
#endif
#endif
