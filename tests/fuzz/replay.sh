#!/bin/sh
# Replays every input the fuzzer found a crash with (tests/fuzz/crashes/):
# NAME.bin must now be refused by ldrun --noinit (exit 127) with a reason
# that contains the text of NAME.expect, or, where NAME.expect says LOADS,
# load cleanly (a file ldr mishandled while accepting it; the sanitizer
# build catches a relapse).
set -u
B=${LDR_BUILD:?run through make check}
S=${LDR_SRC:?run through make check}
fail=0 n=0
for bin in "$S"/tests/fuzz/crashes/*.bin; do
    [ -e "$bin" ] || continue
    n=$((n + 1))
    expect=$(cat "${bin%.bin}.expect")
    out=$(timeout 20 "$B/ldrun" --noinit "$bin" 2>&1)
    rc=$?
    case $rc:$expect:$out in
    0:LOADS:*) echo "ok: $(basename "$bin"): loads" ;;
    127:*:*"$expect"*) echo "ok: $(basename "$bin"): $out" ;;
    *) fail=1; echo "FAIL: $(basename "$bin"): exit $rc, expected 127 and '$expect': $out" ;;
    esac
done
echo "$n inputs replayed"
exit $fail
