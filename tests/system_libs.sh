#!/bin/sh
# The system libraries a plugin needs (libm, libgcc_s) are the system
# loader's to load: ldr hands it the path /etc/ld.so.cache names, so that
# the system loader does not search for them itself (opening, mapping and
# unmapping the cache each time), unless LD_LIBRARY_PATH comes first.
set -u
: "${LDR_BUILD:?run through make check}"
LIB=$LDR_BUILD/tests/build/libsysdeps.so
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0
unset LDR_DEBUG LDR_DEBUG_OUTPUT LD_LIBRARY_PATH

bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# run [DIR]: ldrun LIB sysdeps_run under LD_DEBUG=libs,symbols, with DIR as
# LD_LIBRARY_PATH; the system loader's lines after the program started in
# $T/rt, LDR_DEBUG's in $T/ldr. Without crash reports: their libunwind,
# loaded at run time, defines _Unwind_GetIP too. The program itself runs, not libtool's
# wrapper, which sets LD_LIBRARY_PATH: the system loader's --library-path
# (which stands for LD_LIBRARY_PATH, DIR's too) finds libldr. Run so, the
# system loader's own start-up allocations look leaked to LeakSanitizer.
run() {
    rm -f "$T/ldr"
    env ${1:+LD_LIBRARY_PATH="$1"} ASAN_OPTIONS=detect_leaks=0 LD_DEBUG=libs,symbols LD_DEBUG_OUTPUT="$T/ld" LDR_DEBUG=files LDR_DEBUG_OUTPUT="$T/ldr" \
        /lib64/ld-linux-x86-64.so.2 --library-path "$LDR_BUILD/.libs${1:+:$1}" "$LDR_BUILD/.libs/ldrun" \
        --no-crash-report "$LIB" sysdeps_run >/dev/null 2>"$T/err"
    got=$?
    [ "$got" -eq 3 ] || bad "ldrun ${1:+(LD_LIBRARY_PATH=$1) }: exit $got, want 3 (stderr: $(head -5 "$T/err"))"
    cat "$T"/ld.* >"$T/all" 2>/dev/null
    rm -f "$T"/ld.*
    sed -n '/transferring control/,$p' "$T/all" >"$T/rt"
}

run
# The sanitizer build's runtime brings libm with the program.
if grep -q 'calling init: .*/libm\.so\.6' "$T/rt"; then
    grep -q 'find library=libm.so.6' "$T/rt" && bad "the system loader searched for libm.so.6 itself: $(cat "$T/rt")"
    grep -q 'find library=libgcc_s.so.1' "$T/rt" && bad "the system loader searched for libgcc_s.so.1 itself"
    # The paths ldr found in the cache are ldconfig's.
    for lib in libm.so.6 libgcc_s.so.1; do
        want=$(ldconfig -p | grep -F "	$lib (libc6,x86-64) => " | sed 's/.* => //' | head -1)
        grep -qF "needs $lib: the system loader's copy, loaded from $want" "$T/ldr" ||
            bad "LDR_DEBUG=files does not say $lib came from $want: $(cat "$T/ldr")"
    done
    # Brought in by ldr's own dlopen, RTLD_LOCAL, they are in no global
    # scope: the load does not ask dlsym(RTLD_DEFAULT) about their names
    # (each failing answer is an error message made and thrown away).
    grep -E 'symbol=(cbrt|_Unwind_GetIP);' "$T/rt" >"$T/asked" &&
        bad "the global scope was asked for the names of libraries ldr had just loaded: $(head -3 "$T/asked")"
    want=$(ldconfig -p | grep -F "	libm.so.6 (libc6,x86-64) => " | sed 's/.* => //' | head -1)

    # LD_LIBRARY_PATH comes before the cache: the system loader searches.
    mkdir "$T/lib"
    ln -s "$want" "$T/lib/libm.so.6"
    run "$T/lib"
    grep -qF "trying file=$T/lib/libm.so.6" "$T/rt" || bad "LD_LIBRARY_PATH=$T/lib was not searched for libm.so.6"
    grep -qF "needs libm.so.6: the system loader's copy, loaded by its own search for libm.so.6" "$T/ldr" ||
        bad "LDR_DEBUG=files: $(cat "$T/ldr")"
else
    echo "libm.so.6 came with the program: nothing for ldr to load"
fi
exit $fail
