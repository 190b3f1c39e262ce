/* A host that loads a test plugin and checks its results against its own
 * computation: through ldr (the default), or with dlopen (-DUSE_DLOPEN, an
 * unmodified host, for the system loader or libldr-preload.so).
 *   host c|rust PLUGIN DATAFILE
 * Prints one line per check; exit 0 when all pass, 1 when one fails, 2 when
 * the plugin cannot be loaded. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#ifdef USE_DLOPEN
#include <dlfcn.h>
#define OPEN(p) dlopen(p, RTLD_NOW)
#define SYM(h, s) dlsym(h, s)
#define ERROR() dlerror()
#else
#include <ldr.h>
#define OPEN(p) ldr_open(p, 0)
#define SYM(h, s) ldr_sym(h, s)
#define ERROR() ldr_error()
#endif

static int failures;

static void check(const char *what, int ok)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

#define FN(h, type, name) ((type)SYM(h, name))

static void check_c(void *h, const char *file, long long size)
{
    check("strtol(\"0b101\", 0) = 5 (C23)", FN(h, long (*)(const char *), "plugin_strtol")("0b101") == 5);
    check("strtol(\"0x1F\", 0) = 31", FN(h, long (*)(const char *), "plugin_strtol")("0x1F") == 31);
    int a = 0;
    unsigned b = 0;
    check("sscanf(\"-12 ff\", \"%d %x\") = 2: -12, 255",
          FN(h, int (*)(const char *, int *, unsigned *), "plugin_sscanf")("-12 ff", &a, &b) == 2 && a == -12 &&
              b == 255);
    char buf[6];
    size_t n = FN(h, size_t (*)(char *, const char *, size_t), "plugin_strlcpy")(buf, "truncated", sizeof buf);
    check("strlcpy truncates to \"trunc\" and returns 9", n == 9 && strcmp(buf, "trunc") == 0);
    check("stat size of the data file", FN(h, long long (*)(const char *), "plugin_stat_size")(file) == size);
    volatile double vx = 2.75; /* computed at run time, by the host's libm */
    double x = vx;
    double own = pow(x, 1.5) + exp(x) + log(x) + log2(x) + fmod(x * 7, 3) + hypot(x, 2);
    check("libm: pow+exp+log+log2+fmod+hypot as the host computes it",
          FN(h, double (*)(double), "plugin_math")(x) == own);
    check("pthread key: one value per thread, 8 threads sum to 36",
          FN(h, long (*)(int), "plugin_threads")(8) == 36);
}

static void check_rust(void *h, const char *file, long long size)
{
    check("thread_local per thread, 8 threads sum to 36", FN(h, long long (*)(int), "rust_threads")(8) == 36);
    check("std::fs::metadata size of the data file", FN(h, long long (*)(const char *), "rust_file_len")(file) == size);
    volatile double vx = 3.25;
    double x = vx;
    check("f64 powf+exp+ln+hypot as the host computes it",
          FN(h, double (*)(double), "rust_math")(x) == pow(x, 1.5) + exp(x) + log(x) + hypot(x, 2));
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    void *h = OPEN(argv[2]);
    if (!h) {
        printf("cannot load %s: %s\n", argv[2], ERROR());
        return 2;
    }
    struct stat st;
    long long size = stat(argv[3], &st) == 0 ? (long long)st.st_size : -2;
    if (strcmp(argv[1], "c") == 0)
        check_c(h, argv[3], size);
    else
        check_rust(h, argv[3], size);
    return failures ? 1 : 0;
}
