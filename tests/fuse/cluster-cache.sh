#!/bin/sh
# Small reads into a compressed cluster are served from a cache of whole decoded clusters: 16
# reads of 4 KiB inside one 64 KiB zlib cluster read the image file once, not 16 times (the
# daemon's rchar in /proc/PID/io), and every small read returns what qemu-img convert gives.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
[ -r /proc/self/io ] || skip "/proc/PID/io is not available"

$QEMU_IMG create -q -f raw src.raw 4M
seq 1 400000 | head -c 2M | dd of=src.raw conv=notrunc status=none
$QEMU_IMG convert -c -O qcow2 src.raw comp.qcow2
touch view.raw
fsmount comp.qcow2 view.raw -o pidfile=$SCRATCH/pid || exit 1
pid=$(cat pid)
rchar() { awk '/^rchar/ { print $2 }' /proc/$pid/io; }

r0=$(rchar)
dd if=view.raw of=/dev/null bs=4k count=1 skip=16 status=none # cluster 1, first read
r1=$(rchar)
dd if=view.raw of=/dev/null bs=4k count=16 skip=32 status=none # cluster 2, 16 reads
r2=$(rchar)
one=$((r1 - r0)) sixteen=$((r2 - r1))
echo "image bytes read: one 4 KiB read $one, sixteen in one cluster $sixteen"
expect "16 small reads of one compressed cluster read it once" test "$sixteen" -lt $((2 * one))
expect "4 KiB reads = convert -O raw" sh -c 'dd if=view.raw bs=4k status=none | cmp - src.raw'
expect "512 B reads at odd offsets" sh -c \
    'dd if=view.raw bs=512 skip=777 count=3000 status=none | cmp - "$(dd if=src.raw bs=512 skip=777 count=3000 status=none >part; echo part)"'
fsumount view.raw pid
finish
