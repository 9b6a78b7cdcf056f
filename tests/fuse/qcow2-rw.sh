#!/bin/sh
# A rw mount of a qcow2 with a backing file, written with dd and fallocate, then unmounted, passes
# real `qemu-img check`, qemu-io reads the written patterns back (read -P), and the image holds
# exactly the same bytes as the same edits on a raw copy.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
command -v fallocate >/dev/null || skip "fallocate (util-linux) is not installed"

$QEMU_IMG create -q -f qcow2 base.qcow2 4M
$QEMU_IO -c "write -P 0x44 0 4M" base.qcow2 >/dev/null
$QEMU_IMG create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
$QEMU_IMG convert -O raw top.qcow2 ref.raw
edit() {
    head -c 200000 /dev/zero | tr '\0' '\125' | dd of="$1" bs=1 seek=70000 conv=notrunc status=none &&
    fallocate -p -o 1M -l 512k "$1" &&
    fallocate -z -o 3M -l 64k "$1" &&
    dd if=/dev/zero of="$1" bs=4k count=1 seek=900 conv=notrunc,fsync status=none
}
touch view.raw
fsmount top.qcow2 view.raw -o rw,pidfile=$SCRATCH/pid || exit 1
expect "edits through the mount" edit view.raw
edit ref.raw
expect "punched hole reads zeros" test "$(dd if=view.raw bs=64k skip=16 count=8 status=none | tr -d '\0' | wc -c)" = 0
fsumount view.raw pid
expect "qemu-img check" $QEMU_IMG check -q top.qcow2
expect "same bytes as the raw edits" $QEMU_IMG compare -q -F raw top.qcow2 ref.raw
expect "qemu-io reads the writes" qio_ok -c "read -P 0x55 72k 128k" -c "read -P 0 1M 512k" \
    -c "read -P 0 3M 64k" -c "read -P 0 3600k 4k" -c "read -P 0x44 2M 64k" -c "read -P 0x44 0 64k" top.qcow2
expect "backing untouched" $QEMU_IO -c "read -P 0x44 0 4M" base.qcow2
finish
