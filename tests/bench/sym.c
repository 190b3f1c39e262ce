/* Symbol lookup, in one process: ldr_sym against dlsym for every exported
 * function of one library (at most MAX_NAMES), names read from its .dynsym.
 *     bench-sym PATH [ROUNDS]
 * A round looks every name up once; the row shows the median over rounds
 * of the time per lookup. Rounds of ldr and dlsym alternate. */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ldr.h"

#define MAX_NAMES 400
#define DEFAULT_ROUNDS 101

static char *names[MAX_NAMES];
static int nnames;

static void read_names(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE) {
        perror(path);
        exit(1);
    }
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    Elf_Scn *scn = NULL;
    while (e && (scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        for (size_t i = 1; d && i < sh.sh_size / sh.sh_entsize && nnames < MAX_NAMES; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
                GELF_ST_TYPE(sym.st_info) != STT_FUNC || GELF_ST_BIND(sym.st_info) == STB_LOCAL ||
                GELF_ST_VISIBILITY(sym.st_other) != STV_DEFAULT)
                continue;
            names[nnames++] = strdup(elf_strptr(e, sh.sh_link, sym.st_name));
        }
    }
    if (!e || nnames == 0) {
        fprintf(stderr, "%s: no exported functions found (%s)\n", path, elf_errmsg(-1));
        exit(1);
    }
    elf_end(e);
    close(fd);
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *volatile sink;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-sym PATH [ROUNDS]\n");
        return 64;
    }
    const char *path = argv[1];
    int rounds = argc > 2 ? atoi(argv[2]) : DEFAULT_ROUNDS;
    if (rounds < 1)
        rounds = DEFAULT_ROUNDS;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    read_names(path);

    printf("\nLookup, in-process: ldr_sym against dlsym (RTLD_NOW|RTLD_LOCAL handle) of the\n"
           "%d exported functions of %s, %d rounds each, alternating;\n"
           "nanoseconds per lookup, median (min-max) over rounds.\n\n", nnames, base, rounds);
    printf("%-22s %-21s %-21s %6s\n", "lookup", "ldr_sym", "dlsym", "ratio");
    char label[64];
    snprintf(label, sizeof label, "%d names", nnames);
    printf("%-22s ", label);

    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        printf("dlopen refused: %s\n", dlerror());
        return 0;
    }
    ldr_module *m = ldr_open(path, 0);
    if (!m) {
        printf("refused: %s\n", ldr_error());
        return 0;
    }

    /* Both loaders must find every name, at the same offset in the file. */
    struct ldr_info info;
    struct link_map *lm;
    if (ldr_info(m, &info) < 0 || dlinfo(dl, RTLD_DI_LINKMAP, &lm) < 0) {
        printf("cannot find the load biases\n");
        return 1;
    }
    int missing = 0, differ = 0;
    for (int i = 0; i < nnames; i++) {
        void *a = ldr_sym(m, names[i]), *b = dlsym(dl, names[i]);
        if (!a || !b)
            missing++;
        else if ((uintptr_t)a - info.base != (uintptr_t)b - lm->l_addr)
            differ++;
    }

    double *t_ldr = malloc(rounds * sizeof *t_ldr), *t_dl = malloc(rounds * sizeof *t_dl);
    if (!t_ldr || !t_dl)
        return 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (int i = 0; i < nnames; i++)
            sink = ldr_sym(m, names[i]);
        double t1 = now_ns();
        for (int i = 0; i < nnames; i++)
            sink = dlsym(dl, names[i]);
        double t2 = now_ns();
        t_ldr[r] = (t1 - t0) / nnames;
        t_dl[r] = (t2 - t1) / nnames;
    }
    qsort(t_ldr, rounds, sizeof *t_ldr, cmp_double);
    qsort(t_dl, rounds, sizeof *t_dl, cmp_double);
    double med_ldr = t_ldr[rounds / 2], med_dl = t_dl[rounds / 2];
    char a[64], b[64];
    snprintf(a, sizeof a, "%.0f (%.0f-%.0f)", med_ldr, t_ldr[0], t_ldr[rounds - 1]);
    snprintf(b, sizeof b, "%.0f (%.0f-%.0f)", med_dl, t_dl[0], t_dl[rounds - 1]);
    printf("%-21s %-21s %6.2f", a, b, med_ldr / med_dl);
    if (missing)
        printf("  %d names not found by one of them", missing);
    if (differ)
        printf("  %d names at different offsets", differ);
    printf("\n");
    ldr_close(m);
    dlclose(dl);
    return 0;
}
