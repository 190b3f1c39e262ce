/* The well-formed object every malformed case is derived from. It has
 * what the corruptions need to aim at: an import bound through the PLT
 * (getenv, strlen), RELATIVE relocations (greet_ptr, the init array), an
 * initializer, .bss, and a PT_GNU_STACK header. Built with -DMAL_PIE it
 * is a position-independent executable (PT_INTERP) instead. */
#include <stdlib.h>
#include <string.h>

static const char *greeting = "hello";
const char **greet_ptr = &greeting;
int counter;

__attribute__((constructor)) static void init(void)
{
    counter = 1;
}

int mal_answer(void)
{
    return 41 + counter;
}

size_t mal_len(const char *s)
{
    return strlen(s) + (getenv("MAL_NO_SUCH_VARIABLE") != NULL);
}

#ifdef MAL_PIE
int main(void)
{
    return mal_answer() == 42 && mal_len(*greet_ptr) == 5 ? 0 : 1;
}
#endif
