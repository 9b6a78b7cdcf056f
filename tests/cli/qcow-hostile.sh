# Hostile qcow headers and tables: qemu-img's exact errors (or the same data), never a crash nor a
# huge allocation.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw base.raw 1M
"$QEMU_IMG" create -q -f qcow -b base.raw -F raw a.qcow 4M
qio a.qcow 'write -P 0x11 1M 64k'
variant() { # variant OFFSET BYTES [noread|noprobe]: a copy of a.qcow patched, checked with info and read
    cp a.qcow h.qcow
    poke h.qcow "$1" "$2"
    [ "${3:-}" = noprobe ] || same info h.qcow
    same info --output=json -f qcow h.qcow
    if [ "${3:-}" != noread ] && "$QEMU_IMG" info -f qcow h.qcow >/dev/null 2>&1; then
        same_read h.qcow qcow
    fi
}
variant 0 'QFJ'                                 # magic
variant 7 '\x02' noprobe                        # qcow2's version
variant 7 '\x07' noprobe
variant 8 '\xff\xff\xff\xff\xff\xff\xff\xf0'    # backing name offset
variant 16 '\x00\x00\x04\x00'                   # backing name too long
variant 16 '\x00\x00\x03\xff'                   # backing name past the end
variant 24 '\x00\x00\x00\x00\x00\x00\x00\x01'   # size too small
variant 24 '\xff\xff\xff\xff\xff\xff\xff\xff'   # size too large
variant 24 '\x00\x10\x00\x00\x00\x00\x00\x00'   # L1 table too large
variant 24 '\x7f\xff\xff\xff\xff\xff\xff\xff'
variant 24 '\x00\x00\x04\x00\x00\x00\x00\x00' noread # L1 past the end of the file
variant 32 '\x08'                               # cluster bits
variant 32 '\x11'
variant 33 '\x05'                               # L2 bits
variant 33 '\x0e'
variant 36 '\x00\x00\x00\x02'                   # encryption method
variant 36 '\x00\x00\x00\x01'                   # AES: info only
variant 40 '\xff\xff\xff\xff\xff\xff\xff\x00'   # L1 offset
variant 40 '\x00\x00\x00\x00\x00\x10\x00\x00'
variant 56 '\xff\xff\xff\xff\xff\xff\xff\xff'   # L1 entry
variant 56 '\x00\x00\x00\x00\x00\x10\x00\x00'
: >empty.qcow
same info -f qcow empty.qcow
head -c 40 a.qcow >short.qcow
same info -f qcow short.qcow
finish
