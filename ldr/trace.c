/* LDR_DEBUG: like glibc's LD_DEBUG, one line per event, easy to grep.
 * LDR_DEBUG=files,bindings,reloc,init,unload,tls,versions,statistics or
 * all; help lists them.
 * Lines go to stderr, or to the file LDR_DEBUG_OUTPUT names. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "ldr_internal.h"

unsigned trace_mask;
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
    const char *name;
    unsigned bit;
    const char *what;
} categories[] = {
    {"files", T_FILES, "what is loaded from where, at which base"},
    {"bindings", T_BINDINGS, "each symbol binding and where it bound"},
    {"reloc", T_RELOC, "each relocation: type, offset, value"},
    {"init", T_INIT, "each initializer and finalizer called"},
    {"unload", T_UNLOAD, "each module unmapped"},
    {"tls", T_TLS, "TLS module ids, static placement"},
    {"versions", T_VERSIONS, "each symbol version the host lacks: what ldr binds instead, and why"},
    {"statistics", T_STATS, "per load: relocations by type, symbols bound, time to map, relocate, bind, init"},
    {"all", T_ALL, "everything above"},
};

static void setup_once(void)
{
    const char *spec = env_value("LDR_DEBUG");
    if (!spec || !*spec)
        return;
    unsigned mask = 0;
    char *copy = strdup(spec), *save = NULL;
    for (char *word = copy ? strtok_r(copy, ",: ", &save) : NULL; word;
         word = strtok_r(NULL, ",: ", &save)) {
        size_t i;
        for (i = 0; i < sizeof categories / sizeof categories[0]; i++)
            if (strcmp(word, categories[i].name) == 0)
                break;
        if (i < sizeof categories / sizeof categories[0]) {
            mask |= categories[i].bit;
            continue;
        }
        fprintf(stderr, "ldr: LDR_DEBUG: %s '%s'; categories:\n",
                strcmp(word, "help") == 0 ? "help" : "unknown category", word);
        for (i = 0; i < sizeof categories / sizeof categories[0]; i++)
            fprintf(stderr, "  %-10s %s\n", categories[i].name, categories[i].what);
    }
    free(copy);
    out = stderr;
    /* A secure (setuid) process must not be made to write files. */
    const char *file = getauxval(AT_SECURE) ? NULL : env_value("LDR_DEBUG_OUTPUT");
    if (mask && file && *file) {
        FILE *f = fopen(file, "ae");
        if (f) {
            setvbuf(f, NULL, _IOLBF, 0);
            out = f;
        } else {
            fprintf(stderr, "ldr: LDR_DEBUG_OUTPUT: cannot open %s; tracing to stderr\n", file);
        }
    }
    trace_mask = mask;
}

void trace_setup(void)
{
    static int once;
    run_once(&once, setup_once);
}

void trace_line(unsigned category, const char *fmt, ...)
{
    const char *name = "";
    for (size_t i = 0; i < sizeof categories / sizeof categories[0]; i++)
        if (categories[i].bit == category) {
            name = categories[i].name;
            break;
        }
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    fprintf(out, "ldr: %s: ", name);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}
