#!/bin/sh
# -o overlay=FILE creates a qcow2 overlay backed by the image and sends every write there: the
# original stays byte-identical, the overlay passes qemu-img check and holds the writes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

$QEMU_IMG create -q -f raw disk.img 2M
$QEMU_IO -f raw -c "write -P 0x66 0 2M" disk.img >/dev/null
cp disk.img orig.img
touch view.raw
fsmount disk.img view.raw -o overlay=over.qcow2,pidfile=$SCRATCH/pid || exit 1
expect "writable through the overlay" sh -c 'printf overlay | dd of=view.raw bs=1 seek=100 conv=notrunc status=none'
fsumount view.raw pid
expect "original untouched" cmp disk.img orig.img
expect "overlay passes qemu-img check" $QEMU_IMG check -q over.qcow2
expect "overlay backed by the image" sh -c "$QEMU_IMG info over.qcow2 | grep -q 'backing file: $SCRATCH/disk.img'"
expect "overlay holds the write" sh -c "$QEMU_IMG convert -O raw over.qcow2 out.raw && dd if=out.raw bs=1 skip=100 count=7 status=none | grep -qx overlay"
expect "an existing overlay is refused" sh -c "! $FLATIMGFS disk.img view.raw -o overlay=over.qcow2 2>/dev/null"
finish
