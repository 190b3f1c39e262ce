#!/bin/sh
# make check-valgrind: the log compiler that runs one check program under
# valgrind memcheck (through libtool, which finds the real binary behind
# a wrapper script). Any error or definite leak fails the test.
# valgrind reads the debug information of every file mapped and gives up
# on the malformed test's deliberately broken ones: that test runs as is.
leaks=full
case $1 in
*check_malformed*) exec "$@" ;;
# Their plugins are runtimes that keep memory by design (NO_LEAK_REPORT in
# the programs): errors still count, leaks do not.
*check_real* | *check_rust* | *check_omp*) leaks=no ;;
esac
LDR_UNDER_VALGRIND=1
export LDR_UNDER_VALGRIND
exec "${LDR_BUILD:?run through make check}/libtool" --mode=execute \
    valgrind -q --error-exitcode=1 --suppressions="${LDR_SRC:?}/tests/valgrind.supp" --leak-check=$leaks --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --trace-children=yes "$@"
