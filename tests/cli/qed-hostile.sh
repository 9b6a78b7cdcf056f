# qed: corrupted and truncated QED images give qemu-img's errors on open, reads through bad
# tables fail cleanly, and the check finds what qemu-img check finds.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

mk() {
    "$QEMU_IMG" create -q -f qed h.qed 4M
    "$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 2M 64k' h.qed >/dev/null
}
poke() { printf "$2" | dd of=h.qed bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; sync h.qed; }
check_open() {
    same info h.qed
    same info --output=json h.qed
}
# read the whole image: qemu-io's verdict (ok or an error) and ours must agree
check_read() {
    local q=ok f=ok
    "$QEMU_IO" -c 'read 0 4M' h.qed 2>&1 | grep -q '^read [0-9]' || q=fail
    "$IMGCAT" h.qed >/dev/null 2>&1 || f=fail
    expect "$1: read verdict $q" test $q = $f
    if [ $q = ok ]; then
        "$QEMU_IMG" convert -O raw h.qed expect.raw
        expect "$1: data" cmp expect.raw <("$IMGCAT" h.qed)
    fi
}
check_errors() {
    local n l
    if ! "$QEMU_IMG" check h.qed >q.out 2>&1 && grep -q "Could not open" q.out; then
        expect "check: $1: cannot open" sh -c '! "$0" -c h.qed >/dev/null 2>&1' "$IMGCAT"
        return
    fi
    n=$(sed -n 's/^\([0-9]*\) errors were found.*/\1/p' q.out); n=${n:-0}
    l=$(sed -n 's/^\([0-9]*\) leaked clusters were found.*/\1/p' q.out); l=${l:-0}
    local out
    out=$("$IMGCAT" -c h.qed)
    expect "check: $1: $n corruptions, $l leaks" \
        grep -q "^ret=0 corruptions=$n leaks=$l check_errors=0" <<<"$out"
    if "$FLATIMG" check --help >/dev/null 2>&1; then same check h.qed; fi
}

mk; poke 0 'X'; same info -f qed h.qed                              # magic
mk; poke 16 '\x08'; check_open                                      # unknown feature
mk; poke 4 '\x00\x30'; check_open                                   # cluster size
mk; poke 8 '\x03'; check_open                                       # table size
mk; poke 8 '\x01'; check_open                                       # one-cluster tables
mk; poke 48 '\x01\x02'; check_open                                  # size not sectors
mk; poke 48 '\x00\x00\x00\x00\x00\x01'; check_open                  # size too large
mk; poke 40 '\x00\x10'; check_open                                  # L1 not aligned
mk; poke 40 '\x00\x00\x00\x10'; check_open                          # L1 past EOF
mk; poke 40 '\x00\x00'; check_open                                  # L1 in the header
mk; poke 12 '\x00\x00\x01\x00'; check_open                          # header size too large
mk; poke 16 '\x01'; poke 56 '\x00\x00\x01\x00'; poke 60 '\x10'; check_open   # backing name out
mk; poke 16 '\x01'; poke 56 '\x40'; poke 60 '\x08'; check_open      # backing name, no file
mk; truncate -s 200000 h.qed; check_open; check_read truncated; check_errors truncated
mk; truncate -s 100 h.qed; check_open
mk; poke 0x10000 '\x00\x10\x01'; check_open; check_read "bad L2 offset"; check_errors "bad L2 offset"
mk; poke 0x10000 '\x00\x00\x01'; check_read "L2 on L1"; check_errors "L2 on L1"
mk; poke 0x50000 '\x00\x00\x77'; check_read "bad data offset"; check_errors "bad data offset"
mk; poke 0x50008 '\x00\x00\x09'; check_errors "data cluster used twice"
mk; truncate -s 2M h.qed; check_errors "leaks"
mk; check_errors clean
finish
