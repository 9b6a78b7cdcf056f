# vdi: corrupted and truncated VDI images give qemu-img's errors on open (never a crash), and
# reads of blocks pointing outside the file give zeros as in qemu.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

mk() {
    "$QEMU_IMG" create -q -f vdi h.vdi 4M
    "$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 2M 64k' h.vdi >/dev/null
}
poke() { printf "$2" | dd of=h.vdi bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; sync h.vdi; }
check() {
    same info h.vdi
    same info --output=json h.vdi
    if "$QEMU_IMG" convert -O raw h.vdi expect.raw 2>/dev/null; then
        expect "reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" h.vdi)
    fi
}

mk; poke 0x40 'x'; same info -f vdi h.vdi                          # bad signature
mk; poke 0x44 '\x02\x00\x01\x00'; check                             # version
mk; poke 0x154 '\x01\x02'; check                                    # unaligned map offset
mk; poke 0x158 '\x01\x02'; check                                    # unaligned data offset
mk; poke 0x168 '\x00\x10'; check                                    # sector size
mk; poke 0x178 '\x00\x00\x20\x00'; check                            # block size
mk; poke 0x170 '\x00\x00\x00\x01'; check                            # size beyond the map
mk; poke 0x170 '\x00\x00\x00\x00\x00\x00\x10\x00'; check            # size beyond the maximum
mk; poke 0x170 '\x01\x02\x40\x00'; check                            # odd size: rounded up
mk; poke 0x1a8 'x'; check                                           # link UUID
mk; poke 0x1b8 'x'; check                                           # parent UUID
mk; poke 0x180 '\x00\x00\x00\x40'; poke 0x170 '\x00\x00\x00\x01'; check  # too many blocks
mk; poke 0x180 '\x00\x00\x00\x1f'; check                            # huge map
mk; poke 0x154 '\x00\x00\x00\x7f'; check                            # map past EOF
mk; poke 0x158 '\x00\x00\x00\x7f'; check                            # data past EOF
mk; poke 0x200 '\x00\x00\x00\x70'; check                            # block past EOF
mk; truncate -s 600000 h.vdi; check                                 # truncated data
mk; truncate -s 700 h.vdi; check                                    # truncated map
mk; truncate -s 300 h.vdi; same info -f vdi h.vdi                   # truncated header
# check: qemu's messages, and as many errors as qemu-img check counts (the check command itself
# is compared where flatimg has it)
check_errors() {
    "$QEMU_IMG" check h.vdi >q.out 2>q.err
    "$IMGCAT" -c h.vdi >f.out 2>f.err
    local n
    n=$(sed -n 's/^\([0-9]*\) errors were found.*/\1/p' q.out); n=${n:-0}
    expect "check: $1: messages" diff -u q.err f.err
    expect "check: $1: $n corruptions" grep -q "^ret=0 corruptions=$n leaks=0 check_errors=0" f.out
    if "$FLATIMG" check --help >/dev/null 2>&1; then same check h.vdi; fi
}
mk; poke 0x204 '\x00\x00\x00\x00'; check_errors "block used twice"
mk; poke 0x204 '\x09\x00\x00\x00'; check_errors "block index too large"
mk; poke 0x184 '\x05'; check_errors "count mismatch"
mk; check_errors "clean"
finish
