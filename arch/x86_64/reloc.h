/* The x86_64 psABI's dynamic relocations, mapped onto the generic kinds the
 * relocation walker in ldr/reloc.c understands. A port to another machine
 * provides this header with its own numbers. */
#ifndef LDR_ARCH_RELOC_H
#define LDR_ARCH_RELOC_H

#include <elf.h>

#define LDR_MACHINE      EM_X86_64
#define LDR_MACHINE_NAME "x86_64"

enum reloc_kind {
    RK_NONE,      /* nothing to do */
    RK_RELATIVE,  /* B + A */
    RK_ABS,       /* S + A */
    RK_GOT,       /* S: a GOT entry (GLOB_DAT) */
    RK_PLT,       /* S: a PLT slot; the addend is ignored as glibc does
                     (GLIBC_ABI_DT_X86_64_PLT) */
    RK_IRELATIVE, /* call the resolver at B + A */
    RK_DTPMOD,    /* the TLS module id of S */
    RK_DTPOFF,    /* S's offset in its module's TLS block, + A */
    RK_TPOFF,     /* S's offset from the thread pointer, + A (initial exec) */
    RK_TLSDESC,   /* a TLS descriptor: resolver and argument, two words */
    RK_UNSUPPORTED
};

/* The type most relocations of a large library have (RK_RELATIVE), for
 * the loops that apply and check it without a dispatch. */
#define LDR_R_RELATIVE R_X86_64_RELATIVE

static inline enum reloc_kind reloc_kind_of(unsigned type)
{
    switch (type) {
    case R_X86_64_NONE:      return RK_NONE;
    case R_X86_64_RELATIVE:  return RK_RELATIVE;
    case R_X86_64_64:        return RK_ABS;
    case R_X86_64_GLOB_DAT:  return RK_GOT;
    case R_X86_64_JUMP_SLOT: return RK_PLT;
    case R_X86_64_IRELATIVE: return RK_IRELATIVE;
    case R_X86_64_DTPMOD64:  return RK_DTPMOD;
    case R_X86_64_DTPOFF64:  return RK_DTPOFF;
    case R_X86_64_TPOFF64:   return RK_TPOFF;
    case R_X86_64_TLSDESC:   return RK_TLSDESC;
    default:                 return RK_UNSUPPORTED;
    }
}

static inline const char *reloc_type_name(unsigned type)
{
    static const char *const names[] = {
        [R_X86_64_NONE] = "NONE", [R_X86_64_64] = "64",
        [R_X86_64_PC32] = "PC32", [R_X86_64_GOT32] = "GOT32",
        [R_X86_64_PLT32] = "PLT32", [R_X86_64_COPY] = "COPY",
        [R_X86_64_GLOB_DAT] = "GLOB_DAT", [R_X86_64_JUMP_SLOT] = "JUMP_SLOT",
        [R_X86_64_RELATIVE] = "RELATIVE", [R_X86_64_GOTPCREL] = "GOTPCREL",
        [R_X86_64_32] = "32", [R_X86_64_32S] = "32S", [R_X86_64_16] = "16",
        [R_X86_64_PC16] = "PC16", [R_X86_64_8] = "8", [R_X86_64_PC8] = "PC8",
        [R_X86_64_DTPMOD64] = "DTPMOD64", [R_X86_64_DTPOFF64] = "DTPOFF64",
        [R_X86_64_TPOFF64] = "TPOFF64", [R_X86_64_TLSGD] = "TLSGD",
        [R_X86_64_TLSLD] = "TLSLD", [R_X86_64_DTPOFF32] = "DTPOFF32",
        [R_X86_64_GOTTPOFF] = "GOTTPOFF", [R_X86_64_TPOFF32] = "TPOFF32",
        [R_X86_64_PC64] = "PC64", [R_X86_64_GOTOFF64] = "GOTOFF64",
        [R_X86_64_GOTPC32] = "GOTPC32", [R_X86_64_SIZE32] = "SIZE32",
        [R_X86_64_SIZE64] = "SIZE64", [R_X86_64_TLSDESC] = "TLSDESC",
        [R_X86_64_IRELATIVE] = "IRELATIVE",
    };
    if (type < sizeof names / sizeof names[0] && names[type])
        return names[type];
    return "UNKNOWN";
}

/* An STT_GNU_IFUNC resolver. glibc passes x86_64 resolvers nothing they
 * rely on; the hardware capabilities are given as on other machines. */
typedef void *(*ifunc_resolver)(unsigned long hwcap);

/* TLS descriptor resolvers, in tls.S. */
void ldr_tlsdesc_static(void);
void ldr_tlsdesc_dynamic(void);
void ldr_tlsdesc_undefweak(void);

#endif
