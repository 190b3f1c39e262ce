#!/bin/sh
# gdb with ldr/gdb/ldr-gdb.py: a pending breakpoint on a plugin function
# resolves once ldr loads the plugin, and the backtrace names it.
set -u
: "${LDR_BUILD:?run through make check}"
: "${LDR_SRC:?run through make check}"
command -v gdb >/dev/null || { echo "gdb not found" >&2; exit 77; }
LIB=$LDR_BUILD/tests/build/libdiag_gdb.so
out=$(gdb -batch -nx -x "$LDR_SRC/ldr/gdb/ldr-gdb.py" -ex "set environment LD_LIBRARY_PATH $LDR_BUILD/.libs" \
    -ex 'break diag_gdb_inner' -ex run -ex bt --args "$LDR_BUILD/.libs/ldrun" "$LIB" diag_gdb_function 2>&1)
fail=0
echo "$out" | grep -q 'Breakpoint 1, .*diag_gdb_inner' || { echo "FAIL: the breakpoint did not hit" >&2; fail=1; }
echo "$out" | grep -q '#0 .*diag_gdb_inner' || { echo "FAIL: frame 0 is not diag_gdb_inner" >&2; fail=1; }
echo "$out" | grep -q '#1 .*diag_gdb_function' || { echo "FAIL: frame 1 is not diag_gdb_function" >&2; fail=1; }
[ "$fail" -eq 0 ] || echo "$out" >&2
exit $fail
