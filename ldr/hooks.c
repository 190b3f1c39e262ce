/* What glibc's loader gives the modules it knows and ldr must give its
 * own: a module's references to these names bind here, before the host.
 * The implementations live with their concern (init.c for exit handlers). */
#include <string.h>

#include "ldr_internal.h"

int ldr_cxa_atexit(void (*fn)(void *), void *arg, void *dso);
void ldr_cxa_finalize(void *dso);

static const struct {
    const char *name;
    void *addr;
} hooks[] = {
    {"__cxa_atexit", (void *)ldr_cxa_atexit},
    {"__cxa_finalize", (void *)ldr_cxa_finalize},
};

void *find_hook(const char *name)
{
    /* Every hooked name starts with "__": most lookups end at once. */
    if (name[0] != '_' || name[1] != '_')
        return NULL;
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
        if (strcmp(hooks[i].name, name) == 0)
            return hooks[i].addr;
    return NULL;
}
