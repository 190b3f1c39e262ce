#!/bin/sh
# make check-compat: new-glibc plugins on an old glibc, for real.
#   - Debian bullseye (glibc 2.31) and trixie (glibc 2.41) trees, made with
#     debootstrap once and cached in $COMPAT_CACHE;
#   - a C plugin built in trixie, a Rust cdylib built here (glibc 2.36);
#   - in bullseye: its system loader refuses both; ldr, built from source
#     there, loads both and a host checks their results; an unmodified host
#     with LD_PRELOAD=libldr-preload.so (built here) dlopens the Rust one;
#   - here: ldr loads the trixie plugin and the host checks it.
# Runs as root (chroot). Exit 77 (skip) when that or debootstrap is missing.
set -eu
: "${LDR_BUILD:?run through make check-compat}" "${LDR_SRC:?}" "${COMPAT_CACHE:?}"
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null; then
    echo "check-compat: needs root and debootstrap (apt-get install debootstrap)" >&2
    exit 77
fi
old=$COMPAT_CACHE/bullseye
new=$COMPAT_CACHE/trixie
sh "$here/tree.sh" bullseye "$old"
sh "$here/tree.sh" trixie "$new"

fail=0
bad() {
    echo "FAIL: $*" >&2
    fail=1
}
step() {
    echo "== $*"
}
# inside TREE CMD...: runs CMD in the tree, in /ldr-compat.
inside() {
    tree=$1
    shift
    chroot "$tree" /bin/sh -c "cd /ldr-compat && $*"
}

W=$LDR_BUILD/tests/build/compat-run
rm -rf "$W" "$old/ldr-compat" "$new/ldr-compat"
mkdir -p "$W" "$old/ldr-compat/src" "$new/ldr-compat"
echo "the data file the plugins stat" >"$W/data.txt"

step "trixie: the C plugin, with _GNU_SOURCE"
cp "$here/plugin.c" "$new/ldr-compat/"
inside "$new" gcc -O2 -fPIC -shared -o libplugin_c.so plugin.c -lm -lpthread
cp "$new/ldr-compat/libplugin_c.so" "$W/"
readelf -W --dyn-syms "$W/libplugin_c.so" | grep -q '__isoc23_strtol@GLIBC_2.38' ||
    bad "the trixie plugin does not import __isoc23_strtol@GLIBC_2.38"

plugins=c
if [ -n "${CARGO:-}" ] && [ "$CARGO" != no ]; then
    step "here: the Rust cdylib (cargo --offline)"
    cp -r "$here/rust" "$W/rust"
    (cd "$W/rust" && "$CARGO" build --offline --release --quiet)
    cp "$W/rust/target/release/libldr_compat_plugin.so" "$W/libplugin_rust.so"
    readelf -W --dyn-syms "$W/libplugin_rust.so" | grep -q 'pthread_key_create@GLIBC_2.34' ||
        bad "the Rust plugin does not import pthread_key_create@GLIBC_2.34"
    plugins="c rust"
else
    echo "check-compat: no cargo: the Rust plugin is skipped" >&2
fi

step "bullseye: ldr from source, as a vendor with an old system builds it"
# The source as it stands (committed or not), without build products.
(cd "$LDR_SRC" && if [ -d .git ]; then git ls-files -z --cached --others --exclude-standard; else
    find . -path ./.git -prune -o -type f -print0; fi | tar --null -T - -cf -) | tar -xf - -C "$old/ldr-compat/src"
inside "$old" "cd src && autoreconf -fi >/dev/null 2>&1 && ./configure -q && make -j2 libldr.la ldrun libldr-preload.la >/dev/null" ||
    { bad "ldr does not build in bullseye"; exit 1; }
cp "$here/host.c" "$W/libplugin_c.so" "$W/data.txt" "$old/ldr-compat/"
[ -f "$W/libplugin_rust.so" ] && cp "$W/libplugin_rust.so" "$old/ldr-compat/"
inside "$old" "gcc -O2 -o host_ldr host.c -Isrc/include -Lsrc/.libs -lldr -lm -Wl,-rpath,/ldr-compat/src/.libs"
inside "$old" "gcc -O2 -DUSE_DLOPEN -o host_dl host.c -ldl -lm"
cp "$LDR_BUILD/.libs/libldr-preload.so" "$old/ldr-compat/"

for p in $plugins; do
    step "bullseye: the system loader refuses the $p plugin"
    out=$(inside "$old" ./host_dl $p ./libplugin_$p.so data.txt) && bad "bullseye's dlopen loaded the $p plugin"
    echo "$out"
    echo "$out" | grep -q "version \`GLIBC_2\.[0-9]*' not found" || bad "no missing-version refusal for $p"

    step "bullseye: ldr loads the $p plugin and the host checks it (LDR_DEBUG=versions)"
    inside "$old" LDR_DEBUG=versions ./host_ldr $p ./libplugin_$p.so data.txt || bad "ldr in bullseye: $p plugin"
done
if [ -f "$W/libplugin_rust.so" ]; then
    step "bullseye: an unmodified host with LD_PRELOAD=libldr-preload.so (built here) dlopens the Rust plugin"
    inside "$old" LD_PRELOAD=/ldr-compat/libldr-preload.so ./host_dl rust ./libplugin_rust.so data.txt ||
        bad "the preload library in bullseye"
fi

step "here: ldr loads the trixie plugin"
${CC:-cc} -O2 -o "$W/host_ldr" "$here/host.c" -I"$LDR_SRC/include" -L"$LDR_BUILD/.libs" -lldr -lm \
    -Wl,-rpath,"$LDR_BUILD/.libs"
LDR_DEBUG=versions "$W/host_ldr" c "$W/libplugin_c.so" "$W/data.txt" || bad "ldr here: the trixie plugin"

[ $fail -eq 0 ] && echo "check-compat: all passed"
exit $fail
