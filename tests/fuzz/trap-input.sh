#!/bin/sh
# trap-input.sh IN OUT: a copy of IN whose first IRELATIVE relocation's
# resolver begins with a breakpoint (int3, 0xcc), as garbage resolver
# code in a mutated file may: the fuzz harness must come back from it.
set -eu
in=$1 out=$2
res=$(readelf -rW "$in" | awk '/R_X86_64_IRELATIVE/ { print $NF; exit }')
[ -n "$res" ] || { echo "$in: no IRELATIVE relocation" >&2; exit 1; }
res=$((0x$res))
off=$(readelf -lW "$in" | awk '$1 == "LOAD" { print $2, $3, $5 }' | while read -r o v fs; do
    if [ "$res" -ge $((v)) ] && [ "$res" -lt $((v + fs)) ]; then echo $((o + res - v)); fi
done)
[ -n "$off" ] || { echo "$in: the resolver lies in no segment's file bytes" >&2; exit 1; }
cp "$in" "$out"
printf '\314' | dd of="$out" bs=1 seek="$off" conv=notrunc 2>/dev/null
