#!/bin/sh
# The differential checker over the suite's fixtures and three real
# libraries, in both orders: every one must compare equal. The whole
# machine's libraries are make check-corpus.
set -u
B=${LDR_BUILD:?run through make check}
checker=$B/tests/diff/ldrdiff
F=$B/tests/build
L=/usr/lib/x86_64-linux-gnu
fail=0
for lib in $F/libreloc.so $F/librelr.so $F/libifunc_local.so $F/libifunc_user.so \
    $F/libgnuhash.so $F/libsysvhash.so $F/libver_user.so $F/libweak.so $F/libsymbolic.so \
    $F/libplain.so $F/libsymtag.so $F/liborigin_runpath.so \
    $F/liborigin_rpath.so $F/libzuse.so $F/libcyca.so $F/malformed-good.so \
    $F/diff-interp.so $F/diff-unhashed.so $F/libdiff-unique.so $F/scale/libbig.so $F/scale/chain/libchain0.so \
    $L/libz.so.1 $L/libsqlite3.so.0 $L/libLLVM-15.so.1; do
    for order in ldr dlopen; do
        out=$("$checker" --order=$order "$lib" 2>&1)
        case $out in
        OK*) ;;
        *) fail=1; echo "FAIL (--order=$order): $out" ;;
        esac
    done
    echo "$out" | head -n 1
done
exit $fail
