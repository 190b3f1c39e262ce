/* Exports nothing, so its GNU hash table hashes no symbol and, as the
 * linker writes it, claims one symbol where the table has several: the
 * count must come from the relocations. */
extern int unhashed_hook(void) __attribute__((weak));

__attribute__((visibility("hidden"))) int unhashed_probe(void)
{
    return unhashed_hook ? unhashed_hook() : 7;
}
