#!/bin/bash
# A refcount block that the growing file needs is placed where qemu 7.2's alloc_refcount_block
# puts it: at the first free cluster after the run being allocated (counting itself when it lies in
# the range it covers), the run searched again: images written across many refcount block ranges
# (small clusters, wide refcounts) come out as qemu-img writes them.
. "$top_srcdir/tests/lib.sh"
need_qemu

truncate -s 64M src.raw
for o in 0 160 336 480 720; do
    dd if=/dev/urandom of=src.raw bs=64k count=8 seek=$o conv=notrunc status=none
done
for o in cluster_size=4k,refcount_bits=64 cluster_size=2k,refcount_bits=1 cluster_size=512 cluster_size=1k \
         cluster_size=4k,refcount_bits=32 cluster_size=8k,refcount_bits=64; do
    rm -f q.qcow2 f.qcow2
    "$QEMU_IMG" convert -O qcow2 -o $o src.raw q.qcow2
    "$FLATIMG" convert -O qcow2 -o $o src.raw f.qcow2
    expect "convert -o $o: same file" cmp q.qcow2 f.qcow2
    expect "convert -o $o: clean" "$QEMU_IMG" check -q f.qcow2
done
finish
