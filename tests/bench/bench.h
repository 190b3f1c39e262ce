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

/* "median (min-max)" of the N values of V, sorted in place, with DECIMALS
 * decimals, into CELL; the median. */
static inline double bench_cell(char *cell, size_t size, double *v, int n, int decimals)
{
    double med = bench_median(v, n);
    snprintf(cell, size, "%.*f (%.*f-%.*f)", decimals, med, decimals, v[0], decimals, v[n - 1]);
    return med;
}

/* The two cells of a row, ldr's and the system loader's, then their
 * ratio; no newline. The medians in *MED_LDR and *MED_DL. */
static inline void bench_pair(double *ldr, double *dl, int n, int decimals, double *med_ldr, double *med_dl)
{
    char a[64], b[64];
    *med_ldr = bench_cell(a, sizeof a, ldr, n, decimals);
    *med_dl = bench_cell(b, sizeof b, dl, n, decimals);
    printf("%-21s %-21s %6.2f", a, b, *med_ldr / *med_dl);
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
