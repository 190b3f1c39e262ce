/* The C plugin, built on Debian trixie (glibc 2.41) with _GNU_SOURCE: its
 * strtol and sscanf are the C23 ones (__isoc23_*@GLIBC_2.38), it uses
 * strlcpy@GLIBC_2.38, stat@GLIBC_2.33, pthread keys and libm. host.c
 * checks each result against its own computation. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

long plugin_strtol(const char *s)
{
    return strtol(s, NULL, 0);
}

int plugin_sscanf(const char *s, int *a, unsigned *b)
{
    return sscanf(s, "%d %x", a, b);
}

size_t plugin_strlcpy(char *dst, const char *src, size_t size)
{
    return strlcpy(dst, src, size);
}

long long plugin_stat_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

double plugin_math(double x)
{
    return pow(x, 1.5) + exp(x) + log(x) + log2(x) + fmod(x * 7, 3) + hypot(x, 2);
}

static pthread_key_t key;

static void *keyed(void *arg)
{
    pthread_setspecific(key, arg);
    return pthread_getspecific(key);
}

/* Each thread sees its own value under one key: the sum of 1..n. */
long plugin_threads(int n)
{
    pthread_t t[16];
    long sum = 0;
    if (n > 16 || pthread_key_create(&key, NULL) != 0)
        return -1;
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, keyed, (void *)(i + 1)) != 0)
            return -1;
    for (int i = 0; i < n; i++) {
        void *v;
        pthread_join(t[i], &v);
        sum += (long)v;
    }
    pthread_key_delete(key);
    return sum;
}
