#!/bin/sh
# SEEK_DATA/SEEK_HOLE on the mounted view agree with `qemu-img map --output=json` on the image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
SEEKMAP=$top_builddir/tests/fuse/seekmap

$QEMU_IMG create -q -f raw disk.img 8M
$QEMU_IO -f raw -c "write -P 1 0 64k" -c "write -P 2 1M 1M" -c "write -P 3 7M 1M" disk.img >/dev/null
touch view.raw
fsmount disk.img view.raw -o pidfile=$SCRATCH/pid || exit 1
qemu_data_map -f raw disk.img >expected
"$SEEKMAP" view.raw >got
expect "data extents match qemu-img map" diff -u expected got
$QEMU_IMG map --output=json -f raw view.raw >mapped
$QEMU_IMG map --output=json -f raw disk.img >orig
expect "qemu-img map through the mount equals the image's" diff -u orig mapped
fsumount view.raw pid
finish
