#!/bin/bash
# qcow2 write path: writes, zero writes, discards and resizes done by flatimg (through the
# qcow2-tool harness) read back identically in qemu-img, and the images check clean.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

# apply OP ARGS to both the qcow2 image (via flatimg) and a raw mirror (via qemu-io)
both() {
    local img=$1 op=$2 off=$3 len=$4 val=${5:-0}
    case $op in
    write) "$QTOOL" write "$img" "$off" "$len" "$val" || fail "write $img $off $len"
           "$QEMU_IO" -f raw -c "write -P $val $off $len" "$img.raw" >/dev/null ;;
    zero) "$QTOOL" zero "$img" "$off" "$len" || fail "zero $img $off $len"
          "$QEMU_IO" -f raw -c "write -z $off $len" "$img.raw" >/dev/null ;;
    discard) "$QTOOL" discard "$img" "$off" "$len" || fail "discard $img $off $len"
             "$QEMU_IO" -f raw -c "write -z $off $len" "$img.raw" >/dev/null ;;
    esac
}

check_img() { # image content equals the mirror in qemu's eyes, and qemu-img check is clean
    expect "$1 content" "$QEMU_IMG" compare -q -f qcow2 -F raw "$1" "$1.raw"
    expect "$1 check" "$QEMU_IMG" check -q "$1"
}

shapes=(
    "" "compat=0.10" "cluster_size=512" "cluster_size=512,refcount_bits=1" "cluster_size=1k,refcount_bits=64"
    "refcount_bits=2" "refcount_bits=4" "refcount_bits=8" "refcount_bits=32" "cluster_size=2M"
    "extended_l2=on" "extended_l2=on,cluster_size=16k" "lazy_refcounts=on"
)
i=0
for o in "${shapes[@]}"; do
    i=$((i + 1)); img=w$i.qcow2
    "$QEMU_IMG" create -q -f qcow2 ${o:+-o $o} $img 3M
    "$QEMU_IMG" create -q -f raw $img.raw 3M
    both $img write 0 4096 0x11
    both $img write 1000 70000 0x22
    both $img write 2000000 1048576 0x33
    both $img write 3145216 512 0x44
    both $img zero 1048576 65536
    both $img write 1050000 100 0x55
    both $img discard 2097152 1048576
    check_img $img
    expect "$img flatimg reads" "$QTOOL" cmp $img $img.raw
done

# many allocations: refcount blocks and the refcount table must grow
"$QEMU_IMG" create -q -f qcow2 -o cluster_size=512,refcount_bits=64 grow.qcow2 4M
"$QEMU_IMG" create -q -f raw grow.qcow2.raw 4M
for off in $(seq 0 102400 4100000); do both grow.qcow2 write $off 65536 0x66; done
expect "refcount table grew" test "$(od -An -tx1 -j 59 -N 1 grow.qcow2)" != " 01"
check_img grow.qcow2

# qemu writes over what flatimg wrote, and back
"$QEMU_IO" -c 'write -P 0x77 10k 200k' w1.qcow2 >/dev/null
"$QEMU_IO" -f raw -c 'write -P 0x77 10k 200k' w1.qcow2.raw >/dev/null
both w1.qcow2 write 100k 8k 0x78
check_img w1.qcow2

# copy-on-write from a backing chain, and over compressed and shared (snapshot) clusters
"$QEMU_IMG" create -q -f qcow2 base.qcow2 2M
"$QEMU_IO" -c 'write -P 0xa1 0 2M' base.qcow2 >/dev/null
for o in "" "extended_l2=on"; do
    "$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 ${o:+-o $o} cow.qcow2 2M
    "$QEMU_IMG" convert -O raw base.qcow2 cow.qcow2.raw
    both cow.qcow2 write 70000 100 0xb2
    both cow.qcow2 write 1M 33k 0xb3
    both cow.qcow2 zero 0 64k
    check_img cow.qcow2
done
printf 'compressible %.0s' $(seq 1 20000) | head -c 1M >c.raw
"$QEMU_IMG" convert -c -O qcow2 c.raw comp.qcow2
cp c.raw comp.qcow2.raw
both comp.qcow2 write 5000 10 0xc1
check_img comp.qcow2
"$QEMU_IMG" create -q -f qcow2 snap.qcow2 1M
"$QEMU_IMG" create -q -f raw snap.qcow2.raw 1M
both snap.qcow2 write 0 200k 0xd1
"$QEMU_IMG" snapshot -c s1 snap.qcow2
both snap.qcow2 write 4k 4k 0xd2
check_img snap.qcow2
"$QEMU_IMG" snapshot -a s1 snap.qcow2
"$QEMU_IO" -c 'read -P 0xd1 4k 4k' snap.qcow2 >snap.out
expect "snapshot kept" grep -q '^read 4096/4096' snap.out
expect "snapshot kept pattern" test -z "$(grep -i 'verification failed' snap.out)"

# persistent bitmaps are maintained (tests/cli/qcow2-bitmap-track.sh): clean after close
"$QEMU_IMG" create -q -f qcow2 bm.qcow2 1M
"$QEMU_IMG" bitmap --add bm.qcow2 b0
"$QEMU_IMG" create -q -f raw bm.qcow2.raw 1M
both bm.qcow2 write 0 4k 0xf1
check_img bm.qcow2
"$QEMU_IMG" info bm.qcow2 >bm.info
expect "bitmap not left in-use" bash -c "! grep -q 'in-use' bm.info"

# an image left dirty (lazy refcounts, refcounts not written) is repaired by a read-write open
"$QEMU_IMG" create -q -f qcow2 -o lazy_refcounts=on dirty.qcow2 1M
"$QEMU_IO" -c 'write -P 0x61 0 200k' dirty.qcow2 >/dev/null
"$QEMU_IMG" convert -O raw dirty.qcow2 dirty.qcow2.raw
printf '\x00\x00\x00\x00\x00\x00\x00\x01' | dd of=dirty.qcow2 bs=1 seek=72 conv=notrunc status=none
printf '\x00\x00' | dd of=dirty.qcow2 bs=1 seek=$((0x20000 + 10)) conv=notrunc status=none
both dirty.qcow2 write 300k 4k 0x62
check_img dirty.qcow2
"$QEMU_IMG" info dirty.qcow2 >dirty.info
expect "dirty flag cleared" bash -c "! grep -q 'cleanly shut down' dirty.info"

# resize grows the L1 table
"$QEMU_IMG" create -q -f qcow2 -o cluster_size=512 rs.qcow2 64k
"$QTOOL" resize rs.qcow2 10M || fail resize
"$QEMU_IMG" create -q -f raw rs.qcow2.raw 10M
both rs.qcow2 write 9M 4k 0xe1
check_img rs.qcow2

# shrinking drops the clusters past the end and cuts the file exactly as qemu-img resize --shrink
for sz in 1024000 65536 3145728; do
    rm -f q.qcow2 f.qcow2
    "$QEMU_IMG" create -q -f qcow2 q.qcow2 4M
    "$QEMU_IO" -c 'write -P 3 0 4M' q.qcow2 >/dev/null
    cp q.qcow2 f.qcow2
    "$QEMU_IMG" resize -q --shrink q.qcow2 $sz
    "$QTOOL" resize f.qcow2 $sz || fail "shrink $sz"
    expect "shrink to $sz like qemu" cmp q.qcow2 f.qcow2
done
finish
