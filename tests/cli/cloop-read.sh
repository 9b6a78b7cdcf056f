# cloop images built by tests/gen-cloop.py (zlib blocks): qemu-img reads them as the generator
# intended (proving the generator), flatimg reads the same data and prints the same `info`;
# hostile headers and offsets give qemu-img's errors.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build cloop images"
gen() { python3 "$top_srcdir/tests/gen-cloop.py" "$@"; }

gen a.cloop a.raw
gen b.cloop b.raw 1536 5
gen c.cloop c.raw 512 1
for img in a b c; do
    "$QEMU_IMG" convert -f cloop -O raw $img.cloop q.raw
    expect "qemu-img reads the generated $img.cloop as intended" cmp -s q.raw $img.raw
    expect "flatimg reads $img.cloop" cmp -s <("$IMGCAT2" $img.cloop) $img.raw
    same info $img.cloop
    same info --output=json $img.cloop
done
variant() { # variant OFFSET BYTES
    cp a.cloop h.cloop
    poke h.cloop "$1" "$2"
    same info h.cloop
    same info -f cloop h.cloop
    if "$QEMU_IMG" info -f cloop h.cloop >/dev/null 2>&1; then same_read h.cloop cloop; fi
}
variant 0 '#!/bin/bash'               # not probed as cloop
variant 128 '\x00\x00\x01\x01'        # block size not a multiple of 512
variant 128 '\x00\x00\x00\x00'        # block size zero
variant 128 '\x04\x00\x02\x00'        # block size too large
variant 132 '\x20\x00\x00\x00'        # too many blocks
variant 132 '\x1f\xff\xff\xff'
variant 132 '\x04\x00\x00\x00'        # offsets past the end of the file
variant 132 '\x00\x00\x00\x08'        # one block more than stored
variant 144 '\x00\x00\x00\x00\x00\x00\x00\x00'  # offsets not increasing
variant 144 '\x00\x00\x00\x00\x10\x00\x00\x00'  # compressed block too large
variant 152 '\x00\x00\x00\x00\x00\x00\x00\xa0'  # a block that does not inflate
head -c 150 a.cloop >short.cloop
same info -f cloop short.cloop
same_read short.cloop cloop
finish
