#!/bin/sh
# valgrind's memcheck on a plugin ldr loads: its report on an error in the
# plugin names the function and the line, as for one the system loader
# loads (valgrind reads debug information from the mappings it sees).
set -u
: "${LDR_BUILD:?run through make check}"
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 77; }
# The sanitizer build's runtime and valgrind exclude each other.
readelf -d "$LDR_BUILD/.libs/libldr.so" 2>/dev/null | grep -q libasan && exit 77
LIB=$LDR_BUILD/tests/build/libdiag_memcheck.so
out=$(LD_LIBRARY_PATH=$LDR_BUILD/.libs valgrind -q "$LDR_BUILD/.libs/ldrun" "$LIB" diag_read_past_block 2>&1)
fail=0
echo "$out" | grep -q 'Invalid read of size 4' || { echo "FAIL: valgrind saw no invalid read" >&2; fail=1; }
echo "$out" | grep -Eq 'at 0x[0-9A-F]+: diag_read_past_block \(diag_memcheck\.c:[0-9]+\)' ||
    { echo "FAIL: the report does not name diag_read_past_block and its line" >&2; fail=1; }
[ "$fail" -eq 0 ] || echo "$out" >&2
exit $fail
