# Hostile parallels headers and catalogs: qemu-img's exact errors (or the same data), never a
# crash nor a huge allocation.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f parallels a.prl 10M
qio a.prl 'write -P 0x11 1M 64k'
variant() { # variant OFFSET BYTES [noread]: a copy of a.prl patched, checked with info and read
    cp a.prl h.prl
    poke h.prl "$1" "$2"
    same info h.prl
    same info --output=json -f parallels h.prl
    if [ -z "${3:-}" ] && "$QEMU_IMG" info -f parallels h.prl >/dev/null 2>&1; then
        same_read h.prl parallels
    fi
}
variant 16 '\x03'                              # version
variant 28 '\x00\x00\x00\x00'                  # zero sectors per track
variant 28 '\x00\x00\x00\x10'                  # cluster too big
variant 32 '\xff\xff\xff\x7f'                  # catalog too large
variant 32 '\xff\xff\xff\x1f'                  # catalog larger than one request
variant 32 '\x00\x00\x00\x01'                  # catalog past the end of the file
variant 32 '\x01\x00\x00\x00'                  # catalog shorter than the disk
variant 36 '\xff\xff\xff\xff\xff\xff\x3f\x00'  # disk too large
variant 36 '\xff\xff\xff\xff\xff\xff\xff\xff'
variant 36 '\x00\x00\xe0\xff\xff\xff\x3f\x00' noread # the largest size qemu accepts
variant 44 '\x59\x6e\x6f\x74'                  # in use (readable)
variant 48 '\xff\xff\xff\xff'                  # data offset
variant 56 '\x08\x00\x00\x00'                  # format extension without its magic
variant 64 '\xff\xff\xff\xff'                  # cluster far past the end of the file
variant 68 '\x01\x00\x00\x00'                  # two entries sharing a cluster
: >empty.prl
same info -f parallels empty.prl
head -c 40 a.prl >short.prl
same info -f parallels short.prl
finish
