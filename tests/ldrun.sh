#!/bin/sh
# ldrun's command-line conventions.
set -u
: "${LDR_BUILD:?run through make check}"
LDRUN=$LDR_BUILD/ldrun
LIB=$LDR_BUILD/tests/build/libldrun.so
. "$LDR_BUILD/tests/build/loader-env.sh"
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0

bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# runenv EXPECTED-STATUS [VAR=VALUE...] COMMAND ARGS...: runs it through
# env, output in $T/out and $T/err.
runenv() {
    want=$1
    shift
    env "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || bad "$*: exit $got, want $want (stderr: $(cat "$T/err"))"
}

# run EXPECTED-STATUS ARGS...: runs ldrun ARGS.
run() {
    want=$1
    shift
    runenv "$want" "$LDRUN" "$@"
}

unset LDR_DEBUG LDR_DEBUG_OUTPUT

# The status is the return value & 0xff: 300 -> 44.
run 44 "$LIB" ret300
[ -s "$T/out" ] && bad "ldrun printed something of its own on stdout"
[ -s "$T/err" ] && bad "ldrun printed something of its own on stderr"

# argc counts SYMBOL as argv[0].
run 1 "$LIB" retargc
run 4 "$LIB" retargc x y z
run 0 "$LIB" check_argv a "b c"

# argv[1] reaches the function, and its stdio output is flushed.
run 0 "$LIB" print_arg1 "hello, world"
[ "$(cat "$T/out")" = "hello, world" ] || bad "print_arg1 printed '$(cat "$T/out")'"

# A function that takes no arguments.
run 7 "$LIB" noargs

# Without SYMBOL: load, close, exit 0.
run 0 "$LIB"

# SYMBOL not exported: 126 and its name.
run 126 "$LIB" no_such_function
grep -q no_such_function "$T/err" || bad "no_such_function not named on stderr"

# LIB cannot be loaded: 127 and the file name.
run 127 "$T/missing-lib.so" ret300
grep -q "$T/missing-lib.so" "$T/err" || bad "missing library not named on stderr"
echo "not an ELF file" >"$T/garbage.so"
run 127 "$T/garbage.so"
grep -q "$T/garbage.so" "$T/err" || bad "unloadable library not named on stderr"

run 0 --help
[ -s "$T/out" ] || [ -s "$T/err" ] || bad "--help printed nothing"
run 0 --version
grep -qF "$PACKAGE_VERSION" "$T/out" "$T/err" || bad "--version does not give $PACKAGE_VERSION"

# LDR_DEBUG=files traces to stderr, naming the library.
runenv 44 LDR_DEBUG=files "$LDRUN" "$LIB" ret300
grep -q "^ldr: files: .*$LIB" "$T/err" || bad "LDR_DEBUG=files: no 'ldr: files:' line naming $LIB"
grep -v '^ldr: files: ' "$T/err" | grep -q '^ldr: ' && bad "LDR_DEBUG=files traced other categories"

# Several categories, to a file: nothing on stderr.
runenv 44 LDR_DEBUG=bindings,reloc LDR_DEBUG_OUTPUT="$T/trace" "$LDRUN" "$LIB" ret300
[ -s "$T/err" ] && bad "LDR_DEBUG_OUTPUT: stderr is not empty: $(head -3 "$T/err")"
grep -q '^ldr: bindings: ' "$T/trace" 2>/dev/null || bad "LDR_DEBUG_OUTPUT: no bindings lines in the file"
grep -q '^ldr: reloc: ' "$T/trace" 2>/dev/null || bad "LDR_DEBUG_OUTPUT: no reloc lines in the file"
grep -q '^ldr: files: ' "$T/trace" 2>/dev/null && bad "LDR_DEBUG_OUTPUT: files traced though not asked for"

exit $fail
