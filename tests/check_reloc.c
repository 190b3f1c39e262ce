/* Relocation, symbol lookup and binding tests. Each fixture is also loaded
 * with dlopen() where the system loader can do the same thing, and the
 * two copies must give the same results. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldr.h>

#include "fixtures/host.h"
#include "fixtures/interpose.h"
#include "fixtures/testutil.h"

extern char **environ;

typedef int intfn(void);
typedef int intfn1(int);

static ldr_module *open_fixture(const char *name)
{
    ldr_module *m = ldr_open(fixture(name), 0);
    ck_assert_msg(m != NULL, "ldr_open(%s): %s", name, ldr_error());
    return m;
}

/* The system loader's copy of the same fixture, private to this process. */
static void *dl_open_fixture(const char *name)
{
    void *h = dlopen(fixture(name), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen(%s): %s", name, dlerror());
    return h;
}

static void *dl_sym_ok(void *h, const char *name)
{
    void *p = dlsym(h, name);
    ck_assert_msg(p != NULL, "dlsym(%s): %s", name, dlerror());
    return p;
}

static void close_ok(ldr_module *m)
{
    ck_assert_msg(ldr_close(m) == 0, "ldr_close: %s", ldr_error());
}

/* R_X86_64_64 data words pointing at the module's own function and data
 * and at libc functions, which must be the host's (dlsym RTLD_DEFAULT). */
START_TEST(test_abs64)
{
    ldr_module *m = open_fixture("libreloc.so");
    void *h = dl_open_fixture("libreloc.so");

    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_fn_ptr"), sym_ok(m, "reloc_self_fn"));
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_data_ptr"), sym_ok(m, "reloc_data"));
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_getenv_ptr"), dlsym(RTLD_DEFAULT, "getenv"));
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_qsort_ptr"), dlsym(RTLD_DEFAULT, "qsort"));
    /* libc's data: where the host has it, which for a variable the host
     * uses itself is the host's copy (a copy relocation). */
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_stdout_ptr"), dlsym(RTLD_DEFAULT, "stdout"));
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_stdout_ptr"), (void *)&stdout);
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_environ_ptr"), dlsym(RTLD_DEFAULT, "environ"));
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_environ_ptr"), (void *)&environ);
    /* The system loader's copy agrees on libc. */
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_getenv_ptr"), *(void **)dl_sym_ok(h, "reloc_getenv_ptr"));

    intfn *f = (intfn *)sym_ok(m, "reloc_call_ptrs");
    ck_assert_int_eq(f(), 41 + 7);
    ck_assert_int_eq(f(), ((intfn *)dl_sym_ok(h, "reloc_call_ptrs"))());
    /* Data written through one copy is not seen by the other. */
    *(int *)sym_ok(m, "reloc_data") = 100;
    ck_assert_int_eq(f(), 141);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "reloc_call_ptrs"))(), 48);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* This host interposes on libc's labs(), exported with -rdynamic. */
long labs(long x)
{
    return x < 0 ? -x : x;
}

/* A versioned reference (labs@GLIBC_2.2.5) binds to the host's
 * unversioned definition, which comes first, as the system loader binds
 * it: dlvsym(RTLD_DEFAULT, name, version) would skip the host's. */
