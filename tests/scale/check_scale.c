/* Scale: a library with very many symbols and relocations, a DT_NEEDED
 * chain, and many modules loaded at once. Each must load, work, unload,
 * and stay within generous bounds of time and memory.
 *
 *   check_scale DIR NMODULES
 *
 * DIR holds libbig.so, chain/libchain0.so and libsmall.so (built by
 * tests/scale/scale.mk). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldr.h>

#define MAX_SECONDS 60.0   /* per part */
#define MAX_GROWTH_KB (1024 * 1024)

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                     \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The peak resident set so far, in kB. */
static long peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

struct part {
    const char *name;
    double start;
    long peak;
};

static struct part begin(const char *name)
{
    return (struct part){name, now(), peak_kb()};
}

static void end(struct part p)
{
    double secs = now() - p.start;
    long growth = peak_kb() - p.peak;
    printf("%s: %.2f s, peak resident set %+ld kB\n", p.name, secs, growth);
    CHECK(secs < MAX_SECONDS, "%s took %.1f s", p.name, secs);
    CHECK(growth < MAX_GROWTH_KB, "%s grew the resident set by %ld kB", p.name, growth);
}

static void big(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/libbig.so", dir);
    struct part p = begin("big library");
    ldr_module *m = ldr_open(path, 0);
    CHECK(m, "ldr_open: %s", ldr_error());
    if (!m)
        return;
    int *const *table = ldr_sym(m, "big_table");
    const unsigned long *count = ldr_sym(m, "big_count"), *nsyms = ldr_sym(m, "big_nsyms");
    CHECK(table && count && nsyms, "big_table, big_count or big_nsyms missing");
    if (!table || !count || !nsyms) {
        ldr_close(m);
        return;
    }
    unsigned long bad = 0;
    for (unsigned long i = 0; i < *count; i++)
        bad += *table[i] != (int)(i % *nsyms);
    CHECK(bad == 0, "%lu of %lu table entries point to the wrong variable", bad, *count);
    /* Every symbol found by name, and where the table says. */
    unsigned long missing = 0;
    for (unsigned long i = 0; i < *nsyms; i++) {
        char name[32];
        snprintf(name, sizeof name, "big_v%lu", i);
        missing += ldr_sym(m, name) != (void *)table[i];
    }
    CHECK(missing == 0, "%lu of %lu symbols not found where the table points", missing, *nsyms);
    printf("big library: %lu symbols, %lu relocations\n", *nsyms, *count);
    CHECK(ldr_close(m) == 0, "ldr_close: %s", ldr_error());
    end(p);
}

static void chain(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/chain/libchain0.so", dir);
    struct part p = begin("dependency chain");
    ldr_module *m = ldr_open(path, 0);
    CHECK(m, "ldr_open: %s", ldr_error());
    if (!m)
        return;
    int (*first)(void) = (int (*)(void))ldr_sym(m, "chain0");
    CHECK(first, "chain0 missing");
    int depth = first ? first() + 1 : 0;
    printf("dependency chain: %d deep\n", depth);
    CHECK(depth >= 50, "chain only %d deep", depth);
    CHECK(ldr_close(m) == 0, "ldr_close: %s", ldr_error());
    Dl_info info;
    CHECK(!first || !ldr_addr((void *)first, &info), "the chain is still mapped after ldr_close");
    end(p);
}

/* N copies of one small library, each a module of its own, open at once. */
static void many(const char *dir, int n)
{
    char tmpl[] = "/tmp/ldr-scale-XXXXXX", src[8192];
    CHECK(mkdtemp(tmpl), "mkdtemp");
    snprintf(src, sizeof src, "%s/libsmall.so", dir);
    FILE *in = fopen(src, "rb");
    CHECK(in, "cannot read %s", src);
    if (!in)
        return;
    static char image[1 << 20];
    size_t len = fread(image, 1, sizeof image, in);
    fclose(in);
    char (*paths)[4096] = calloc(n, sizeof *paths);
    ldr_module **mods = calloc(n, sizeof *mods);
    for (int i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/libsmall%04d.so", tmpl, i);
        FILE *out = fopen(paths[i], "wb");
        CHECK(out && fwrite(image, 1, len, out) == len, "cannot write %s", paths[i]);
        if (out)
            fclose(out);
    }
    struct part p = begin("many modules");
    int loaded = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        mods[i] = ldr_open(paths[i], 0);
        CHECK(mods[i], "ldr_open: %s", ldr_error());
        loaded += mods[i] != NULL;
    }
    /* All open together: each has its own data. */
    for (int i = 0; i < n; i++) {
        if (!mods[i])
            continue;
        int (*bump)(const char *) = (int (*)(const char *))ldr_sym(mods[i], "small_bump");
        int *const *counter = ldr_sym(mods[i], "small_counter");
        wrong += !bump || !counter || bump("abc") != 3 || **counter != 3;
    }
    CHECK(wrong == 0, "%d of %d modules do not keep their own data", wrong, n);
    for (int i = 0; i < n; i++)
        if (mods[i])
            CHECK(ldr_close(mods[i]) == 0, "ldr_close: %s", ldr_error());
    printf("many modules: %d loaded at once\n", loaded);
    end(p);
    for (int i = 0; i < n; i++)
        unlink(paths[i]);
    rmdir(tmpl);
    free(paths);
    free(mods);
}

int main(int argc, char **argv)
{
    const char *build = getenv("LDR_BUILD");
    char dir[4096];
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else if (build)
        snprintf(dir, sizeof dir, "%s/tests/build/scale", build);
    else {
        fprintf(stderr, "usage: check_scale DIR [NMODULES]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    /* Under valgrind everything is some fifty times slower. */
    if (getenv("LDR_UNDER_VALGRIND") && n > 100)
        n = 100;
    setvbuf(stdout, NULL, _IOLBF, 0);
    big(dir);
    chain(dir);
    many(dir, n);
    return failures ? 1 : 0;
}
