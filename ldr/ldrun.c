/* ldrun: load a shared object with ldr and call one of its functions from
 * the shell. No loader logic lives here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr.h"

#define EXIT_CANNOT_LOAD 127
#define EXIT_NO_SYMBOL 126

static void usage(FILE *out)
{
    fputs("Usage: ldrun [OPTIONS] LIB [SYMBOL [ARG...]]\n"
          "Load the shared object LIB with ldr and, given SYMBOL, call it as\n"
          "int SYMBOL(int argc, char **argv) with argv = {SYMBOL, ARG..., NULL};\n"
          "the exit status is its return value & 0xff. Without SYMBOL, load and\n"
          "close LIB.\n\n"
          "Options:\n"
          "  --noinit    map and relocate only; run no initializers (LDR_NOINIT)\n"
          "  --strict    exact symbol versions only (LDR_STRICT)\n"
          "  --help      show this help\n"
          "  --version   show the version\n\n"
          "Exit status: the function's, 0 after a plain load, 126 if SYMBOL is\n"
          "not exported, 127 if LIB cannot be loaded.\n\n"
          "Environment: LDR_DEBUG=files,bindings,reloc,init,unload|all traces\n"
          "the load to stderr, or to the file LDR_DEBUG_OUTPUT names.\n",
          out);
}

int main(int argc, char **argv)
{
    int flags = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("ldrun (ldr) %s\n", PACKAGE_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--noinit") == 0) {
            flags |= LDR_NOINIT;
        } else if (strcmp(argv[i], "--strict") == 0) {
            flags |= LDR_STRICT;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "ldrun: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *lib = argv[i++];
    ldr_module *m = ldr_open(lib, flags);
    if (!m) {
        fprintf(stderr, "ldrun: cannot load %s\n", ldr_error());
        return EXIT_CANNOT_LOAD;
    }
    if (i >= argc)
        return ldr_close(m) == 0 ? 0 : EXIT_CANNOT_LOAD;
    const char *name = argv[i];
    /* Taking the symbol's address as an int(int, char **) is the calling
     * convention ldrun promises; a function with no parameters ignores
     * the two registers. */
    int (*fn)(int, char **);
    void *addr = ldr_sym(m, name);
    if (!addr) {
        fprintf(stderr, "ldrun: %s: symbol %s not found: %s\n", lib, name, ldr_error());
        ldr_close(m);
        return EXIT_NO_SYMBOL;
    }
    memcpy(&fn, &addr, sizeof fn);
    int status = fn(argc - i, argv + i);
    fflush(stdout);
    ldr_close(m);
    return status & 0xff;
}
