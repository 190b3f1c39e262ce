/* Thread-local storage entry points of the x86_64 psABI that code in
 * ldr-loaded modules calls: __tls_get_addr (general and local dynamic)
 * and the TLS descriptor resolvers (-mtls-dialect=gnu2). The fast paths
 * find the calling thread's block in its vector (ldr_tls_vec, ldr's own
 * initial-exec TLS, never NULL); the slow paths call C in ldr/tls.c. */
#include "tls.h"

        .text

/* void *ldr_tls_get_addr(tls_index *ti): a normal call, but GCC may make
 * it with a misaligned stack, so the slow path realigns before C. A
 * negative id is a block in ldr's static pool, at that offset from the
 * thread pointer. Ids below TLS_ID_BASE belong to the system loader and
 * go to its own: less the base, they wrap around past any count, so one
 * unsigned test sends them, a slot beyond the vector and an empty one off
 * the fast path. */
        .globl  ldr_tls_get_addr
        .hidden ldr_tls_get_addr
        .type   ldr_tls_get_addr, @function
        .p2align 5
ldr_tls_get_addr:
        .cfi_startproc
        movq    (%rdi), %rax
        testq   %rax, %rax
        jns     2f
        addq    %fs:0, %rax
        addq    8(%rdi), %rax
        ret
2:      movq    ldr_tls_vec@gottpoff(%rip), %rcx
        movq    %fs:(%rcx), %rcx
        subq    $TLS_ID_BASE, %rax
        cmpq    TLS_VEC_COUNT(%rcx), %rax
        jae     1f
        movq    TLS_VEC_BLOCKS(%rcx,%rax,8), %rax
        testq   %rax, %rax
        jz      1f
        addq    8(%rdi), %rax
        ret
1:      cmpq    $TLS_ID_BASE, (%rdi)
        jb      3f
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        andq    $-16, %rsp
        call    ldr_tls_get_addr_slow
        movq    %rbp, %rsp
        popq    %rbp
        .cfi_def_cfa %rsp, 8
        .cfi_restore %rbp
        ret
3:      jmp     *ldr_host_tls_get_addr(%rip)
        .cfi_endproc
        .size   ldr_tls_get_addr, .-ldr_tls_get_addr

/* TLS descriptor resolvers: called with %rax pointing at the descriptor
 * {resolver, argument}; return in %rax the variable's offset from the
 * thread pointer; every other register, vector registers included, is
 * preserved. */

/* Static: the argument is the offset itself. */
        .globl  ldr_tlsdesc_static
        .hidden ldr_tlsdesc_static
        .type   ldr_tlsdesc_static, @function
        .p2align 5
ldr_tlsdesc_static:
        .cfi_startproc
        movq    8(%rax), %rax
        ret
        .cfi_endproc
        .size   ldr_tlsdesc_static, .-ldr_tlsdesc_static

/* Unresolved weak: the address must come out as 0, so the offset is
 * minus the thread pointer. */
        .globl  ldr_tlsdesc_undefweak
        .hidden ldr_tlsdesc_undefweak
        .type   ldr_tlsdesc_undefweak, @function
ldr_tlsdesc_undefweak:
        .cfi_startproc
        movq    %fs:0, %rax
        negq    %rax
        ret
        .cfi_endproc
        .size   ldr_tlsdesc_undefweak, .-ldr_tlsdesc_undefweak

/* Dynamic: the argument points at a struct tlsdesc_arg. */
        .globl  ldr_tlsdesc_dynamic
        .hidden ldr_tlsdesc_dynamic
        .type   ldr_tlsdesc_dynamic, @function
        .p2align 5
ldr_tlsdesc_dynamic:
        .cfi_startproc
        movq    8(%rax), %rax
        pushq   %rcx
        .cfi_adjust_cfa_offset 8
        pushq   %rdx
        .cfi_adjust_cfa_offset 8
        movq    ldr_tls_vec@gottpoff(%rip), %rdx
        movq    TLSDESC_ID(%rax), %rcx
        movq    %fs:(%rdx), %rdx
        /* A host id wraps around past any count: one test, as in
         * ldr_tls_get_addr; the slow path tells them apart. */
        subq    $TLS_ID_BASE, %rcx
        cmpq    TLS_VEC_COUNT(%rdx), %rcx
        jae     1f
        movq    TLS_VEC_BLOCKS(%rdx,%rcx,8), %rdx
        testq   %rdx, %rdx
        jz      1f
        addq    TLSDESC_OFFSET(%rax), %rdx
        subq    %fs:0, %rdx
        movq    %rdx, %rax
        popq    %rdx
        .cfi_adjust_cfa_offset -8
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_adjust_cfa_offset 16
1:      popq    %rdx
        .cfi_adjust_cfa_offset -8
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        /* The slow path calls C: save every caller-saved register and the
         * vector state (XSAVE, with the mask and size tls.c measured). */
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        subq    $8, %rsp                /* -72(%rbp): the result */
        movq    %rax, %rdi
        subq    ldr_xsave_size(%rip), %rsp
        andq    $-64, %rsp
        /* XSAVE leaves the header's reserved bytes alone; XRSTOR faults
         * unless they are zero. */
        xorl    %ecx, %ecx
        movq    %rcx, 512(%rsp)
        movq    %rcx, 520(%rsp)
        movq    %rcx, 528(%rsp)
        movq    %rcx, 536(%rsp)
        movq    %rcx, 544(%rsp)
        movq    %rcx, 552(%rsp)
        movq    %rcx, 560(%rsp)
        movq    %rcx, 568(%rsp)
        movl    ldr_xsave_mask(%rip), %eax
        xorl    %edx, %edx
        xsave   (%rsp)
        call    ldr_tlsdesc_slow
        subq    %fs:0, %rax
        movq    %rax, -72(%rbp)
        movl    ldr_xsave_mask(%rip), %eax
        xorl    %edx, %edx
        xrstor  (%rsp)
        movq    -72(%rbp), %rax
        leaq    -64(%rbp), %rsp
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbp
        .cfi_def_cfa %rsp, 8
        .cfi_restore %rbp
        ret
        .cfi_endproc
        .size   ldr_tlsdesc_dynamic, .-ldr_tlsdesc_dynamic

        .section .note.GNU-stack,"",@progbits
