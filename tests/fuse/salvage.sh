#!/bin/sh
# A corrupt region (an L1 entry of a qcow2 with an unaligned L2 table offset) gives EIO for
# reads there, logged on stderr with -f, never zeros passed off as data; the rest reads fine; and
# -o salvage reads the region as zeros on purpose.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

# 64 KiB clusters: one L2 table covers 512 MiB, so a 1 GiB image has two L1 entries
$QEMU_IMG create -q -f qcow2 disk.qcow2 1G
$QEMU_IO -c "write -P 0x61 0 64k" -c "write -P 0x62 600M 64k" disk.qcow2 >/dev/null
l1=$(od -An -tu8 --endian=big -j 40 -N 8 disk.qcow2 | tr -d ' ')
# L1[0] -> an L2 table at 0x10200 (COPIED flag set): not cluster-aligned, qemu's EIO case
printf '\200\000\000\000\000\001\002\000' | dd of=disk.qcow2 bs=1 seek="$l1" conv=notrunc status=none

touch view.raw
"$FLATIMGFS" -f disk.qcow2 view.raw 2>log &
fspid=$!
MOUNTS="$SCRATCH/view.raw"
# the mount is ready once the size shows (flatimgfs -f does not return)
timeout 30 sh -c 'until [ "$(stat -c %s view.raw)" = 1073741824 ]; do :; done'
expect "corrupt region gives EIO" sh -c '! dd if=view.raw of=/dev/null bs=64k count=1 2>err && grep -q "Input/output error" err'
expect "intact region reads" sh -c "dd if=view.raw bs=64k skip=9600 count=1 status=none | od -An -tx1 | head -1 | grep -q '62 62'"
fusermount3 -u view.raw
wait $fspid
expect "the error is logged" grep -q "failed: Input/output error" log

fsmount disk.qcow2 view.raw -o salvage,pidfile=$SCRATCH/pid || exit 1
expect "-o salvage reads zeros" test "$(dd if=view.raw bs=64k count=2 status=none | tr -d '\0' | wc -c)" = 0
expect "-o salvage: intact region still reads" sh -c "dd if=view.raw bs=64k skip=9600 count=1 status=none | od -An -tx1 | head -1 | grep -q '62 62'"
fsumount view.raw pid
finish
