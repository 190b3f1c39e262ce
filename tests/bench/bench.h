/* What the benchmark programs share: a monotonic clock, medians, and the
 * results file. Each program prints its own table; with $BENCH_RESULTS
 * set, it also appends its medians there, one "KIND NAME VALUE..." line
 * per row, for bench-summary (tests/bench/summary.c) to judge against the
 * targets. */
#ifndef BENCH_H
#define BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static inline int bench_by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts V (so that V[0] and V[N-1] are then the extremes); its median. */
static inline double bench_median(double *v, int n)
{
    qsort(v, n, sizeof *v, bench_by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline const char *bench_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Appends one line to $BENCH_RESULTS; nothing when it is not set, so each
 * program also runs on its own. */
__attribute__((format(printf, 1, 2))) static inline void bench_record(const char *fmt, ...)
{
    const char *path = getenv("BENCH_RESULTS");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f) {
        perror(path);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

#endif
