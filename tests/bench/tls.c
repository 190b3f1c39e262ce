/* make bench: a thread_local access in a module loaded by ldr against the
 * same module loaded by dlopen, in one process, rounds alternating;
 * nanoseconds per access, median over rounds. */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ldr.h"

#define ROUNDS 21
#define ACCESSES 2000000UL

typedef unsigned long bump_fn(unsigned long);

static double per_access(bump_fn *bump)
{
    double t0 = bench_now_ns();
    bump(ACCESSES);
    return (bench_now_ns() - t0) / ACCESSES;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-tls PLUGIN...\n");
        return 2;
    }
    printf("\nthread_local access, in-process: the same plugin under ldr and under dlopen,\n"
           "%d rounds of %lu accesses each, alternating; nanoseconds per access,\n"
           "median (min-max) over rounds.\n\n", ROUNDS, ACCESSES);
    printf("%-22s %-21s %-21s %6s\n", "plugin", "ldr", "dlopen", "ratio");
    for (int i = 1; i < argc; i++) {
        const char *path = argv[i];
        printf("%-22s ", bench_base_name(path));
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        ldr_module *m = ldr_open(path, 0);
        bump_fn *dl_bump = h ? (bump_fn *)dlsym(h, "tls_bump") : NULL;
        bump_fn *ldr_bump = m ? (bump_fn *)ldr_sym(m, "tls_bump") : NULL;
        if (!dl_bump || !ldr_bump) {
            printf("refused: %s\n", !dl_bump ? dlerror() : ldr_error());
            continue;
        }
        double t_ldr[ROUNDS], t_dl[ROUNDS];
        per_access(ldr_bump); /* first accesses make the blocks */
        per_access(dl_bump);
        for (int r = 0; r < ROUNDS; r++) {
            t_ldr[r] = per_access(ldr_bump);
            t_dl[r] = per_access(dl_bump);
        }
        double med_ldr, med_dl;
        bench_pair(t_ldr, t_dl, ROUNDS, 2, &med_ldr, &med_dl);
        printf("\n");
        bench_record("tls %s %.4f %.4f", bench_base_name(path), med_ldr, med_dl);
        ldr_close(m);
        dlclose(h);
    }
    return 0;
}
