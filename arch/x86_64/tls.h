/* What the TLS assembly (tls.S) and ldr/tls.c agree on. */
#ifndef LDR_ARCH_TLS_H
#define LDR_ARCH_TLS_H

/* ldr's module ids start here, far above any the system loader hands out:
 * __tls_get_addr tells its own from the system's by this alone. A
 * module whose block is in ldr's static pool has as id, in its GOT, the
 * block's offset from the thread pointer: negative, unlike any id. */
#define TLS_ID_BASE 0x10000000

/* struct tls_vector: the count of slots, then the slots (one block
 * pointer per module id) from this offset. */
#define TLS_VEC_COUNT 0
#define TLS_VEC_BLOCKS 32

/* struct tlsdesc_arg: the module id, then the offset in its block. */
#define TLSDESC_ID 0
#define TLSDESC_OFFSET 8

#endif
