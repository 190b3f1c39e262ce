#!/bin/sh
# Checks with readelf that each TLS, C++ and OpenMP fixture has the
# relocations and flags its test relies on, so that a toolchain change
# cannot quietly make a test moot.
set -u
. "${LDR_SRC:?run through make check}/tests/elf_checks.sh"

# The relocation lines of FILE naming TYPE, with SYMBOL (or none: -).
rel() {
    readelf -Wr "$B/$1" | awk -v t="R_X86_64_$2" -v s="$3" '
        $3 == t && ((s == "-" && NF == 4) || (s != "-" && $5 ~ ("^" s "(@|$)")))'
}
hasrel() {
    [ -n "$(rel "$@")" ] || bad "$1: no R_X86_64_$2 against $3"
}
lacksrel() {
    [ -z "$(rel "$1" "$2" "${3:--}")" ] || bad "$1: unexpected R_X86_64_$2 against ${3:--}"
}
count() {
    readelf -Wr "$B/$1" | grep -c " R_X86_64_$2 "
}

# The TLS segment: memsz greater than filesz (.tdata and .tbss) and its
# alignment; IE fixtures: nothing in the file at all.
tls_seg() {
    readelf -Wl "$B/$1" | awk '$1 == "TLS" { print $5, $6, $8 }'
}

for f in libtls_gd.so libtls_gd_clang.so; do
    for v in tls_init tls_data tls_zero tls_big tls_bss tls_page; do
        hasrel $f DTPMOD64 $v
        hasrel $f DTPOFF64 $v
    done
    has $f --dyn-syms 'TLS +GLOBAL +DEFAULT +[0-9]+ tls_init$'
done
for f in libtls_ld.so libtls_ld_clang.so; do
    hasrel $f DTPMOD64 -
    [ "$(count $f DTPOFF64)" -eq 0 ] || bad "$f: DTPOFF64 relocations in a local-dynamic build"
    [ "$(count $f DTPMOD64)" -eq 1 ] || bad "$f: $(count $f DTPMOD64) DTPMOD64 relocations, want the one LD entry"
    lacks $f --dyn-syms 'tls_init'
done
for v in tls_init tls_data tls_zero tls_big tls_bss tls_page; do
    hasrel libtls_desc.so TLSDESC $v
done
[ "$(count libtls_desc.so DTPMOD64)" -eq 0 ] || bad "libtls_desc.so: DTPMOD64 in a TLSDESC build"

for f in libtls_gd.so libtls_gd_clang.so libtls_ld.so libtls_ld_clang.so libtls_desc.so; do
    set -- $(tls_seg $f)
    [ $# -eq 3 ] || { bad "$f: no PT_TLS"; continue; }
    # .tdata (64 KiB and more) in the file, .tbss (1 MiB) beyond it, 4096-aligned.
    [ $(($1)) -ge 65536 ] || bad "$f: PT_TLS filesz $1, want the 64 KiB image"
    [ $(($2)) -ge $(($1 + 1048576)) ] || bad "$f: PT_TLS memsz $2, want 1 MiB of .tbss"
    [ "$3" = 0x1000 ] || bad "$f: PT_TLS alignment $3, want 0x1000"
    lacks $f -d 'STATIC_TLS'
done

for f in libtls_ie.so libtls_ie_clang.so; do
    has $f -d '\(FLAGS\).*STATIC_TLS'
    hasrel $f TPOFF64 ie_counter
    hasrel $f TPOFF64 -
    [ "$(count $f DTPMOD64)" -eq 0 ] || bad "$f: DTPMOD64 in an initial-exec build"
    set -- $(tls_seg $f)
    [ $# -eq 3 ] && [ $(($1)) -eq 0 ] && [ $(($2)) -gt 0 ] || bad "$f: PT_TLS is not a zero image"
done

# The same zero image through TLS descriptors, without DF_STATIC_TLS.
hasrel libtls_desc_zero.so TLSDESC ie_counter
[ "$(count libtls_desc_zero.so TPOFF64)" -eq 0 ] || bad "libtls_desc_zero.so: TPOFF64 in a TLSDESC build"
lacks libtls_desc_zero.so -d 'STATIC_TLS'
set -- $(tls_seg libtls_desc_zero.so)
[ $# -eq 3 ] && [ $(($1)) -eq 0 ] && [ $(($2)) -gt 0 ] || bad "libtls_desc_zero.so: PT_TLS is not a zero image"
hasrel libtls_gd_zero.so DTPMOD64 ie_counter
has libtls_gd_zero.so -r 'R_X86_64_DTPMOD64 +0$'
[ "$(count libtls_gd_zero.so TPOFF64)" -eq 0 ] || bad "libtls_gd_zero.so: TPOFF64 in a dynamic-model build"
[ "$(count libtls_gd_zero.so TLSDESC)" -eq 0 ] || bad "libtls_gd_zero.so: TLSDESC in a __tls_get_addr build"
set -- $(tls_seg libtls_gd_zero.so)
[ $# -eq 3 ] && [ $(($1)) -eq 0 ] && [ $(($2)) -gt 0 ] || bad "libtls_gd_zero.so: PT_TLS is not a zero image"

has libtls_hostlib.so --dyn-syms 'TLS +GLOBAL .* tls_hostlib_var$'
for v in tls_host_exe_var tls_hostlib_var; do
    hasrel libtls_hostref_gd.so DTPMOD64 $v
    hasrel libtls_hostref_gd.so DTPOFF64 $v
    hasrel libtls_hostref_desc.so TLSDESC $v
    hasrel libtls_hostref_ie.so TPOFF64 $v
    has libtls_hostref_gd.so --dyn-syms "TLS +GLOBAL +DEFAULT +UND $v"
done
has libtls_hostref_ie.so -d '\(FLAGS\).*STATIC_TLS'
lacks libtls_hostref_gd.so -l ' TLS '

has libtls_life.so --dyn-syms 'UND __cxa_thread_atexit_impl'
has libtls_life.so --dyn-syms 'UND __cxa_atexit'
has libtls_life.so -l ' TLS '
hasrel libtls_round.so DTPMOD64 round_value

lacks libcxx_a.so --dyn-syms '(GLOBAL|WEAK) +DEFAULT +[0-9]+ _ZNSt'
has libcxx_a.so -d 'NEEDED.*\[libcxx_b\.so\]'
has libcxx_a.so -d 'NEEDED.*\[libstdc\+\+\.so\.6\]'
has libcxx_a.so --dyn-syms 'UND _ZTI9cxx_error'
has libcxx_b.so --dyn-syms 'OBJECT +(GLOBAL|WEAK) .* _ZTI9cxx_error$'
has libcxx_a.so --dyn-syms 'UND __cxa_thread_atexit'
has libcxx_a.so -l ' TLS '
has libcxx_a.so -l 'GNU_EH_FRAME'
has libcxx_b.so -l 'GNU_EH_FRAME'

has libomp_reduce.so -d 'NEEDED.*\[libgomp\.so\.1\]'
has libomp_reduce.so -l ' TLS '

if [ -e "$B/librust_plugin.so" ]; then
    has librust_plugin.so -l ' TLS '
    has librust_plugin.so -l 'GNU_EH_FRAME'
    has librust_plugin.so --dyn-syms 'UND __cxa_thread_atexit_impl'
    has librust_plugin.so -d 'NEEDED.*\[libgcc_s\.so\.1\]'
fi

exit $fail
