/* Old-glibc hosts: a reference the host cannot satisfy at its exact
 * version (a plugin built on a newer glibc) is matched by the rules below,
 * and every substitution is traced (LDR_DEBUG=versions). The rules are
 * data, one row per function or name pattern, first match wins, taken
 * from glibc's own abilists (x86_64):
 *   OLDER   the same function at the host's default older version, in the
 *           library that held it before glibc 2.34 moved it into libc;
 *   RENAME  another function that does the same;
 *   SHIM    ldr's own implementation (shims.c);
 *   BY_LDR  ldr's own service, bound before the host (hooks.c);
 *   UNSAFE  a fallback exists but would be wrong: refused, with the reason.
 * Anything not in the table is refused: only known-equivalent code is bound.
 * LDR_STRICT loads never get here. */
#include <dlfcn.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

#define ROW_OLDER(n, v, lib, min, why) {n, v, COMPAT_OLDER, lib, min, why}
#define ROW_RENAME(n, v, to, tover, why) {n, v, COMPAT_RENAME, to, tover, why}
#define ROW_SHIM(n, v, why) {n, v, COMPAT_SHIM, NULL, NULL, why}
#define ROW_UNSAFE(n, v, why) {n, v, COMPAT_UNSAFE, NULL, NULL, why}

#define LIBPTHREAD "libpthread.so.0"
#define LIBDL "libdl.so.2"
#define LIBRT "librt.so.1"
#define LIBM "libm.so.6"
#define MOVED "moved into libc in 2.34; the same code"
#define SVID "the new version only drops SVID error handling"
#define NEW "the host's glibc lacks it"

