# vdi check as qemu-img 7.2's on damaged copies of a qemu-made image (human, JSON, and -r, which
# qemu's vdi check refuses).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f vdi a.vdi 4M
qio a.vdi 'write -P 0x11 0 64k' 'write -P 0x22 2M 64k' 'write -P 0x33 3M 1M'
variant() { cp a.vdi h.vdi; poke h.vdi "$1" "$2"; same_check h.vdi; }
same_check a.vdi
variant 0x204 '\x00\x00\x00\x00'                  # block used twice
variant 0x204 '\x09\x00\x00\x00'                  # block index too large
variant 0x184 '\x05'                              # allocated count mismatch
"$QEMU_IMG" create -q -f vdi -o static=on s.vdi 2M
same_check s.vdi
finish
