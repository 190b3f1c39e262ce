/* Debian's libLLVM-15 (package libllvm15) and its dependencies, loaded
 * and used through its C API: a context, a module with a function, the
 * module verified and printed as IR. This program links no LLVM and
 * declares the few functions it calls. The dlopen'd copy is the oracle. */
#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldr.h>

#include "fixtures/tls_util.h"

#define LIBLLVM "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"
#define MODULE_NAME "ldr_llvm_module"

typedef void *ref; /* LLVMContextRef, LLVMModuleRef, LLVMTypeRef... */
typedef ref context_create_fn(void);
typedef void context_dispose_fn(ref);
typedef ref module_create_fn(const char *, ref);
typedef void module_dispose_fn(ref);
typedef ref int32_type_fn(ref);
typedef ref function_type_fn(ref, ref *, unsigned, int);
typedef ref add_function_fn(ref, const char *, ref);
typedef ref append_block_fn(ref, ref, const char *);
typedef ref builder_create_fn(ref);
typedef void builder_position_fn(ref, ref);
typedef ref get_param_fn(ref, unsigned);
typedef ref build_binop_fn(ref, ref, ref, const char *);
typedef ref build_ret_fn(ref, ref);
typedef ref const_int_fn(ref, unsigned long long, int);
typedef void builder_dispose_fn(ref);
typedef int verify_module_fn(ref, int, char **);
typedef char *print_module_fn(ref);
typedef void dispose_message_fn(char *);

START_TEST(test_llvm_ir)
{
    int loader = _i;
    const char *ln = tls_loader_names[loader];
    ck_assert_msg(maps_lines("libLLVM") == 0, "the host has LLVM");
    struct lib l = lib_open(loader, LIBLLVM);
#define F(type, name) ((type##_fn *)lib_sym(&l, name))
    ref ctx = F(context_create, "LLVMContextCreate")();
    ck_assert_ptr_nonnull(ctx);
    ref mod = F(module_create, "LLVMModuleCreateWithNameInContext")(MODULE_NAME, ctx);
    ck_assert_ptr_nonnull(mod);
    ref i32 = F(int32_type, "LLVMInt32TypeInContext")(ctx);
    ref params[2] = { i32, i32 };
    ref fty = F(function_type, "LLVMFunctionType")(i32, params, 2, 0);
    ref fn = F(add_function, "LLVMAddFunction")(mod, "ldr_answer", fty);
    ref entry = F(append_block, "LLVMAppendBasicBlockInContext")(ctx, fn, "entry");
    ref b = F(builder_create, "LLVMCreateBuilderInContext")(ctx);
    F(builder_position, "LLVMPositionBuilderAtEnd")(b, entry);
    ref x = F(get_param, "LLVMGetParam")(fn, 0);
    ref y = F(get_param, "LLVMGetParam")(fn, 1);
    ref prod = F(build_binop, "LLVMBuildMul")(b, x, y, "prod");
    ref sum = F(build_binop, "LLVMBuildAdd")(b, prod, F(const_int, "LLVMConstInt")(i32, 42, 0), "sum");
    F(build_ret, "LLVMBuildRet")(b, sum);
    F(builder_dispose, "LLVMDisposeBuilder")(b);

    char *err = NULL;
    /* 2: LLVMReturnStatusAction */
    int bad = F(verify_module, "LLVMVerifyModule")(mod, 2, &err);
    ck_assert_msg(!bad, "[%s] LLVMVerifyModule: %s", ln, err ? err : "");
    if (err)
        F(dispose_message, "LLVMDisposeMessage")(err);

    char *ir = F(print_module, "LLVMPrintModuleToString")(mod);
    ck_assert_ptr_nonnull(ir);
    ck_assert_msg(strstr(ir, "; ModuleID = '" MODULE_NAME "'") != NULL, "[%s] IR without the module name:\n%s",
                  ln, ir);
    ck_assert_msg(strstr(ir, "define i32 @ldr_answer(i32 %0, i32 %1)") != NULL, "[%s] IR:\n%s", ln, ir);
    ck_assert_msg(strstr(ir, "%prod = mul i32 %0, %1") != NULL, "[%s] IR:\n%s", ln, ir);
    ck_assert_msg(strstr(ir, "%sum = add i32 %prod, 42") != NULL, "[%s] IR:\n%s", ln, ir);
    ck_assert_msg(strstr(ir, "ret i32 %sum") != NULL, "[%s] IR:\n%s", ln, ir);
    F(dispose_message, "LLVMDisposeMessage")(ir);
    F(module_dispose, "LLVMDisposeModule")(mod);
    F(context_dispose, "LLVMContextDispose")(ctx);
#undef F
    lib_close(&l);
}
END_TEST