const struct compat_rule compat_rules[] = {
    /* Exceptions first: they shadow the patterns further down. */
    ROW_SHIM("pthread_kill", "GLIBC_2.34", "2.34 returns 0, not ESRCH, for an exited thread: ldr maps it"),
    ROW_OLDER("pthread_cond_*", "GLIBC_2.34", LIBPTHREAD, "GLIBC_2.3.2", MOVED "; never the pre-2.3.2 condvar"),
    ROW_OLDER("pthread_*affinity_np", "GLIBC_2.32", LIBPTHREAD, "GLIBC_2.3.4", "moved into libc; @2.3.3 had another signature"),
    ROW_OLDER("pthread_*affinity_np", "GLIBC_2.34", LIBPTHREAD, "GLIBC_2.3.4", MOVED "; @2.3.3 had another signature"),
    ROW_UNSAFE("pthread_cond_clockwait", "GLIBC_2.30", "no equivalent: a clock-relative wait cannot be rebuilt safely"),
    ROW_UNSAFE("_Fork", "GLIBC_2.34", "a raw fork leaves glibc's cached PID wrong in the child"),
    ROW_UNSAFE("realpath", "GLIBC_2.3", "the 2.2.5 version does not allocate for a NULL buffer"),
    ROW_UNSAFE("fmemopen", "GLIBC_2.22", "the 2.2.5 version has other buffer and mode semantics"),
    ROW_UNSAFE("quick_exit", "GLIBC_2.24", "the 2.10 version also runs thread_local destructors"),
    ROW_UNSAFE("glob", "GLIBC_2.27", "the 2.2.5 version skips dangling symlinks"),
    ROW_UNSAFE("glob64", "GLIBC_2.27", "the 2.2.5 version skips dangling symlinks"),
    ROW_UNSAFE("totalorder*", "GLIBC_2.31", "the 2.25 version takes its arguments by value, not by pointer"),
    ROW_UNSAFE("_dl_find_object", "GLIBC_2.35", "a stub would stop unwinding through the module"),
    {"__cxa_thread_atexit_impl", "GLIBC_2.18", COMPAT_BY_LDR, NULL, NULL,
     "thread-exit destructors are ldr's own: they must run before the module is unmapped"},

    /* Same function at the host's default older version. */
    ROW_OLDER("memcpy", "GLIBC_2.14", NULL, NULL, "the 2.2.5 version is memmove, a superset"),
    ROW_OLDER("clock_getres", "GLIBC_2.17", LIBRT, NULL, "moved from librt in 2.17"),
    ROW_OLDER("clock_gettime", "GLIBC_2.17", LIBRT, NULL, "moved from librt in 2.17"),
    ROW_OLDER("clock_settime", "GLIBC_2.17", LIBRT, NULL, "moved from librt in 2.17"),
    ROW_OLDER("clock_nanosleep", "GLIBC_2.17", LIBRT, NULL, "moved from librt in 2.17"),
    ROW_OLDER("clock_getcpuclockid", "GLIBC_2.17", LIBRT, NULL, "moved from librt in 2.17"),
    ROW_OLDER("lgamma", "GLIBC_2.23", LIBM, NULL, "2.23 only stopped setting signgam in ISO C mode"),
    ROW_OLDER("lgammaf", "GLIBC_2.23", LIBM, NULL, "2.23 only stopped setting signgam in ISO C mode"),
    ROW_OLDER("lgammal", "GLIBC_2.23", LIBM, NULL, "2.23 only stopped setting signgam in ISO C mode"),
    ROW_OLDER("expf", "GLIBC_2.27", LIBM, NULL, SVID),
    ROW_OLDER("exp2f", "GLIBC_2.27", LIBM, NULL, SVID),
    ROW_OLDER("logf", "GLIBC_2.27", LIBM, NULL, SVID),
    ROW_OLDER("log2f", "GLIBC_2.27", LIBM, NULL, SVID),
    ROW_OLDER("powf", "GLIBC_2.27", LIBM, NULL, SVID),
    ROW_OLDER("exp", "GLIBC_2.29", LIBM, NULL, SVID),
    ROW_OLDER("exp2", "GLIBC_2.29", LIBM, NULL, SVID),
    ROW_OLDER("log", "GLIBC_2.29", LIBM, NULL, SVID),
    ROW_OLDER("log2", "GLIBC_2.29", LIBM, NULL, SVID),
    ROW_OLDER("pow", "GLIBC_2.29", LIBM, NULL, SVID),
    ROW_OLDER("hypot", "GLIBC_2.35", LIBM, NULL, SVID),
    ROW_OLDER("hypotf", "GLIBC_2.35", LIBM, NULL, SVID),
    ROW_OLDER("fmod", "GLIBC_2.38", LIBM, NULL, SVID),
    ROW_OLDER("fmodf", "GLIBC_2.38", LIBM, NULL, SVID),
    ROW_OLDER("exp10", "GLIBC_2.39", LIBM, NULL, SVID),
    ROW_OLDER("pthread_getattr_np", "GLIBC_2.32", LIBPTHREAD, NULL, "moved into libc in 2.32; the same code"),
    ROW_OLDER("pthread_sigmask", "GLIBC_2.32", LIBPTHREAD, NULL, "moved into libc in 2.32; the same code"),
    ROW_OLDER("pthread_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("sem_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("__pthread_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("thrd_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("mtx_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("cnd_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("tss_*", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("call_once", "GLIBC_2.34", LIBPTHREAD, NULL, MOVED),
    ROW_OLDER("dl*", "GLIBC_2.34", LIBDL, NULL, MOVED),
    ROW_OLDER("timer_*", "GLIBC_2.34", LIBRT, "GLIBC_2.3.3", MOVED "; never the 2.2.5 int timer_t"),
    ROW_OLDER("mq_*", "GLIBC_2.34", LIBRT, "GLIBC_2.3.4", MOVED),
    ROW_OLDER("shm_*", "GLIBC_2.34", LIBRT, NULL, MOVED),
    ROW_OLDER("aio_*", "GLIBC_2.34", LIBRT, NULL, MOVED),
    ROW_OLDER("lio_listio*", "GLIBC_2.34", LIBRT, "GLIBC_2.4", MOVED),
    ROW_OLDER("openpty", "GLIBC_2.34", "libutil.so.1", NULL, MOVED),
    ROW_OLDER("forkpty", "GLIBC_2.34", "libutil.so.1", NULL, MOVED),
    ROW_OLDER("login*", "GLIBC_2.34", "libutil.so.1", NULL, MOVED),
    ROW_OLDER("logout", "GLIBC_2.34", "libutil.so.1", NULL, MOVED),
    ROW_OLDER("logwtmp", "GLIBC_2.34", "libutil.so.1", NULL, MOVED),
    ROW_OLDER("getaddrinfo_a", "GLIBC_2.34", "libanl.so.1", NULL, MOVED),
    ROW_OLDER("gai_*", "GLIBC_2.34", "libanl.so.1", NULL, MOVED),

    /* Known equivalents. */
    ROW_RENAME("secure_getenv", "GLIBC_2.17", "__secure_getenv", "GLIBC_2.2.5", "its name before 2.17"),
    ROW_RENAME("explicit_bzero", "GLIBC_2.25", "bzero", NULL, "a call into libc is not optimized away"),
    ROW_RENAME("fcntl64", "GLIBC_2.28", "fcntl", NULL, "off_t is 64 bits on x86_64: the same function"),
    ROW_RENAME("__memcmpeq", "GLIBC_2.35", "bcmp", NULL, "bcmp answers the same zero/non-zero question"),
    ROW_RENAME("__isoc23_scanf", "GLIBC_2.38", "__isoc99_scanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("__isoc23_sscanf", "GLIBC_2.38", "__isoc99_sscanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("__isoc23_fscanf", "GLIBC_2.38", "__isoc99_fscanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("__isoc23_vscanf", "GLIBC_2.38", "__isoc99_vscanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("__isoc23_vsscanf", "GLIBC_2.38", "__isoc99_vsscanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("__isoc23_vfscanf", "GLIBC_2.38", "__isoc99_vfscanf", "GLIBC_2.7", "C23 adds only a 0b prefix for %i and %b"),
    ROW_RENAME("free_sized", "GLIBC_2.43", "free", NULL, "the size is only a hint"),
    ROW_RENAME("free_aligned_sized", "GLIBC_2.43", "free", NULL, "the size is only a hint"),
    /* libstdc++: a new throw helper for a subclass of bad_alloc. */
    ROW_RENAME("_ZSt28__throw_bad_array_new_lengthv", "GLIBCXX_3.4.29", "_ZSt17__throw_bad_allocv", "GLIBCXX_3.4",
               "throws std::bad_alloc, the base class of bad_array_new_length"),

    /* ldr's own implementations of what the host's glibc lacks entirely. */
    ROW_SHIM("stat", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("stat64", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("fstat", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("fstat64", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("lstat", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("lstat64", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("fstatat", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("fstatat64", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("mknod", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("mknodat", "GLIBC_2.33", "the system call itself; older glibcs export only the __xstat interface"),
    ROW_SHIM("mallinfo2", "GLIBC_2.33", "mallinfo's fields, widened"),
    ROW_SHIM("__isoc23_strtol", "GLIBC_2.38", "strtol plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_strtoul", "GLIBC_2.38", "strtoul plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_strtoll", "GLIBC_2.38", "strtoll plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_strtoull", "GLIBC_2.38", "strtoull plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_strtoimax", "GLIBC_2.38", "strtoimax plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_strtoumax", "GLIBC_2.38", "strtoumax plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_wcstol", "GLIBC_2.38", "wcstol plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_wcstoul", "GLIBC_2.38", "wcstoul plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_wcstoll", "GLIBC_2.38", "wcstoll plus the C23 0b prefix"),
    ROW_SHIM("__isoc23_wcstoull", "GLIBC_2.38", "wcstoull plus the C23 0b prefix"),
    ROW_SHIM("strlcpy", "GLIBC_2.38", NEW),
    ROW_SHIM("strlcat", "GLIBC_2.38", NEW),
    ROW_SHIM("wcslcpy", "GLIBC_2.38", NEW),
    ROW_SHIM("wcslcat", "GLIBC_2.38", NEW),
    ROW_SHIM("getrandom", "GLIBC_2.25", NEW),
    ROW_SHIM("getentropy", "GLIBC_2.25", NEW),
    ROW_SHIM("reallocarray", "GLIBC_2.26", NEW),
    ROW_SHIM("copy_file_range", "GLIBC_2.27", NEW),
    ROW_SHIM("memfd_create", "GLIBC_2.27", NEW),
    ROW_SHIM("mlock2", "GLIBC_2.27", NEW),
    ROW_SHIM("pkey_alloc", "GLIBC_2.27", NEW),
    ROW_SHIM("pkey_free", "GLIBC_2.27", NEW),
    ROW_SHIM("pkey_mprotect", "GLIBC_2.27", NEW),
    ROW_SHIM("statx", "GLIBC_2.28", NEW),
    ROW_SHIM("renameat2", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_create", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_current", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_detach", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_equal", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_exit", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_join", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_sleep", "GLIBC_2.28", NEW),
    ROW_SHIM("thrd_yield", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_init", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_lock", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_timedlock", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_trylock", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_unlock", "GLIBC_2.28", NEW),
    ROW_SHIM("mtx_destroy", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_init", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_signal", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_broadcast", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_wait", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_timedwait", "GLIBC_2.28", NEW),
    ROW_SHIM("cnd_destroy", "GLIBC_2.28", NEW),
    ROW_SHIM("tss_create", "GLIBC_2.28", NEW),
    ROW_SHIM("tss_get", "GLIBC_2.28", NEW),
    ROW_SHIM("tss_set", "GLIBC_2.28", NEW),
    ROW_SHIM("tss_delete", "GLIBC_2.28", NEW),
    ROW_SHIM("call_once", "GLIBC_2.28", NEW),
    ROW_SHIM("gettid", "GLIBC_2.30", NEW),
    ROW_SHIM("tgkill", "GLIBC_2.30", NEW),
    ROW_SHIM("getdents64", "GLIBC_2.30", NEW),
    ROW_SHIM("__libc_single_threaded", "GLIBC_2.32", "always 0: a caller that believes it is alone skips its locks"),
    ROW_SHIM("close_range", "GLIBC_2.34", NEW),
    ROW_SHIM("closefrom", "GLIBC_2.34", NEW),
    ROW_SHIM("execveat", "GLIBC_2.34", NEW),
    ROW_SHIM("timespec_getres", "GLIBC_2.34", NEW),
    ROW_SHIM("arc4random", "GLIBC_2.36", NEW),
    ROW_SHIM("arc4random_buf", "GLIBC_2.36", NEW),
    ROW_SHIM("arc4random_uniform", "GLIBC_2.36", NEW),
    ROW_SHIM("memset_explicit", "GLIBC_2.43", NEW),
};
const size_t compat_nrules = sizeof compat_rules / sizeof compat_rules[0];

/* The GLIBC_ versions of x86_64, oldest first, to name what the host has. */
static const char *const glibc_versions[] = {
    "GLIBC_2.2.5", "GLIBC_2.2.6", "GLIBC_2.3", "GLIBC_2.3.2", "GLIBC_2.3.3", "GLIBC_2.3.4",
    "GLIBC_2.4", "GLIBC_2.5", "GLIBC_2.6", "GLIBC_2.7", "GLIBC_2.8", "GLIBC_2.9", "GLIBC_2.10",
    "GLIBC_2.11", "GLIBC_2.12", "GLIBC_2.13", "GLIBC_2.14", "GLIBC_2.15", "GLIBC_2.16",
    "GLIBC_2.17", "GLIBC_2.18", "GLIBC_2.22", "GLIBC_2.23", "GLIBC_2.24", "GLIBC_2.25",
    "GLIBC_2.26", "GLIBC_2.27", "GLIBC_2.28", "GLIBC_2.29", "GLIBC_2.30", "GLIBC_2.31",
    "GLIBC_2.32", "GLIBC_2.33", "GLIBC_2.34", "GLIBC_2.35", "GLIBC_2.36", "GLIBC_2.37",
    "GLIBC_2.38", "GLIBC_2.39", "GLIBC_2.40", "GLIBC_2.41", "GLIBC_2.42", "GLIBC_2.43",
};
#define NGLIBC (sizeof glibc_versions / sizeof glibc_versions[0])

/* Versions of one family ("GLIBC_2.3.4"), compared by number: <0, 0, >0. */
static int version_cmp(const char *a, const char *b)
{
    const char *pa = strchr(a, '_'), *pb = strchr(b, '_');
    if (!pa || !pb)
        return strcmp(a, b);
    for (pa++, pb++; *pa || *pb;) {
        char *ea, *eb;
        unsigned long x = strtoul(pa, &ea, 10), y = strtoul(pb, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (ea == pa && eb == pb)
            return strcmp(pa, pb);
        pa = ea + (*ea == '.');
        pb = eb + (*eb == '.');
    }
    return 0;
}

static const struct compat_rule *rule_for(const char *name, const char *version)
{
    for (size_t i = 0; i < compat_nrules; i++)
        if (strcmp(compat_rules[i].since, version) == 0 && fnmatch(compat_rules[i].name, name, 0) == 0)
            return &compat_rules[i];
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The libraries glibc split out before 2.34, loaded through the system
 * loader the first time a row needs one, and kept. Called with ldr's
 * module lock held. */
static void *glibc_library(const char *soname)
{
    static struct {
        const char *soname;
        void *handle;
    } libs[8];
    size_t i;
    for (i = 0; i < sizeof libs / sizeof libs[0] && libs[i].soname; i++)
        if (strcmp(libs[i].soname, soname) == 0)
            return libs[i].handle;
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        dlerror(); /* the row then takes libc's definition: nothing for the host's dlerror() */
    if (h && i < sizeof libs / sizeof libs[0])
        libs[i].soname = soname, libs[i].handle = h;
    return h;
}

/* Which GLIBC_ version of NAME, at most MAX, is the definition at ADDR in
 * FILE: its own library's versions, tried newest first. NULL if none is
 * (an unversioned definition: an interposer). */
static const char *version_at(const char *file, const char *name, void *addr, const char *max)
{
    void *h = dlopen(file, RTLD_LAZY | RTLD_NOLOAD);
    const char *found = NULL;
    for (size_t i = NGLIBC; h && !found && i-- > 0;)
        if (version_cmp(glibc_versions[i], max) <= 0 && system_lookup(h, name, glibc_versions[i]) == addr)
            found = glibc_versions[i];
    if (h)
        dlclose(h);
    return found;
}

/* The host's default definition of NAME. The first global one wins, as
 * with the system loader (an LD_PRELOAD interposer included), except that
 * a row naming a library prefers it to libc: before 2.34, libc's pthread
 * functions are forwarders that do nothing until libpthread is initialized. */
static void *host_default(const struct compat_rule *r, const char *name, Dl_info *info)
{
    void *addr = system_lookup(RTLD_DEFAULT, name, NULL);
    if (r->target && (!addr || (dladdr(addr, info) && strncmp(base_name(info->dli_fname), "libc.so", 7) == 0))) {
        void *h = glibc_library(r->target);
        void *own = h ? system_lookup(h, name, NULL) : NULL;
        if (own)
            addr = own;
    }
    if (addr && !dladdr(addr, info))
        return NULL;
    return addr;
}

static bool older(const struct compat_rule *r, const struct symref *ref, struct binding *out,
                  const char **target, const char **target_version)
{
    Dl_info info;
    void *addr = host_default(r, ref->name, &info);
    if (!addr) {
        out->where = "the host has no version of it at all";
        return false;
    }
    const char *v = version_at(info.dli_fname, ref->name, addr, ref->version);
    if (!v && is_system_library(info.dli_fname)) {
        out->where = "the host's only versions of it are newer";
        return false;
    }
    if (v && r->version && version_cmp(v, r->version) < 0) {
        out->where = "the host's default version of it is older than the oldest safe one";
        return false;
    }
    *out = (struct binding){.value = (uintptr_t)addr, .where = base_name(info.dli_fname)};
    *target = ref->name;
    *target_version = v ? v : "(unversioned: an interposer)";
    return true;
}

static bool rename_to(const struct compat_rule *r, struct binding *out)
{
    void *addr = system_lookup(RTLD_DEFAULT, r->target, r->version);
    Dl_info info;
    if (!addr || !dladdr(addr, &info)) {
        out->where = "the host lacks the equivalent function too";
        return false;
    }
    *out = (struct binding){.value = (uintptr_t)addr, .where = base_name(info.dli_fname)};
    return true;
}

/* Why nothing binds, for a reference no row covers. */
static const char *uncovered(const char *version)
{
    if (strncmp(version, "GLIBC_", 6) == 0)
        return "the host's glibc predates this version and ldr knows no safe substitute";
    if (strncmp(version, "GLIBCXX_", 8) == 0 || strncmp(version, "CXXABI_", 7) == 0)
        return "the host's libstdc++ predates this version and ldr knows no safe substitute";
    if (strncmp(version, "GCC_", 4) == 0)
        return "the host's libgcc_s predates this version and ldr knows no safe substitute";
    return NULL;
}

static bool shim(const char *name, struct binding *out)
{
    void *addr = find_shim(name);
    if (addr)
        *out = (struct binding){.value = (uintptr_t)addr, .where = "ldr shim"};
    return addr != NULL;
}

bool compat_find(const struct module *from, const struct symref *ref, struct binding *out)
{
    *out = (struct binding){0};
    if (!ref->version)
        return false;
    const struct compat_rule *r = rule_for(ref->name, ref->version);
    if (!r) {
        out->where = uncovered(ref->version);
        return false;
    }
    const char *target = r->target, *target_version = r->version, *why = r->why;
    bool ok;
    switch (r->kind) {
    case COMPAT_OLDER:
        ok = older(r, ref, out, &target, &target_version);
        /* What no safe older version serves, ldr's own code may. */
        if (!ok && shim(ref->name, out)) {
            target = target_version = NULL;
            why = "the host has no safe version of it";
            ok = true;
        }
        break;
    case COMPAT_RENAME:
        ok = rename_to(r, out);
        break;
    case COMPAT_SHIM:
        ok = shim(ref->name, out);
        if (!ok)
            out->where = "this build of ldr has no implementation of it";
        break;
    default:
        out->where = r->why;
        ok = false;
        break;
    }
    if (ok)
        report_substitution(from, ref, out->where, target, target_version, why);
    if (ok)
        trace(T_VERSIONS, "%s: %s@%s -> %s%s%s%s%s (%s)", from->path, ref->name, ref->version, out->where,
              target ? " " : "", target ? target : "", target_version ? "@" : "",
              target_version ? target_version : "", why);
    else
        trace(T_VERSIONS, "%s: %s@%s: no fallback: %s", from->path, ref->name, ref->version, out->where);
    return ok;
}
