#!/bin/sh
# make check-corpus: runs the differential checker over every shared
# library installed on the machine, each in its own process with a time
# limit, in both orders (ldr first, then the system loader first). One
# line per library, then a summary; exits 1 on any difference, crash,
# time-out or unexpected refusal.
#
#   corpus.sh CHECKER [DIR...]
#
# CORPUS_TIMEOUT (seconds per run, default 20) and CORPUS_SHOW (differences
# shown per library, default 5) tune it.
set -u
checker=${1:?usage: corpus.sh CHECKER [DIR...]}
shift
[ $# -gt 0 ] || set -- /usr/lib/x86_64-linux-gnu /usr/lib/llvm-*/lib
limit=${CORPUS_TIMEOUT:-20}
show=${CORPUS_SHOW:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Refusals that are correct today, as patterns over ldr's reason.
expected_refusal() {
    case $1 in
    *"TLS not supported yet"*) echo "TLS not supported yet" ;;
    *"part of the system's C or compiler runtime"*) echo "the system's C or compiler runtime" ;;
    *"initial-exec TLS"*"which ldr cannot place"*) echo "initial-exec TLS ldr cannot place" ;;
    *) return 1 ;;
    esac
}

ok=0 diff=0 refused=0 crashed=0 skipped=0 words=0
: > "$tmp/suspicious"
: > "$tmp/reasons"
find "$@" -type f -name '*.so*' 2>/dev/null | LC_ALL=C sort -u > "$tmp/list"
while read -r lib; do
    # Only ELF files: linker scripts and the like are not libraries.
    [ "$(head -c 4 "$lib" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    verdict= detail=
    for order in ldr dlopen; do
        timeout -k 5 "$limit" "$checker" --order=$order --show="$show" "$lib" > "$tmp/out" 2> "$tmp/err"
        rc=$?
        # The verdict is the first line's first word, and the status says
        # the same; anything else is a crash, an abort or a time-out.
        case $rc:$(head -n 1 "$tmp/out" | cut -d' ' -f1) in
        0:OK|1:DIFF|2:REFUSED|3:SKIP|4:ERROR) ;;
        *)  # ldr's fault only if the system loader alone gets through.
            if timeout -k 5 "$limit" "$checker" --dlopen-only "$lib" 2>/dev/null | grep -q '^OK '; then
                [ "$rc" -eq 124 ] && what="timed out after ${limit}s" || what="crashed (status $rc)"
                { printf 'CRASH %s: %s with --order=%s\n' "$lib" "$what" "$order"
                  tail -n 5 "$tmp/out" "$tmp/err" | sed 's/^/  /'; } > "$tmp/crash"
                mv "$tmp/crash" "$tmp/out"
                rc=5
            else
                printf 'SKIP %s: the system loader alone fails (status %s)\n' "$lib" "$rc" > "$tmp/out"
                rc=3
            fi ;;
        esac
        # The worse of the two orders stands for the library.
        if [ -z "$verdict" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne "$verdict" ]; }; then
            verdict=$rc
            detail=$(cat "$tmp/out")
        fi
        # A skip or a refusal does not depend on the order.
        [ "$rc" -eq 2 ] || [ "$rc" -eq 3 ] && break
    done
    printf '%s\n' "$detail"
    case $verdict in
    0)  ok=$((ok + 1))
        n=$(printf '%s\n' "$detail" | sed -n 's/^OK .*: \([0-9]*\) words compared.*/\1/p')
        words=$((words + ${n:-0})) ;;
    1)  diff=$((diff + 1)); printf '%s\n' "$detail" | head -n 1 >> "$tmp/suspicious" ;;
    2)  refused=$((refused + 1))
        reason=${detail#*: }
        if why=$(expected_refusal "$reason"); then
            echo "$why" >> "$tmp/reasons"
        else
            echo "unexpected" >> "$tmp/reasons"
            printf '%s\n' "$detail" >> "$tmp/suspicious"
        fi ;;
    3)  skipped=$((skipped + 1)) ;;
    *)  crashed=$((crashed + 1)); printf '%s\n' "$detail" | head -n 1 >> "$tmp/suspicious" ;;
    esac
done < "$tmp/list"

echo
echo "corpus: $((ok + diff + refused + crashed)) libraries: $ok OK ($words words compared), $diff DIFF, $refused REFUSED, $crashed crashed or timed out; $skipped skipped (the system loader cannot open them)"
if [ -s "$tmp/reasons" ]; then
    echo "refusals:"
    sort "$tmp/reasons" | uniq -c | sed 's/^ */  /'
fi
if [ -s "$tmp/suspicious" ]; then
    echo "to look at:"
    sed 's/^/  /' "$tmp/suspicious"
    exit 1
fi
exit 0
