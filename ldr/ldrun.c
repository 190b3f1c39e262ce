/* ldrun: load a shared object with ldr and call one of its functions from
 * the shell. No loader logic lives here. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr.h"

#define EXIT_CANNOT_LOAD 127
#define EXIT_NO_SYMBOL 126

/* --check: what ldr_check reports, as text or as JSON lines. */
struct check {
    bool json;
    unsigned unresolved, fallbacks, shims;
};

static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_field(const char *name, const char *value)
{
    printf(",\"%s\":", name);
    json_str(value);
}

static const char *const event_names[] = {"unresolved", "fallback", "shim"};

static void check_event(const struct ldr_check_event *ev, void *arg)
{
    struct check *c = arg;
    c->unresolved += ev->kind == LDR_CHECK_UNRESOLVED;
    c->fallbacks += ev->kind == LDR_CHECK_FALLBACK;
    c->shims += ev->kind == LDR_CHECK_SHIM;
    if (c->json) {
        printf("{\"event\":\"%s\"", event_names[ev->kind]);
        json_field("module", ev->module);
        json_field("symbol", ev->symbol);
        json_field("version", ev->version);
        if (ev->kind == LDR_CHECK_UNRESOLVED) {
            json_field("why", ev->why);
            fputs(",\"host_offers\":[", stdout);
            for (size_t i = 0; i < ev->noffers; i++) {
                fputs(i ? ",{\"library\":" : "{\"library\":", stdout);
                json_str(ev->offers[i].library);
                json_field("version", ev->offers[i].version);
                putchar('}');
            }
            putchar(']');
        } else {
            json_field("target", ev->target);
            json_field("target_symbol", ev->target_symbol);
            json_field("target_version", ev->target_version);
            json_field("why", ev->why);
        }
        puts("}");
        return;
    }
    printf("%s: %s: %s%s%s", event_names[ev->kind], ev->module, ev->symbol, ev->version ? "@" : "",
           ev->version ? ev->version : "");
    if (ev->kind == LDR_CHECK_UNRESOLVED) {
        if (ev->why)
            printf(" (%s)", ev->why);
        fputs(ev->noffers ? "; offered: " : "; nothing defines it", stdout);
        for (size_t i = 0; i < ev->noffers; i++)
            printf("%s%s %s%s%s", i ? ", " : "", ev->offers[i].library, ev->symbol,
                   ev->offers[i].version ? "@" : " (unversioned)", ev->offers[i].version ? ev->offers[i].version : "");
    } else {
        if (ev->kind == LDR_CHECK_SHIM)
            fputs(" -> ldr shim", stdout);
        else
            printf(" -> %s %s%s%s", ev->target, ev->target_symbol, ev->target_version ? "@" : "",
                   ev->target_version ? ev->target_version : "");
        if (ev->why)
            printf(" (%s)", ev->why);
    }
    putchar('\n');
}

static int check(const char *lib, int flags, bool json)
{
    struct check c = {.json = json};
    int r = ldr_check(lib, flags, check_event, &c);
    const char *error = r < 0 ? ldr_error() : NULL;
    if (json) {
        printf("{\"event\":\"result\"");
        json_field("library", lib);
        printf(",\"ok\":%s,\"unresolved\":%u,\"fallbacks\":%u,\"shims\":%u", r == 0 ? "true" : "false",
               c.unresolved, c.fallbacks, c.shims);
        json_field("error", error);
        puts("}");
    } else if (r == 0) {
        printf("ok: %s loads (%u fallbacks, %u shims)\n", lib, c.fallbacks, c.shims);
    } else {
        printf("failed: %s\n", error ? error : lib);
    }
    return r == 0 ? 0 : EXIT_CANNOT_LOAD;
}

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
          "  --check     run nothing: resolve every relocation of LIB and its\n"
          "              dependencies, print every unresolved symbol, fallback and\n"
          "              shim; exit 0 if LIB would load\n"
          "  --json      --check, as JSON lines\n"
          "  --trace[=CATEGORIES]  trace the load (LDR_DEBUG; default: all)\n"
          "  --no-crash-report  no backtrace when code of LIB crashes\n"
          "  --help      show this help\n"
          "  --version   show the version\n\n"
          "Exit status: the function's, 0 after a plain load, 126 if SYMBOL is\n"
          "not exported, 127 if LIB cannot be loaded, 128+N if its code died of\n"
          "signal N.\n\n"
          "Environment: LDR_DEBUG=files,bindings,reloc,init,unload,tls,versions,\n"
          "statistics|all traces the load to stderr, or to the file\n"
          "LDR_DEBUG_OUTPUT names.\n",
          out);
}

int main(int argc, char **argv)
{
    int flags = 0, i = 1;
    bool checking = false, json = false, crash_reports = true;
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
        } else if (strcmp(argv[i], "--check") == 0) {
            checking = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            checking = json = true;
        } else if (strcmp(argv[i], "--trace") == 0 || strncmp(argv[i], "--trace=", 8) == 0) {
            /* Read once, at ldr's first call: set before it. */
            setenv("LDR_DEBUG", argv[i][7] == '=' ? argv[i] + 8 : "all", 1);
        } else if (strcmp(argv[i], "--no-crash-report") == 0) {
            crash_reports = false;
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
    if (checking)
        return check(lib, flags, json);
    if (crash_reports)
        ldr_crash_reports(1);
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