START_TEST(test_host_interposes_libc)
{
    ldr_module *m = open_fixture("libreloc.so");
    void *h = dl_open_fixture("libreloc.so");
    void *want = dlsym(RTLD_DEFAULT, "labs");
    ck_assert_ptr_eq(want, (void *)labs);
    ck_assert_ptr_eq(*(void **)dl_sym_ok(h, "reloc_labs_ptr"), want);
    ck_assert_ptr_eq(*(void **)sym_ok(m, "reloc_labs_ptr"), want);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* The GNU hash of NAME, as the ELF gABI extension defines it, for the
 * test's own use. */
static int gnu_hash_is_odd(const char *name)
{
    uint32_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = h * 33 + *p;
    return h & 1;
}

/* The host's own definitions of libinterpose's sixty-four names. */
#define HOST_DEFINE(n) int interpose_##n(void); int interpose_##n(void) { return 2##n; }
INTERPOSE_EACH(HOST_DEFINE)

/* A module's references to what it defines itself bind to the host's
 * definitions of the same names, as the system loader binds them, whether
 * their GNU hashes are odd or even: the hash of such a reference is taken
 * from the module's own table, which keeps it without its lowest bit. */
START_TEST(test_host_interposes_own_definitions)
{
    unsigned odd = 0;
#define COUNT_ODD(n) odd += gnu_hash_is_odd("interpose_" #n);
    INTERPOSE_EACH(COUNT_ODD)
    ck_assert_uint_gt(odd, 0);
    ck_assert_uint_lt(odd, INTERPOSE_COUNT);
    ldr_module *m = open_fixture("libinterpose.so");
    void *h = dl_open_fixture("libinterpose.so");
    void *const *ours = sym_ok(m, "interpose_table");
    void *const *theirs = dl_sym_ok(h, "interpose_table");
    int (*const host[])(void) = {
#define HOST_ADDRESS(n) interpose_##n,
        INTERPOSE_EACH(HOST_ADDRESS)};
    for (int i = 0; i < INTERPOSE_COUNT; i++) {
        ck_assert_ptr_eq(theirs[i], (void *)host[i]);
        ck_assert_msg(ours[i] == (void *)host[i], "entry %d: the module's own definition, not the host's", i);
    }
    close_ok(m);
    dlclose(h);
}
END_TEST

/* R_X86_64_GLOB_DAT: the module's stdout is the host's. */
START_TEST(test_glob_dat)
{
    ldr_module *m = open_fixture("libreloc.so");
    void *(*get)(void) = (void *(*)(void))sym_ok(m, "reloc_stdout");
    ck_assert_ptr_eq(get(), (void *)stdout);
    close_ok(m);
}
END_TEST

/* R_X86_64_JUMP_SLOT: calls to snprintf and strtol through the PLT. */
START_TEST(test_jump_slot)
{
    ldr_module *m = open_fixture("libreloc.so");
    void *h = dl_open_fixture("libreloc.so");
    int got = ((intfn *)sym_ok(m, "reloc_jump_slot"))();
    ck_assert_int_eq(got, 1235);
    ck_assert_int_eq(got, ((intfn *)dl_sym_ok(h, "reloc_jump_slot"))());
    close_ok(m);
    dlclose(h);
}
END_TEST

/* R_X86_64_RELATIVE: tables of pointers to hidden data and functions. */
START_TEST(test_relative)
{
    ldr_module *m = open_fixture("libreloc.so");
    void *h = dl_open_fixture("libreloc.so");
    intfn1 *f = (intfn1 *)sym_ok(m, "reloc_relative");
    intfn1 *g = (intfn1 *)dl_sym_ok(h, "reloc_relative");
    ck_assert_int_eq(f(0), 10 + 3 + 4);
    ck_assert_int_eq(f(2), 30 + 3 + 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(f(i), g(i));
    close_ok(m);
    dlclose(h);
}
END_TEST

/* DT_RELR (-z pack-relative-relocs): every packed pointer lands. */
START_TEST(test_relr)
{
    ldr_module *m = open_fixture("librelr.so");
    void *h = dl_open_fixture("librelr.so");
    long want = 25; /* *lone == cells[5] == 5 * 5 */
    for (long i = 0; i < 40; i++)
        want += i * i;
    long (*f)(void) = (long (*)(void))sym_ok(m, "relr_sum");
    ck_assert_int_eq(f(), want);
    ck_assert_int_eq(f(), ((long (*)(void))dl_sym_ok(h, "relr_sum"))());
    close_ok(m);
    dlclose(h);
}
END_TEST

/* R_X86_64_IRELATIVE for a file-local ifunc: the resolver ran once. */
START_TEST(test_irelative)
{
    ldr_module *m = open_fixture("libifunc_local.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "ifunc_local_picked"))(), 1);
    ck_assert_int_eq(((intfn1 *)sym_ok(m, "ifunc_local_call"))(5), 11);
    intfn1 *(*ptr)(void) = (intfn1 * (*)(void)) sym_ok(m, "ifunc_local_ptr");
    ck_assert_int_eq(ptr()(4), 9);
    ck_assert_int_eq(((intfn *)sym_ok(m, "ifunc_local_picked"))(), 1);
    close_ok(m);
}
END_TEST

/* A call into an exported STT_GNU_IFUNC of a dependency binds to what the
 * resolver returned, for the PLT slot, a data pointer and ldr_sym alike. */
START_TEST(test_ifunc_export)
{
    ldr_module *m = open_fixture("libifunc_user.so");
    void *h = dl_open_fixture("libifunc_user.so");
    ck_assert_int_eq(((intfn1 *)sym_ok(m, "ifunc_user_call"))(7), 50);
    intfn1 *p = *(intfn1 **)sym_ok(m, "ifunc_user_ptr");
    ck_assert_int_eq(p(6), 36);
    /* Through the dependency, breadth-first: also the resolved function. */
    intfn1 *s = (intfn1 *)sym_ok(m, "ifunc_square");
    ck_assert_ptr_eq(s, p);
    ck_assert_int_eq(s(-3), 9);
    ck_assert_int_eq(((intfn1 *)dl_sym_ok(h, "ifunc_user_call"))(7), 50);
    close_ok(m);
    dlclose(h);
}
END_TEST

static void check_hash_lookups(const char *name)
{
    ldr_module *m = open_fixture(name);
    char sym[32];
    for (int i = 10; i < 70; i++) {
        snprintf(sym, sizeof sym, "hash_fn_%d", i);
        intfn *f = (intfn *)ldr_sym(m, sym);
        ck_assert_msg(f != NULL, "%s: %s not found", name, sym);
        ck_assert_int_eq(f(), i);
    }
    ck_assert_int_eq(*(int *)sym_ok(m, "hash_data"), 99);
    /* Names that are not there, some close to ones that are. */
    ck_assert_ptr_null(ldr_sym(m, "hash_fn_70"));
    ck_assert_ptr_null(ldr_sym(m, "hash_fn_1"));
    ck_assert_ptr_null(ldr_sym(m, "hash_fn_100"));
    ck_assert_ptr_null(ldr_sym(m, "hash_fn_"));
    ck_assert_ptr_null(ldr_sym(m, "no_such_symbol_at_all"));
    close_ok(m);
}

/* Only DT_GNU_HASH (--hash-style=gnu). */
START_TEST(test_gnu_hash)
{
    check_hash_lookups("libgnuhash.so");
}
END_TEST

/* Only DT_HASH (--hash-style=sysv). */
START_TEST(test_sysv_hash)
{
    check_hash_lookups("libsysvhash.so");
}
END_TEST

/* foo@V1 (hidden) and foo@@V2 (default). */
START_TEST(test_versions)
{
    ldr_module *m = open_fixture("libver.so");
    void *h = dl_open_fixture("libver.so");
    intfn *v1 = (intfn *)ldr_vsym(m, "foo", "V1");
    intfn *v2 = (intfn *)ldr_vsym(m, "foo", "V2");
    ck_assert_ptr_nonnull(v1);
    ck_assert_ptr_nonnull(v2);
    ck_assert_int_eq(v1(), 1);
    ck_assert_int_eq(v2(), 2);
    ck_assert_ptr_eq((void *)v2, sym_ok(m, "foo"));
    ck_assert_ptr_null(ldr_vsym(m, "foo", "V3"));
    ck_assert_ptr_null(ldr_vsym(m, "ver_helper", "V2"));
    ck_assert_int_eq(((intfn *)ldr_vsym(m, "ver_helper", "V1"))(), 10);
    /* The same answers as the system loader. */
    ck_assert_int_eq(((intfn *)dlvsym(h, "foo", "V1"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "foo"))(), 2);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* A consumer linked against the library when foo@@V1 was current keeps
 * V1 behaviour after the library gains foo@@V2. */
START_TEST(test_version_consumer)
{
    ldr_module *m = open_fixture("libver_user.so");
    void *h = dl_open_fixture("libver_user.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "ver_user_call"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "ver_user_call"))(), 1);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* Weak undefined symbols nobody defines are NULL; one the host defines is
 * bound to the host's definition. */
/* Relocated words at unaligned addresses (a packed structure): the same
 * values as under the system loader. */
struct __attribute__((packed)) packed_view {
    char tag;
    const char *text;
    char pad[3];
    int *number;
};

START_TEST(test_unaligned_words)
{
    ldr_module *m = open_fixture("libpacked.so");
    void *h = dl_open_fixture("libpacked.so");
    const struct packed_view *mine = sym_ok(m, "packed_words");
    const struct packed_view *theirs = dl_sym_ok(h, "packed_words");
    ck_assert_ptr_eq(mine->text, ((const char *(*)(void))sym_ok(m, "packed_text"))());
    ck_assert_ptr_eq(mine->number, ((int *(*)(void))sym_ok(m, "packed_number"))());
    ck_assert_str_eq(mine->text, theirs->text);
    ck_assert_int_eq(*mine->number, *theirs->number);
    close_ok(m);
    dlclose(h);
}
END_TEST

START_TEST(test_weak_undefined)
{
    ldr_module *m = open_fixture("libweak.so");
    void *h = dl_open_fixture("libweak.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "weak_fn_is_null"))(), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "weak_var_is_null"))(), 1);
    ck_assert_ptr_null(*(void **)sym_ok(m, "weak_absent_ptr"));
    ck_assert_int_eq(((intfn *)sym_ok(m, "weak_present_call"))(), host_weak_present());
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "weak_fn_is_null"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "weak_present_call"))(), 5);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* Without -Bsymbolic the host's sym_who() wins over the module's own: the
 * host comes first. */
START_TEST(test_host_first)
{
    ldr_module *m = open_fixture("libplain.so");
    void *h = dl_open_fixture("libplain.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call"))(), sym_who());
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call_ptr"))(), 2);
    ck_assert_ptr_eq(*(void **)sym_ok(m, "sym_ptr"), (void *)sym_who);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call"))(), 2);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call_ptr"))(), 2);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* The same once a large load (SQLite's 1400 lookups) has had ldr make its
 * filter of every name the host defines, with the same host objects: the
 * filter must still let the host's sym_who() through. */
START_TEST(test_host_first_after_large_load)
{
    ldr_module *big = ldr_open("libsqlite3.so.0", 0);
    ck_assert_msg(big != NULL, "ldr_open(libsqlite3.so.0): %s", ldr_error());
    ldr_module *m = open_fixture("libplain.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call"))(), 2);
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call_ptr"))(), 2);
    ck_assert_ptr_eq(*(void **)sym_ok(m, "sym_ptr"), (void *)sym_who);
    close_ok(m);
    close_ok(big);
}
END_TEST