/* The file's PT_GNU_RELRO, [*start, *end). */
static void file_relro(const char *path, uint64_t *start, uint64_t *end)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &eh, sizeof eh, 0), sizeof eh);
    *start = *end = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        ck_assert_int_eq(pread(fd, &ph, sizeof ph, eh.e_phoff + i * sizeof ph), sizeof ph);
        if (ph.p_type == PT_GNU_RELRO) {
            *start = ph.p_vaddr;
            *end = ph.p_vaddr + ph.p_memsz;
        }
    }
    close(fd);
    ck_assert_uint_gt(*end, *start);
}

/* The /proc/self/maps entry holding ADDR: its permissions and path ("" for
 * anonymous memory). */
static void maps_entry(uintptr_t addr, char perms[5], char *path, size_t pathsz)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[1024];
    bool found = false;
    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int n = 0;
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &lo, &hi, perms, &n) < 3 || addr < lo || addr >= hi)
            continue;
        snprintf(path, pathsz, "%s", n ? line + n : "");
        path[strcspn(path, "\n")] = 0;
        found = true;
    }
    fclose(f);
    ck_assert_msg(found, "no mapping holds %#lx", (unsigned long)addr);
}

/* Free blocks of a huge page or more, in huge pages, outside the DMA
 * zone, as /proc/buddyinfo lists them. */
static unsigned long free_huge_blocks(void)
{
    FILE *f = fopen("/proc/buddyinfo", "re");
    char line[512];
    unsigned long total = 0;
    while (f && fgets(line, sizeof line, f)) {
        char zone[32];
        int at = 0, used;
        unsigned long count;
        if (sscanf(line, "Node %*d, zone %31s%n", zone, &at) != 1 || strcmp(zone, "DMA") == 0)
            continue;
        for (unsigned order = 0; sscanf(line + at, "%lu%n", &count, &used) == 1; order++, at += used)
            if (order >= 9)
                total += count << (order - 9);
    }
    if (f)
        fclose(f);
    return total;
}

/* libLLVM's RELRO (8 MiB, nearly every page of it written by relocation)
 * is read into anonymous memory the kernel may back with huge pages,
 * where the system has transparent huge pages and free blocks for them
 * (ldr asks for twice the three or four it needs; at 16 or more here it
 * must have read it), and mapped from the file with LDR_HUGEPAGES=0 (loop
 * 1); read-only once loaded, either way. That every byte of it is the
 * file's or a relocation's is ldrdiff's to check (tests/diff/diff.sh). */
START_TEST(test_llvm_relro_read)
{
    bool off = _i == 1;
    if (off)
        setenv("LDR_HUGEPAGES", "0", 1);
    char thp[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (f) {
        if (!fgets(thp, sizeof thp, f))
            thp[0] = 0;
        fclose(f);
    }
    bool thp_on = thp[0] && !strstr(thp, "[never]");
    bool anonymous = !off && thp_on && free_huge_blocks() >= 16;
    uint64_t relro_start, relro_end;
    file_relro(LIBLLVM, &relro_start, &relro_end);
    ldr_module *m = ldr_open(LIBLLVM, LDR_NOINIT);
    ck_assert_msg(m != NULL, "%s", ldr_error());
    struct ldr_info info;
    ck_assert_int_eq(ldr_info(m, &info), 0);
    char perms[5], path[512];
    maps_entry(info.base + ((relro_start + relro_end) / 2 & ~(uint64_t)4095), perms, path, sizeof path);
    ck_assert_str_eq(perms, "r--p");
    if (anonymous)
        ck_assert_msg(path[0] == 0, "RELRO is mapped from %s (transparent huge pages: %s)", path, thp);
    else if (off || !thp_on)
        ck_assert_msg(strstr(path, "libLLVM-15") != NULL, "RELRO is mapped from '%s', not the file", path);
    ck_assert_int_eq(ldr_close(m), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("llvm");
    TCase *tc = tcase_create("llvm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_llvm_ir, 0, TLS_NLOADERS);
    tcase_add_loop_test(tc, test_llvm_relro_read, 0, 2);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
