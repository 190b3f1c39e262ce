# Sourced by the fixture checks (fixture_elf.sh, tls_elf.sh): readelf
# questions about the fixtures in $LDR_BUILD/tests/build.
B=${LDR_BUILD:?run through make check}/tests/build
fail=0

bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# has FILE OPTION PATTERN: readelf OPTION FILE has a line matching PATTERN.
has() {
    readelf -W $2 "$B/$1" | grep -Eq "$3" || bad "$1: no '$3' in readelf $2"
}
lacks() {
    readelf -W $2 "$B/$1" | grep -Eq "$3" && bad "$1: unexpected '$3' in readelf $2"
}
