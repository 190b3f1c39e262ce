#!/bin/sh
# libldr, ldrun and libldr-preload run on glibc 2.17 and later, wherever
# they are built: no symbol version they need from glibc may be newer.
set -u
: "${LDR_BUILD:?run through make check}"
command -v readelf >/dev/null || { echo "readelf not found (binutils)" >&2; exit 77; }
# The sanitizer build links its runtime, which needs the glibc it was built on.
if readelf -d "$LDR_BUILD/.libs/libldr.so" | grep -q 'libasan'; then
    echo "sanitizer build: the GLIBC_2.17 floor does not apply" >&2
    exit 77
fi
fail=0
for f in "$LDR_BUILD/.libs/libldr.so" "$LDR_BUILD/.libs/ldrun" "$LDR_BUILD/.libs/libldr-preload.so"; do
    [ -f "$f" ] || { echo "FAIL: $f was not built" >&2; fail=1; continue; }
    # The versions the file needs (.gnu.version_r), one "Name: GLIBC_x.y" each.
    newer=$(readelf -V -W "$f" | sed -n 's/.*Name: \(GLIBC_[0-9][0-9.]*\).*/\1/p' | sort -u |
        awk -F'[_.]' '$2 > 2 || ($2 == 2 && $3 > 17)')
    if [ -n "$newer" ]; then
        echo "FAIL: $f needs $(echo $newer): newer than GLIBC_2.17" >&2
        readelf -W --dyn-syms "$f" | grep -E "@($(echo $newer | tr ' ' '|')) " >&2
        fail=1
    fi
done
exit $fail
