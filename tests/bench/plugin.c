/* The small plugin of the load benchmark: a few exports, imports from the
 * C library bound through the PLT, some relocated data, an initializer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *names[] = { "alpha", "beta", "gamma", "delta" };
static char buffer[256];
int ready;

__attribute__((constructor)) static void init(void)
{
    ready = getenv("BENCH_PLUGIN_NEVER_SET") == NULL;
}

const char *plugin_name(int i)
{
    return names[i & 3];
}

size_t plugin_format(int i)
{
    snprintf(buffer, sizeof buffer, "%s-%d", plugin_name(i), i);
    return strlen(buffer);
}

void *plugin_copy(const char *s)
{
    return strdup(s);
}
