#!/bin/sh
# A qcow2's corrupt pointers give EIO through ro and rw mounts, with a line in the -d log, where
# qemu reads zeros or other metadata as data: an L2 table past the end of the file, a data cluster
# past the end, L1 entries cut by the end of the file, an L2 table on the L1 table, a compressed
# cluster in the header cluster, and a compressed descriptor that runs past the end of the file.
# The rest of the image reads, -o salvage reads zeros there, and flatimg convert still does what
# qemu-img convert does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
. "$top_srcdir/tests/fuse/lib-corrupt.sh"
need_qemu
need_fuse
need_qcow2

M=1048576
# 64 KiB clusters: one L2 table covers 512 MiB, so L1[0] maps 0 and 1M, L1[1] maps 600M
$QEMU_IMG create -q -f raw src.raw 1G
$QEMU_IO -f raw -c "write -P 0x61 0 64k" -c "write -P 0x62 1M 64k" -c "write -P 0x63 600M 64k" \
    src.raw >/dev/null
$QEMU_IMG convert -O qcow2 src.raw plain.qcow2
$QEMU_IMG convert -c -O qcow2 src.raw comp.qcow2
l1_of() { be64 "$1" 40; }
l2_of() { echo $(( $(be64 "$1" $(( $(l1_of "$1") + 8 * $2 ))) & 0xfffffffffe00 )); }

cp plain.qcow2 l2-eof.qcow2
put_be64 l2-eof.qcow2 "$(l1_of l2-eof.qcow2)" $((0x100000000))
put_hex l2-eof.qcow2 "$(l1_of l2-eof.qcow2)" 80
check_corrupt "L2 table past the end" qcow2 l2-eof.qcow2 0 $((600 * M)) 63

cp plain.qcow2 data-eof.qcow2
put_be64 data-eof.qcow2 "$(l2_of data-eof.qcow2 0)" $((0x100000000))
put_hex data-eof.qcow2 "$(l2_of data-eof.qcow2 0)" 80
check_corrupt "data cluster past the end" qcow2 data-eof.qcow2 0 $M 62

cp plain.qcow2 l2-on-l1.qcow2
put_be64 l2-on-l1.qcow2 "$(l1_of l2-on-l1.qcow2)" "$(l1_of l2-on-l1.qcow2)"
put_hex l2-on-l1.qcow2 "$(l1_of l2-on-l1.qcow2)" 80
check_corrupt "L2 table on the L1 table" qcow2 l2-on-l1.qcow2 0 $((600 * M)) 63

# the L1 table (512-byte clusters: 128 entries of 32 KiB) moved to the end of the file with only
# its first 64 entries there: qemu reads the others as unallocated
$QEMU_IMG create -q -f qcow2 -o cluster_size=512 l1-cut.qcow2 4M
$QEMU_IO -c "write -P 0x61 0 64k" -c "write -P 0x63 3M 64k" l1-cut.qcow2 >/dev/null
end=$(stat -c %s l1-cut.qcow2)
dd if=l1-cut.qcow2 bs=1 skip="$(l1_of l1-cut.qcow2)" count=512 status=none >>l1-cut.qcow2
put_be64 l1-cut.qcow2 40 "$end"
check_corrupt "L1 table cut by the end of the file" qcow2 l1-cut.qcow2 $((3 * M)) 0 61

# compressed descriptors (64 KiB clusters): offset in bits 0-53, extra sectors in bits 54-61
cp comp.qcow2 comp-header.qcow2
at=$(l2_of comp-header.qcow2 0)
put_be64 comp-header.qcow2 "$at" $(( ($(be64 comp-header.qcow2 "$at") & ~((1 << 54) - 1)) | 0x68 ))
check_corrupt "compressed cluster in the header" qcow2 comp-header.qcow2 0 $((600 * M)) 63

# the first cluster's compressed stream moved to the very end of the file: its descriptor's one
# sector runs past the end of the file, as a qemu-io write -c at the end of a file leaves it
cp comp.qcow2 comp-end.qcow2
at=$(l2_of comp-end.qcow2 0)
end=$(stat -c %s comp-end.qcow2)
dd if=comp.qcow2 bs=1 skip=$(( $(be64 comp.qcow2 "$at") & ((1 << 54) - 1) )) count=200 \
    status=none >>comp-end.qcow2
put_be64 comp-end.qcow2 "$at" $(( (1 << 62) | end ))
$QEMU_IMG convert -O raw comp-end.qcow2 want.raw
touch view.raw
MOUNTS="$SCRATCH/view.raw"
fsmount comp-end.qcow2 view.raw -o pidfile=$SCRATCH/pid || exit 1
expect "a compressed cluster at the very end of the file reads" cmp view.raw want.raw
fsumount view.raw pid
# ... and with 255 extra sectors, far past the end
cp comp-end.qcow2 comp-overrun.qcow2
put_be64 comp-overrun.qcow2 "$at" $(( (1 << 62) | (0xff << 54) | end ))
check_corrupt "compressed descriptor past the end" qcow2 comp-overrun.qcow2 0 $((600 * M)) 63
# a snapshot's view reads through the snapshot's own L1 table: the active one being cut by the end
# of the file (as above) is no fault of the snapshot's
$QEMU_IMG create -q -f qcow2 -o cluster_size=512 l1-cut-snap.qcow2 4M
$QEMU_IO -c "write -P 0x61 0 64k" -c "write -P 0x63 3M 64k" l1-cut-snap.qcow2 >/dev/null
$QEMU_IMG snapshot -c s1 l1-cut-snap.qcow2
$QEMU_IMG convert -l snapshot.name=s1 -O raw l1-cut-snap.qcow2 want-s1.raw
end=$(( ($(stat -c %s l1-cut-snap.qcow2) + 511) / 512 * 512 ))
truncate -s "$end" l1-cut-snap.qcow2
dd if=l1-cut-snap.qcow2 bs=1 skip="$(l1_of l1-cut-snap.qcow2)" count=512 status=none \
    >>l1-cut-snap.qcow2
put_be64 l1-cut-snap.qcow2 40 "$end"
touch view.raw
MOUNTS="$SCRATCH/view.raw"
fsmount l1-cut-snap.qcow2 view.raw -o snapshot=s1,pidfile=$SCRATCH/pid || exit 1
expect "a snapshot view is not cut by the active L1 table" cmp view.raw want-s1.raw
fsumount view.raw pid
finish