/* With -Bsymbolic (DT_SYMBOLIC) the module's own definition wins. */
START_TEST(test_symbolic)
{
    ldr_module *m = open_fixture("libsymbolic.so");
    void *h = dl_open_fixture("libsymbolic.so");
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call"))(), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call_ptr"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call_ptr"))(), 1);
    close_ok(m);
    dlclose(h);
}
END_TEST

/* DT_SYMBOLIC on an object whose references to its own sym_who() are
 * still relocations: the loader must search the module itself first. */
START_TEST(test_symbolic_tag)
{
    ldr_module *m = open_fixture("libsymtag.so");
    void *h = dl_open_fixture("libsymtag.so");
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call"))(), 1);
    ck_assert_int_eq(((intfn *)dl_sym_ok(h, "sym_call_ptr"))(), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call"))(), 1);
    ck_assert_int_eq(((intfn *)sym_ok(m, "sym_call_ptr"))(), 1);
    ck_assert_ptr_eq(*(void **)sym_ok(m, "sym_ptr"), sym_ok(m, "sym_who"));
    close_ok(m);
    dlclose(h);
}
END_TEST

/* The module calls a function of the host (exported with -rdynamic). */
START_TEST(test_callback)
{
    ldr_module *m = open_fixture("libcallback.so");
    host_trace[0] = '\0';
    ck_assert_int_eq(((intfn1 *)sym_ok(m, "callback_call"))(4), 4 * 3 + 1 + 1000);
    ck_assert_str_eq(host_trace, "callback,");
    void *(*addr)(void) = (void *(*)(void))sym_ok(m, "callback_addr");
    ck_assert_ptr_eq(addr(), (void *)host_callback);
    close_ok(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reloc");
    TCase *tc = tcase_create("reloc");
    tcase_add_test(tc, test_abs64);
    tcase_add_test(tc, test_unaligned_words);
    tcase_add_test(tc, test_host_interposes_libc);
    tcase_add_test(tc, test_host_interposes_own_definitions);
    tcase_add_test(tc, test_glob_dat);
    tcase_add_test(tc, test_jump_slot);
    tcase_add_test(tc, test_relative);
    tcase_add_test(tc, test_relr);
    tcase_add_test(tc, test_irelative);
    tcase_add_test(tc, test_ifunc_export);
    suite_add_tcase(s, tc);

    tc = tcase_create("symbols");
    tcase_add_test(tc, test_gnu_hash);
    tcase_add_test(tc, test_sysv_hash);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_version_consumer);
    tcase_add_test(tc, test_weak_undefined);
    tcase_add_test(tc, test_host_first);
    tcase_add_test(tc, test_host_first_after_large_load);
    tcase_add_test(tc, test_symbolic);
    tcase_add_test(tc, test_symbolic_tag);
    tcase_add_test(tc, test_callback);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
