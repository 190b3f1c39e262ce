/* Link-time stand-in for a newer libc (soname libc.so.6): it gives the
 * test plugins references to versions this machine's glibc lacks. Never
 * loaded at run time. */
#include <stddef.h>
size_t strlcpy(char *d, const char *s, size_t n) { (void)d; (void)s; return n; }
long __isoc23_strtol(const char *s, char **e, int b) { (void)s; (void)e; return b; }
int __isoc23_sscanf(const char *s, const char *f, ...) { (void)s; (void)f; return 0; }
int ldr_test_missing(void) { return 0; }
int ldr_test_missing_weak(void) { return 0; }
