/* Symbol lookup, in one process: ldr_sym against dlsym for every exported
 * function of one library, names read from its .dynsym.
 *     bench-sym PATH [ROUNDS]
 * A round looks every name up once; the row shows the median over rounds
 * of the time per lookup. Rounds of ldr and dlsym alternate. Without
 * ROUNDS, as many rounds (odd, MIN_ROUNDS to MAX_ROUNDS) as fit in about
 * BUDGET_NS, judged by the first, checking pass: libLLVM's 36000-odd
 * names take some 10 ms a round where sqlite's take well under one. */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "ldr.h"

#define MIN_ROUNDS 11
#define MAX_ROUNDS 101
#define BUDGET_NS 1.5e9

static char **names;
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
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t count = sh.sh_size / sh.sh_entsize;
        if (!(names = realloc(names, (nnames + count) * sizeof *names))) {
            perror("realloc");
            exit(1);
        }
        for (size_t i = 1; d && i < count; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
                GELF_ST_TYPE(sym.st_info) != STT_FUNC || GELF_ST_BIND(sym.st_info) == STB_LOCAL ||
                GELF_ST_VISIBILITY(sym.st_other) != STV_DEFAULT)
                continue;
            if (!(names[nnames++] = strdup(elf_strptr(e, sh.sh_link, sym.st_name)))) {
                perror("strdup");
                exit(1);
            }
        }
    }
    if (!e || nnames == 0) {
        fprintf(stderr, "%s: no exported functions found (%s)\n", path, elf_errmsg(-1));
        exit(1);
    }
    elf_end(e);
    close(fd);
}

static void *volatile sink;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-sym PATH [ROUNDS]\n");
        return 64;
    }
    const char *path = argv[1];
    int rounds = argc > 2 ? atoi(argv[2]) : 0;
    const char *base = bench_base_name(path);
    if (access(path, R_OK) < 0) {
        printf("\nLookup: %s not present\n", base);
        return 0;
    }
    read_names(path);

    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        printf("\n%s: dlopen refused: %s\n", base, dlerror());
        return 0;
    }
    ldr_module *m = ldr_open(path, 0);
    if (!m) {
        printf("\n%s: ldr_open refused: %s\n", base, ldr_error());
        return 0;
    }

    /* Both loaders must find every name, at the same offset in the file.
     * This pass, with cold caches, also sizes the rounds. */
    struct ldr_info info;
    struct link_map *lm;
    if (ldr_info(m, &info) < 0 || dlinfo(dl, RTLD_DI_LINKMAP, &lm) < 0) {
        printf("\n%s: cannot find the load biases\n", base);
        return 1;
    }
    int missing = 0, differ = 0;
    double start = bench_now_ns();
    for (int i = 0; i < nnames; i++) {
        void *a = ldr_sym(m, names[i]), *b = dlsym(dl, names[i]);
        if (!a || !b)
            missing++;
        else if ((uintptr_t)a - info.base != (uintptr_t)b - lm->l_addr)
            differ++;
    }
    double pass = bench_now_ns() - start;
    if (rounds < 1) {
        rounds = pass > 0 ? (int)(BUDGET_NS / pass) : MAX_ROUNDS;
        rounds = rounds < MIN_ROUNDS ? MIN_ROUNDS : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
        rounds |= 1;
    }

    printf("\nLookup, in-process: ldr_sym against dlsym (RTLD_NOW|RTLD_LOCAL handle) of the\n"
           "%d exported functions of %s, %d rounds each, alternating;\n"
           "nanoseconds per lookup, median (min-max) over rounds.\n\n", nnames, base, rounds);
    printf("%-22s %-21s %-21s %6s\n", "lookup", "ldr_sym", "dlsym", "ratio");
    char label[64];
    snprintf(label, sizeof label, "%d names", nnames);
    printf("%-22s ", label);

    double *t_ldr = malloc(rounds * sizeof *t_ldr), *t_dl = malloc(rounds * sizeof *t_dl);
    if (!t_ldr || !t_dl)
        return 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now_ns();
        for (int i = 0; i < nnames; i++)
            sink = ldr_sym(m, names[i]);
        double t1 = bench_now_ns();
        for (int i = 0; i < nnames; i++)
            sink = dlsym(dl, names[i]);
        double t2 = bench_now_ns();
        t_ldr[r] = (t1 - t0) / nnames;
        t_dl[r] = (t2 - t1) / nnames;
    }
    double med_ldr, med_dl;
    bench_pair(t_ldr, t_dl, rounds, 0, &med_ldr, &med_dl);
    if (missing)
        printf("  %d names not found by one of them", missing);
    if (differ)
        printf("  %d names at different offsets", differ);
    printf("\n");
    /* A lookup that finds nothing, or elsewhere, is no measure of one that
     * works: such a row is shown but not recorded for the summary. */
    if (!missing && !differ)
        bench_record("sym %s %.3f %.3f %d", base, med_ldr, med_dl, nnames);
    ldr_close(m);
    dlclose(dl);
    return 0;
}
