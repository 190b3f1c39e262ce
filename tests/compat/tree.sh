#!/bin/sh
# tree.sh SUITE DIR: a Debian SUITE tree in DIR, made once with debootstrap
# and reused while DIR/.ldr-tree names the same package set.
set -eu
suite=$1
dir=$2
mirror=${COMPAT_MIRROR:-http://deb.debian.org/debian}
# What building ldr and the test plugins inside the tree needs.
pkgs=gcc,libc6-dev,make,autoconf,automake,libtool,pkg-config,libxxhash-dev,libelf-dev,libunwind-dev,check
stamp="$suite $pkgs"
if [ -f "$dir/.ldr-tree" ] && [ "$(cat "$dir/.ldr-tree")" = "$stamp" ]; then
    exit 0
fi
command -v debootstrap >/dev/null || { echo "tree.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 || {
    tail -20 "$dir.log" >&2
    exit 1
}
echo "$stamp" >"$dir/.ldr-tree"
