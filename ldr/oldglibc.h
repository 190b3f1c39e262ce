/* ldr built on a new glibc still runs on glibc 2.17: this header, included
 * first in every file of libldr, ldrun and libldr-preload (-include),
 * binds the functions glibc 2.32 to 2.34 moved into libc to the versions
 * they had before, which every later glibc keeps. libldr also names
 * libdl and libpthread as dependencies, where those versions lived.
 * tests/glibc217.sh checks that nothing newer than GLIBC_2.17 is asked. */
#if !defined LDR_OLDGLIBC_H && !defined __ASSEMBLER__
#define LDR_OLDGLIBC_H

#define LDR_OLD(fn, ver) __asm__(".symver " #fn "," #fn "@" #ver);

/* libldr-preload defines these itself, and finds the system's at run time. */
#ifndef LDR_PRELOAD
LDR_OLD(dlopen, GLIBC_2.2.5)
LDR_OLD(dlsym, GLIBC_2.2.5)
LDR_OLD(dlvsym, GLIBC_2.2.5)
LDR_OLD(dlclose, GLIBC_2.2.5)
LDR_OLD(dlerror, GLIBC_2.2.5)
LDR_OLD(dladdr, GLIBC_2.2.5)
#endif
LDR_OLD(dladdr1, GLIBC_2.3.3)
LDR_OLD(dlinfo, GLIBC_2.3.3)
LDR_OLD(pthread_create, GLIBC_2.2.5)
LDR_OLD(pthread_join, GLIBC_2.2.5)
LDR_OLD(pthread_detach, GLIBC_2.2.5)
LDR_OLD(pthread_kill, GLIBC_2.2.5)
LDR_OLD(pthread_once, GLIBC_2.2.5)
LDR_OLD(pthread_key_create, GLIBC_2.2.5)
LDR_OLD(pthread_key_delete, GLIBC_2.2.5)
LDR_OLD(pthread_getspecific, GLIBC_2.2.5)
LDR_OLD(pthread_setspecific, GLIBC_2.2.5)
LDR_OLD(pthread_mutex_trylock, GLIBC_2.2.5)
LDR_OLD(pthread_mutex_timedlock, GLIBC_2.2.5)
LDR_OLD(pthread_mutexattr_init, GLIBC_2.2.5)
LDR_OLD(pthread_mutexattr_destroy, GLIBC_2.2.5)
LDR_OLD(pthread_mutexattr_settype, GLIBC_2.2.5)
LDR_OLD(pthread_rwlock_init, GLIBC_2.2.5)
LDR_OLD(pthread_rwlock_destroy, GLIBC_2.2.5)
LDR_OLD(pthread_rwlock_rdlock, GLIBC_2.2.5)
LDR_OLD(pthread_rwlock_wrlock, GLIBC_2.2.5)
LDR_OLD(pthread_rwlock_unlock, GLIBC_2.2.5)
LDR_OLD(pthread_getattr_np, GLIBC_2.2.5)
LDR_OLD(pthread_attr_getstack, GLIBC_2.2.5)
LDR_OLD(pthread_sigmask, GLIBC_2.2.5)

#undef LDR_OLD

/* What headers older than glibc 2.36 (bullseye's 2.31) lack; the same
 * definitions as <elf.h>'s, so either may come first. */
#define DT_RELRSZ 35
#define DT_RELR 36
#define DT_RELRENT 37
#endif
