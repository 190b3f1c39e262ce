#!/bin/sh
# ldrun --check, --json and --trace, LDR_DEBUG's categories, and crash
# reports, on fixtures with known relocations and known missing symbols.
set -u
: "${LDR_BUILD:?run through make check}"
LDRUN=$LDR_BUILD/ldrun
B=$LDR_BUILD/tests/build
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0
unset LDR_DEBUG LDR_DEBUG_OUTPUT
# The sanitizer build: its runtime defines puts (unversioned, so it answers
# puts@DIAG_2.0 as the system loader would) and owns SIGSEGV.
sanitized=$(readelf -d "$LDR_BUILD/.libs/libldr.so" 2>/dev/null | grep -c libasan)

bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# run EXPECTED-STATUS ARGS...: ldrun ARGS, output in $T/out and $T/err.
run() {
    want=$1
    shift
    "$LDRUN" "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || bad "ldrun $*: exit $got, want $want (stderr: $(head -5 "$T/err"))"
}

has() {
    grep -qF -- "$2" "$1" || bad "$1 lacks '$2': $(cat "$1")"
}

# --check: every unresolved symbol, with its version and what is offered.
run 127 --check "$B/libdiag_missing.so"
has "$T/out" "unresolved: $B/libdiag_missing.so: diag_old@DIAG_2.0; offered: $B/libdiagdep.so diag_old@DIAG_1.0"
has "$T/out" "unresolved: $B/libdiag_missing.so: diag_gone@DIAG_2.0; nothing defines it"
if [ "$sanitized" = 0 ]; then
    has "$T/out" "unresolved: $B/libdiag_missing.so: puts@DIAG_2.0; offered: /lib/x86_64-linux-gnu/libc.so.6 puts@GLIBC_2.2.5"
    has "$T/out" "failed: $B/libdiag_missing.so: 3 undefined symbols"
    [ "$(grep -c '^unresolved: ' "$T/out")" -eq 3 ] || bad "--check: not 3 unresolved lines: $(cat "$T/out")"
fi

# Fallbacks and shims, and the load would succeed; --strict refuses them.
run 0 --check "$B/libnewlibc.so"
has "$T/out" "fallback: $B/libnewlibc.so: __isoc23_sscanf@GLIBC_2.38 -> libc.so.6 __isoc99_sscanf@GLIBC_2.7"
has "$T/out" "shim: $B/libnewlibc.so: strlcpy@GLIBC_2.38 -> ldr shim"
has "$T/out" "ok: $B/libnewlibc.so loads"
run 127 --check --strict "$B/libnewlibc.so"
has "$T/out" "unresolved: $B/libnewlibc.so: strlcpy@GLIBC_2.38"
grep -q '^shim: ' "$T/out" && bad "--strict: shims used"

# Nothing of the library runs: its constructor would crash.
run 0 --check "$B/libdiag_ctor.so"

# --json: one object per line, the same events.
if command -v python3 >/dev/null; then
    run 127 --json "$B/libdiag_missing.so"
    python3 -c '
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
un = {e["symbol"]: e for e in events if e["event"] == "unresolved"}
assert set(un) - {"puts"} == {"diag_old", "diag_gone"} and ("puts" in un) == (sys.argv[3] == "0"), un
assert {"library": sys.argv[2] + "/libdiagdep.so", "version": "DIAG_1.0"} in un["diag_old"]["host_offers"]
assert un["diag_gone"]["host_offers"] == [] and un["diag_gone"]["version"] == "DIAG_2.0"
assert events[-1]["event"] == "result" and events[-1]["ok"] is False
' "$T/out" "$B" "$sanitized" || bad "--json: $(cat "$T/out")"
    run 0 --json "$B/libnewlibc.so"
    python3 -c '
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in events]
assert "fallback" in kinds and "shim" in kinds and events[-1]["ok"] is True, events
' "$T/out" || bad "--json (fallbacks): $(cat "$T/out")"
fi

