# Bochs redolog images built by tests/gen-bochs.py: qemu-img reads them as the generator intended
# (proving the generator), flatimg reads the same data and prints the same `info`; hostile
# headers give qemu-img's errors.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build bochs images"
gen() { python3 "$top_srcdir/tests/gen-bochs.py" "$@"; }

gen a.bochs a.raw
gen b.bochs b.raw 0x10000 4096 1000000
gen c.bochs c.raw 0x20000 65536 3000000
for img in a b c; do
    "$QEMU_IMG" convert -f bochs -O raw $img.bochs q.raw
    expect "qemu-img reads the generated $img.bochs as intended" cmp -s q.raw $img.raw
    expect "flatimg reads $img.bochs" cmp -s <("$IMGCAT2" $img.bochs) $img.raw
    same info $img.bochs
    same info --output=json $img.bochs
done
variant() { # variant OFFSET BYTES
    cp a.bochs h.bochs
    poke h.bochs "$1" "$2"
    same info h.bochs
    same info -f bochs h.bochs
    if "$QEMU_IMG" info -f bochs h.bochs >/dev/null 2>&1; then same_read h.bochs bochs; fi
}
variant 0 'bochs'                     # magic
variant 38 'x'                        # type not NUL-terminated
variant 64 '\x00\x00\x03\x00'         # version
variant 72 '\x01\x00\x10\x00'         # catalog too large
variant 72 '\x01\x00\x00\x00'         # catalog too small for the disk
variant 72 '\x00\x00\x10\x00'         # catalog past the end of the file
variant 80 '\xff\x01\x00\x00'         # extent below 512
variant 80 '\x00\x03\x00\x00'         # extent not a power of two
variant 80 '\x00\x00\x00\x01'         # extent too large
variant 68 '\xff\xff\xff\xff'         # catalog offset
variant 88 '\xff\xff\xff\xff\xff\xff\xff\x7f'  # disk size
variant 512 '\xfe\xff\xff\xff'        # catalog slot far past the end of the file
head -c 300 a.bochs >short.bochs
same info -f bochs short.bochs
finish
