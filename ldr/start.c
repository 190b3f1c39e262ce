/* ldrun's program entry on any glibc since 2.17. The startup code of
 * glibc 2.34 and later (Scrt1.o) calls __libc_start_main@GLIBC_2.34 and
 * leaves the executable's constructors to it; linked with
 * --wrap=__libc_start_main, ldrun calls the 2.2.5 version, which every
 * glibc has, with the initializer older startup code passed: _init, then
 * the init array (the system loader runs the preinit array, and the
 * finalizers at exit). */
typedef int (*main_fn)(int, char **, char **);
typedef void (*init_fn)(int, char **, char **);

int start_main_2_2_5(main_fn main, int argc, char **argv, void (*init)(int, char **, char **),
                     void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
__asm__(".symver start_main_2_2_5,__libc_start_main@GLIBC_2.2.5");

extern void _init(void);
extern const init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern const init_fn __init_array_end[] __attribute__((visibility("hidden")));

static void init(int argc, char **argv, char **envp)
{
    _init();
    for (const init_fn *f = __init_array_start; f < __init_array_end; f++)
        (*f)(argc, argv, envp);
}

int __wrap___libc_start_main(main_fn main, int argc, char **argv, void (*ignored_init)(void),
                             void (*ignored_fini)(void), void (*rtld_fini)(void), void *stack_end);
int __wrap___libc_start_main(main_fn main, int argc, char **argv, void (*ignored_init)(void),
                             void (*ignored_fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    (void)ignored_init;
    (void)ignored_fini;
    return start_main_2_2_5(main, argc, argv, init, 0, rtld_fini, stack_end);
}
