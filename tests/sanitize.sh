#!/bin/sh
# Builds ldr with ./configure --enable-sanitizers in BUILDDIR and runs its
# make check (extra make arguments follow). automake refuses an
# out-of-tree build of a source tree configured in place, so such a tree
# is copied and cleaned first.
#
#   sanitize.sh SRCDIR BUILDDIR [MAKE-ARGS...]
set -eu
src=$(cd "${1:?usage: sanitize.sh SRCDIR BUILDDIR}" && pwd)
build=${2:?usage: sanitize.sh SRCDIR BUILDDIR}
shift 2
mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ -f "$src/config.status" ]; then
    rm -rf "$build/src"
    mkdir "$build/src"
    (cd "$src" && tar cf - --exclude=./build-sanitizers --exclude=.git .) | (cd "$build/src" && tar xf -)
    make -s -C "$build/src" distclean > /dev/null
    src=$build/src
fi
mkdir -p "$build/obj"
cd "$build/obj"
"$src/configure" -q --enable-sanitizers
make -j2 -s
make -j2 check "$@"
