#!/bin/bash
# resize --shrink of qcow2 images leaves the same file as qemu-img 7.2: the clusters past the new
# end discarded (holes punched: same `disk size`), the refcount blocks that count only themselves
# dropped (qcow2_shrink_reftable), the file cut after its last used cluster; v2 and v3, extended
# L2, small and large clusters, every refcount width, snapshots, a backing file, compressed data.
. "$top_srcdir/tests/lib.sh"
need_qemu

# shrink_case NAME SIZE SETUP: SETUP (run in q/ and f/) builds a.qcow2; both are shrunk to SIZE
shrink_case() {
    local name=$1 size=$2 setup=$3
    rm -rf q f; mkdir q f
    (cd q && eval "$setup") >/dev/null 2>&1 || fail "$name: setup"
    (cd f && eval "$setup") >/dev/null 2>&1
    "$QEMU_IMG" resize -q --shrink q/a.qcow2 "$size" || fail "$name: qemu-img resize"
    capture out "$FLATIMG" resize --shrink f/a.qcow2 "$size"
    expect "$name: message" grep -qx "Image resized." out.out
    expect "$name: same file" cmp q/a.qcow2 f/a.qcow2
    expect "$name: same check" diff <("$QEMU_IMG" check --output=json q/a.qcow2 | grep -v filename) \
                                    <("$QEMU_IMG" check --output=json f/a.qcow2 | grep -v filename)
    expect "$name: same map" diff <("$QEMU_IMG" map --output=json q/a.qcow2) \
                                  <("$QEMU_IMG" map --output=json f/a.qcow2)
    if [ -z "${SMALL:-}" ]; then
        # the file system's own allocation moves du by a block or two even for identical writes
        local dq df
        dq=$(du -k q/a.qcow2 | cut -f1); df=$(du -k f/a.qcow2 | cut -f1)
        expect "$name: same disk size ($dq KiB, $df KiB)" [ $((dq - df)) -le 16 -a $((df - dq)) -le 16 ]
    fi
}
W="$QEMU_IO -c 'write -P 3 60M 2M' -c 'write -P 1 0 4M' -c 'write -P 2 20M 8M' a.qcow2"
for o in compat=1.1 compat=0.10 extended_l2=on cluster_size=2M refcount_bits=1 refcount_bits=64 \
         cluster_size=4k,refcount_bits=8; do
    shrink_case "$o" 22M "$QEMU_IMG create -f qcow2 -o $o a.qcow2 64M && $W"
    shrink_case "$o to 1M" 1M "$QEMU_IMG create -f qcow2 -o $o a.qcow2 64M && $W"
done
# 512-byte clusters: the refcount blocks past the new end are dropped; holes punched in pieces
# smaller than a file system block make `disk size` depend on qemu's discard order (not compared)
for o in cluster_size=512 cluster_size=512,refcount_bits=1 cluster_size=1k,refcount_bits=64; do
    SMALL=1 shrink_case "$o" 22M "$QEMU_IMG create -f qcow2 -o $o a.qcow2 64M && $W"
    SMALL=1 shrink_case "$o to 1M" 1M "$QEMU_IMG create -f qcow2 -o $o a.qcow2 64M && $W"
done
shrink_case backing 22M "$QEMU_IMG create -f qcow2 b.qcow2 64M && $QEMU_IO -c 'write -P 9 0 64M' b.qcow2 &&
    $QEMU_IMG create -f qcow2 -F qcow2 -b b.qcow2 a.qcow2 && $W"
shrink_case compressed 3M "$QEMU_IMG create -f qcow2 a.qcow2 64M && $W &&
    $QEMU_IMG convert -c -O qcow2 a.qcow2 c.qcow2 && mv c.qcow2 a.qcow2 && $QEMU_IO -c 'write -P 7 0 1M' a.qcow2"
# snapshots carry a creation time: the snapshot table is made once and copied
rm -rf s; mkdir s
(cd s && "$QEMU_IMG" create -q -f qcow2 a.qcow2 64M && eval "$W" && "$QEMU_IMG" snapshot -c s1 a.qcow2 &&
    "$QEMU_IO" -c 'write -P 5 60M 1M' -c 'write -P 6 0 64k' a.qcow2) >/dev/null
shrink_case snapshot 22M "cp --sparse=never ../s/a.qcow2 a.qcow2"
finish