# --trace: each category gives its lines.
run 44 --trace=reloc,bindings "$B/libldrun.so" ret300
grep -q '^ldr: reloc: .*libldrun.so: RELATIVE +0x[0-9a-f]* = 0x' "$T/err" || bad "--trace=reloc: no relocation lines"
grep -q '^ldr: reloc: .*libldrun.so: JUMP_SLOT +0x[0-9a-f]* = 0x[0-9a-f]* [a-z_]*@GLIBC_' "$T/err" ||
    bad "--trace=reloc: no symbol@version on relocation lines"
grep -q '^ldr: bindings: .*libldrun.so: .*@GLIBC_.* -> host ' "$T/err" || bad "--trace=bindings: no binding lines"
run 0 --trace=files,init,unload "$B/libdiag_gdb.so"
grep -q '^ldr: files: .*libdiag_gdb.so: loaded at base' "$T/err" || bad "--trace=files: no files line"
grep -q '^ldr: init: .*libdiag_gdb.so: calling' "$T/err" || bad "--trace=init: no initializer line"
grep -q '^ldr: unload: .*libdiag_gdb.so: unmapping' "$T/err" || bad "--trace=unload: no unload line"
run 0 --trace=versions "$B/libnewlibc.so"
grep -q '^ldr: versions: .*strlcpy@GLIBC_2.38 -> ldr shim' "$T/err" || bad "--trace=versions: no shim line"
run 0 --trace=statistics "$B/libdiag_gdb.so"
grep -q '^ldr: statistics: .*libdiag_gdb.so: 1 module, [0-9]* relocations (RELR [0-9]*, .*RELATIVE [0-9]' "$T/err" ||
    bad "--trace=statistics: no counts line: $(cat "$T/err")"
grep -q '^ldr: statistics: .*libdiag_gdb.so: time: map [0-9.]* ms, relocate [0-9.]* ms, bind [0-9.]* ms, init [0-9.]* ms' "$T/err" ||
    bad "--trace=statistics: no time line"
grep -v '^ldr: statistics: ' "$T/err" | grep -q '^ldr: ' && bad "--trace=statistics traced other categories"
LDR_DEBUG=statistics LDR_DEBUG_OUTPUT="$T/trace" run 0 "$B/libdiag_gdb.so"
grep -q '^ldr: statistics: ' "$T/trace" 2>/dev/null || bad "LDR_DEBUG_OUTPUT: no statistics lines in the file"
[ -s "$T/err" ] && bad "LDR_DEBUG_OUTPUT: stderr not empty: $(cat "$T/err")"

# Crash reports: the backtrace names the file and the function, and ldrun
# dies of the signal.
[ "$sanitized" = 0 ] || exit $fail
run 139 "$B/libdiag_crash.so" diag_crash
grep -q "^ldr: crash: SIGSEGV at address 0x0" "$T/err" || bad "no crash report: $(cat "$T/err")"
grep -q "^ldr: crash: #0 0x[0-9a-f]* $B/libdiag_crash.so+0x[0-9a-f]* diag_crash_here+0x" "$T/err" ||
    bad "frame 0 is not diag_crash_here (.symtab): $(cat "$T/err")"
grep -q "^ldr: crash: #1 0x[0-9a-f]* $B/libdiag_crash.so+0x[0-9a-f]* diag_crash+0x" "$T/err" ||
    bad "frame 1 is not diag_crash: $(cat "$T/err")"
grep -q "^ldr: crash: #[0-9]* 0x[0-9a-f]* main+0x" "$T/err" || bad "the backtrace does not reach main: $(cat "$T/err")"
run 134 "$B/libdiag_crash.so" diag_abort
grep -q "^ldr: crash: #[0-9]* 0x[0-9a-f]* $B/libdiag_crash.so+0x[0-9a-f]* diag_abort+0x" "$T/err" ||
    bad "SIGABRT: no diag_abort frame: $(cat "$T/err")"
run 139 "$B/libdiag_ctor.so"
grep -q "^ldr: crash: #0 0x[0-9a-f]* $B/libdiag_ctor.so+0x[0-9a-f]* diag_ctor_crash+0x" "$T/err" ||
    bad "constructor crash: no diag_ctor_crash frame: $(cat "$T/err")"
run 139 --no-crash-report "$B/libdiag_crash.so" diag_crash
grep -q "^ldr: crash:" "$T/err" && bad "--no-crash-report: a report anyway"

exit $fail
