#!/bin/bash
# resize --preallocation=metadata|falloc|full growing a qcow2 image leaves the same file as
# qemu-img 7.2: for falloc and full, a new refcount table and the refcount blocks for the new area
# right after the last used cluster, the data clusters in one run after them, the L2 tables after
# that (or in clusters the old L1 and refcount tables left free); v2 and v3, extended L2, 512 B,
# 4 KiB and 2 MiB clusters, 1-bit refcounts, an unaligned old size.
. "$top_srcdir/tests/lib.sh"
need_qemu

# grow_case NAME SIZE MODE SETUP [nodu]
grow_case() {
    local name="$1 $3" size=$2 mode=$3 setup=$4
    rm -rf q f; mkdir q f
    (cd q && eval "$setup") >/dev/null 2>&1 || fail "$name: setup"
    (cd f && eval "$setup") >/dev/null 2>&1
    "$QEMU_IMG" resize -q --preallocation="$mode" q/a.qcow2 "$size" || fail "$name: qemu-img resize"
    capture out "$FLATIMG" resize --preallocation="$mode" f/a.qcow2 "$size"
    expect "$name: message" grep -qx "Image resized." out.out
    expect "$name: same file" cmp q/a.qcow2 f/a.qcow2
    expect "$name: same check" diff <("$QEMU_IMG" check --output=json q/a.qcow2 | grep -v filename) \
                                    <("$QEMU_IMG" check --output=json f/a.qcow2 | grep -v filename)
    expect "$name: same map" diff <("$QEMU_IMG" map --output=json q/a.qcow2) \
                                  <("$QEMU_IMG" map --output=json f/a.qcow2)
    local dq df
    dq=$(du -k q/a.qcow2 | cut -f1); df=$(du -k f/a.qcow2 | cut -f1)
    # the file system's own allocation moves du by a block or two even for identical writes
    expect "$name: same disk size ($dq KiB, $df KiB)" [ $((dq - df)) -le 16 -a $((df - dq)) -le 16 ]
}
W="$QEMU_IO -c 'write -P 1 1M 1M' a.qcow2"
for o in compat=1.1 compat=0.10 extended_l2=on cluster_size=512 cluster_size=512,compat=0.10 \
         cluster_size=2M extended_l2=on,cluster_size=2M refcount_bits=1,cluster_size=4k \
         extended_l2=on,cluster_size=16k; do
    for m in falloc full; do
        grow_case "$o" 50M $m "$QEMU_IMG create -f qcow2 -o $o a.qcow2 10M && $W"
    done
done
for o in compat=1.1 compat=0.10 extended_l2=on cluster_size=2M refcount_bits=1,cluster_size=4k cluster_size=1k \
         cluster_size=2k,refcount_bits=64; do
    grow_case "$o" 50M metadata "$QEMU_IMG create -f qcow2 -o $o a.qcow2 10M && $W"
done
for m in falloc full; do
    grow_case "unaligned" 50M $m "$QEMU_IMG create -f qcow2 a.qcow2 10737152 &&
        $QEMU_IO -c 'write -P 1 10M 512' -c 'write -P 2 0 64k' a.qcow2"
    grow_case "backing" 50M $m "$QEMU_IMG create -f qcow2 b.qcow2 10M &&
        $QEMU_IMG create -f qcow2 -b b.qcow2 -F qcow2 a.qcow2 && $QEMU_IO -c 'write -P 2 0 64k' a.qcow2"
done
finish
