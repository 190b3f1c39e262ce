/* One measured load in a fresh process, run by bench-run:
 *     bench-load ldr|dl PATH
 * prints "OPEN_NS CLOSE_NS", or "refused: REASON" and exits 2.
 * Only the open and the close calls are timed: process start-up and the
 * link of this program cost the same for both loaders and are left out. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ldr.h"

static long long ns_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "ldr") && strcmp(argv[1], "dl"))) {
        fprintf(stderr, "usage: bench-load ldr|dl PATH\n");
        return 64;
    }
    int use_ldr = !strcmp(argv[1], "ldr");
    const char *path = argv[2];
    struct timespec t0, t1, t2;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    void *h = use_ldr ? (void *)ldr_open(path, 0) : dlopen(path, RTLD_NOW | RTLD_LOCAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!h) {
        const char *e = use_ldr ? ldr_error() : dlerror();
        printf("refused: %s\n", e ? e : "(no message)");
        return 2;
    }
    int rc = use_ldr ? ldr_close(h) : dlclose(h);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (rc) {
        const char *e = use_ldr ? ldr_error() : dlerror();
        printf("refused: close failed: %s\n", e ? e : "(no message)");
        return 2;
    }
    printf("%lld %lld\n", ns_between(&t0, &t1), ns_between(&t1, &t2));
    return 0;
}
