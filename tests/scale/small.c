/* One of many small modules: its own data, a relocated pointer to it, and
 * an import from the C runtime. */
#include <string.h>

static int counter;
int *const small_counter = &counter;

int small_bump(const char *s)
{
    return counter += (int)strlen(s);
}
