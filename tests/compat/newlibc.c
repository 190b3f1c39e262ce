/* A plugin built against a newer glibc than this machine's (through
 * stub.c): strlcpy@GLIBC_2.38, __isoc23_strtol@GLIBC_2.38,
 * __isoc23_sscanf@GLIBC_2.38 and a weak reference to a GLIBC_2.99 function.
 * newlibc_check() returns 0 when each behaves as glibc 2.38 specifies. */
#include <stddef.h>
#include <string.h>

size_t strlcpy(char *d, const char *s, size_t n);
long __isoc23_strtol(const char *s, char **e, int b);
int __isoc23_sscanf(const char *s, const char *f, ...);
int ldr_test_missing_weak(void) __attribute__((weak));
#ifdef STRONG_MISSING
int ldr_test_missing(void);
int use_missing(void) { return ldr_test_missing(); }
#endif

int newlibc_check(void)
{
    char buf[4];
    if (strlcpy(buf, "abcdef", sizeof buf) != 6 || strcmp(buf, "abc") != 0)
        return 1;
    char *end;
    if (__isoc23_strtol("0b101x", &end, 0) != 5 || *end != 'x')
        return 2;
    if (__isoc23_strtol(" -0B11", NULL, 2) != -3 || __isoc23_strtol("0x1f", NULL, 0) != 31)
        return 3;
    int a = 0;
    char word[8];
    if (__isoc23_sscanf("42 ok", "%d %7s", &a, word) != 2 || a != 42 || strcmp(word, "ok") != 0)
        return 4;
    if (ldr_test_missing_weak)
        return 5;
    return 0;
}
