# Helpers shared by the second formats batch's shell tests (sourced after lib.sh).
IMGCAT2=${top_builddir:-.}/tests/unit/imgcat2

# same_read IMG [FMT]: the raw view flatimg's core gives equals `qemu-img convert -O raw`'s.
same_read() {
    checks=$((checks + 1))
    local fopt=() copt=()
    [ -n "${2:-}" ] && fopt=(-f "$2") && copt=(-f "$2")
    rm -f sr.q.raw sr.f.raw
    if ! "$QEMU_IMG" convert -U "${copt[@]}" -O raw "$1" sr.q.raw 2>/dev/null; then
        # qemu-img cannot read it either: flatimg must fail cleanly too
        if "$IMGCAT2" "${fopt[@]}" "$1" >/dev/null 2>&1; then
            fail "flatimg read $1 that qemu-img cannot read"
        else
            pass "read of $1 fails as with qemu-img"
        fi
        return
    fi
    if ! "$IMGCAT2" "${fopt[@]}" "$1" >sr.f.raw; then
        fail "flatimg could not read $1"
    elif cmp -s sr.q.raw sr.f.raw; then
        pass "read $1"
    else
        fail "read $1: data differs from qemu-img convert"
    fi
}

# flat_write IMG OFF LEN BYTE: write through flatimg's driver.
flat_write() {
    "$IMGCAT2" -w "$2" "$3" "$4" "$1" || fail "flatimg write $2+$3 to $1"
}

# poke FILE OFFSET BYTES: overwrite bytes (printf escapes such as '\xff') in place.
poke() {
    printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
    sync "$1" # a settled block count (delayed allocation) for the size two programs report
}

# qio IMG CMD...: run qemu-io commands quietly; fail the test when one fails.
qio() {
    local img=$1; shift
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    local out
    out=$("$QEMU_IO" "${args[@]}" "$img" 2>&1)
    if [ $? -ne 0 ] || grep -q -e 'Pattern verification failed' -e 'failed' <<<"$out"; then
        fail "qemu-io $img $*: $out"
    fi
}
