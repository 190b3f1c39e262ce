/* The host process's definitions: whatever the system loader has loaded
 * globally (RTLD_DEFAULT), or one library it owns (a handle). The system
 * loader's own lookup gives exactly what dlsym would, IFUNCs resolved. */
#include <dlfcn.h>

#include "ldr_internal.h"

void *host_find(void *handle, const struct symref *ref)
{
    if (ref->version)
        return dlvsym(handle, ref->name, ref->version);
    return dlsym(handle, ref->name);
}

/* For traces: which host file defines ADDR, under which name. */
void host_describe(const void *addr, const char **file, const char **sym)
{
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        *file = info.dli_fname[0] ? info.dli_fname : "the host executable";
        *sym = info.dli_sname;
    } else {
        *file = "the host";
        *sym = NULL;
    }
}
