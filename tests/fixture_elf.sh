#!/bin/sh
# Checks with readelf that each loader fixture has the property its test
# relies on, so that a toolchain change cannot quietly make a test moot.
set -u
. "${LDR_SRC:?run through make check}/tests/elf_checks.sh"

# relocs FILE TYPE: how many relocations of TYPE FILE has.
relocs() {
    readelf -Wr "$B/$1" | grep -c " R_X86_64_$2 "
}
atleast() {
    n=$(relocs "$1" "$2")
    [ "$n" -ge "$3" ] || bad "$1: $n R_X86_64_$2 relocations, want at least $3"
}

atleast libreloc.so 64 7
atleast libreloc.so GLOB_DAT 1
atleast libreloc.so JUMP_SLOT 2
# Three belong to crtbeginS.o; the fixture's own tables add six more.
atleast libreloc.so RELATIVE 9
has libreloc.so -r 'R_X86_64_64 .* getenv'
has libreloc.so -r 'R_X86_64_64 .* stdout'
has libreloc.so -r 'R_X86_64_64 .* labs@GLIBC_'
has libreloc.so -r 'R_X86_64_64 .* environ'
has libreloc.so -r 'R_X86_64_GLOB_DAT .* stdout'

# 64 pages of numbers in the writable segment, relocations on few pages.
has libsparse.so --dyn-syms ' 0x40000 OBJECT +GLOBAL .* sparse_numbers'
atleast libsparse.so 64 8

# 256 pages of pointers, every word relocated: through RELA, and through RELR.
atleast libpointers.so RELATIVE 131072
has libpointers_relr.so -d '\(RELR\)'
[ "$(relocs libpointers_relr.so RELATIVE)" -eq 0 ] || bad "libpointers_relr.so: RELATIVE relocations left unpacked"

# RELATIVE relocations, then the GOT's below the last of them: a table in
# three sorted runs (readelf's offsets have one width: compared as text).
atleast libthreeruns.so GLOB_DAT 200
n=$(readelf -Wr "$B/libthreeruns.so" | awk '/\.rela\.dyn/ { on = 1; next } /\.rela\.plt/ { on = 0 }
    on && /^[0-9a-f]+ / { v = "x" $1; if (v < last) d++; last = v } END { print d + 0 }')
[ "$n" -ge 1 ] || bad "libthreeruns.so: its RELA table is sorted as a whole"

# A writable segment far past the others, page-aligned segments: a gap.
has libgap.so -l 'LOAD +0x[0-9a-f]+ 0x0+80000 .* RW +0x1000$'
has libgap.so -l 'LOAD +0x[0-9a-f]+ 0x0+2000 .* R +0x1000$'

has librelr.so -d '\(RELR\)'
[ "$(relocs librelr.so RELATIVE)" -eq 0 ] || bad "librelr.so: RELATIVE relocations left unpacked"
has librelr.so -r '\.relr\.dyn.* [0-9]+ entries'
n=$(readelf -Wr "$B/librelr.so" | sed -n 's/^ *\([0-9]*\) offsets$/\1/p')
[ "${n:-0}" -ge 41 ] || bad "librelr.so: only ${n:-0} packed offsets"

atleast libifunc_local.so IRELATIVE 1
has libifunc_export.so --dyn-syms 'IFUNC +GLOBAL .* ifunc_square'
has libifunc_user.so -r 'R_X86_64_JUMP_SLOT .* ifunc_square'
has libifunc_user.so -r 'R_X86_64_64 .* ifunc_square'

has libgnuhash.so -S '\.gnu\.hash'
lacks libgnuhash.so -S '\] \.hash '
has libsysvhash.so -S '\] \.hash '
lacks libsysvhash.so -S '\.gnu\.hash'

has libver.so --dyn-syms ' foo@V1$'
has libver.so --dyn-syms ' foo@@V2$'
has libver_user.so -V 'Name: V1 '
lacks libver_user.so -V 'Name: V2 '

has libweak.so --dyn-syms 'WEAK +DEFAULT +UND weak_absent_fn'
has libweak.so --dyn-syms 'WEAK +DEFAULT +UND weak_absent_var'
has libweak.so --dyn-syms 'WEAK +DEFAULT +UND host_weak_present'

has libsymbolic.so -d '\(SYMBOLIC\)|FLAGS.*SYMBOLIC'
lacks libplain.so -d 'SYMBOLIC'
has libplain.so -r 'R_X86_64_JUMP_SLOT .* sym_who'
has libsymtag.so -d '\(SYMBOLIC\)'
has libsymtag.so -r 'R_X86_64_JUMP_SLOT .* sym_who'
has libsymtag.so -r 'R_X86_64_64 .* sym_who'

has libinit.so -d '\(INIT\)'
has libinit.so -d '\(FINI\)'
has libinit.so -d '\(INIT_ARRAY\)'
has libinit.so --dyn-syms 'FUNC +GLOBAL .* init_dt'
has libinitmain.so -d 'NEEDED.*\[libinitdep\.so\]'
lacks libnosoname.so -d '\(SONAME\)'
# Its own definitions, referenced, in a GNU hash table of several buckets.
has libinterpose.so -I "gnu\.hash' bucket list length \(total of ([2-9]|[1-9][0-9]+) buckets"
atleast libinterpose.so 64 64
has librtuser.so --dyn-syms 'GLOBAL +DEFAULT +UND rt_value$'

# lld's layout: PT_GNU_RELRO runs past the end of the segment it begins in.
set -- $(readelf -lW "$B/liblld.so" | awk '$1 == "GNU_RELRO" { print $3, $6 }')
relro_start=$(($1)) relro_end=$(($1 + $2)) past=0
for seg in $(readelf -lW "$B/liblld.so" | awk '$1 == "LOAD" { print $3 ":" $6 }'); do
    lo=$((${seg%:*})) hi=$((${seg%:*} + ${seg#*:}))
    [ "$relro_start" -ge "$lo" ] && [ "$relro_start" -lt "$hi" ] && [ "$relro_end" -gt "$hi" ] && past=1
done
[ "$past" = 1 ] || bad "liblld.so: GNU_RELRO ends inside the segment it begins in"
lacks librtuser.so -d '\(NEEDED\).*librt'
has libnosoname_user.so -d 'NEEDED.*\[libnosoname\.so\]'

has liborigin_runpath.so -d '\(RUNPATH\).*\[\$ORIGIN/sub\]'
lacks liborigin_runpath.so -d '\(RPATH\)'
has liborigin_rpath.so -d '\(RPATH\).*\[\$ORIGIN/sub\]'
lacks liborigin_rpath.so -d '\(RUNPATH\)'
[ -e "$B/liborigindep.so" ] && bad "liborigindep.so must only exist in sub/"

has libzuse.so -d 'NEEDED.*\[libz\.so\.1\]'
has libcyca.so -d 'NEEDED.*\[libcycb\.so\]'
has libcycb.so -d 'NEEDED.*\[libcyca\.so\]'

has libunres.so -V 'File: libmissing\.so'
has libunres.so -V 'Name: MISS_1\.0'
has libunres.so --dyn-syms 'UND missing_fn@MISS_1\.0'
has libunres.so --dyn-syms 'UND missing_var@MISS_1\.0'
has libunres.so --dyn-syms 'GLOBAL +DEFAULT +UND missing_plain$'
lacks libmissing.so --dyn-syms 'missing_(fn|var)'
has libmissing.so -V 'Name: MISS_1\.0'

exit $fail
