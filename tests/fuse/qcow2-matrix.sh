#!/bin/sh
# qcow2 images made by qemu-img/qemu-io — plain with zero clusters, compressed (zlib), a chain of
# depth 3, one with internal snapshots — mounted with flatimgfs: the view's sha256 equals
# `qemu-img convert -O raw`'s, SEEK_DATA/SEEK_HOLE agree with `qemu-img map`, and 4 concurrent
# readers of random ranges and 1 MiB reads (cut into cluster-aligned pieces read by several
# threads: compressed clusters are inflated in parallel) read what the raw conversion holds.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
SEEKMAP=$top_builddir/tests/fuse/seekmap
SIZE=8388608

$QEMU_IMG create -q -f raw src.raw 8M
head -c 1048576 /dev/urandom | dd of=src.raw bs=64k seek=8 conv=notrunc status=none
$QEMU_IO -f raw -c "write -P 0x21 0 300k" -c "write -P 0x42 3M 1M" -c "write -P 0x63 7M 512k" \
    src.raw >/dev/null

$QEMU_IMG convert -O qcow2 src.raw plain.qcow2
$QEMU_IO -c "write -z 3M 256k" -c "write -z 5M 64k" -c "write -P 0x7e 6000k 20k" plain.qcow2 >/dev/null
$QEMU_IMG convert -c -O qcow2 src.raw comp.qcow2
$QEMU_IMG convert -c -O qcow2 src.raw base.qcow2
$QEMU_IMG create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
$QEMU_IO -c "write -P 0x5a 256k 1M" -c "write -z 3200k 128k" mid.qcow2 >/dev/null
$QEMU_IMG create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
$QEMU_IO -c "write -P 0x6b 1M 64k" -c "write -z 512k 64k" -c "write -P 0x6c 7800k 100k" top.qcow2 >/dev/null
cp plain.qcow2 snap.qcow2
$QEMU_IMG snapshot -c s1 snap.qcow2
$QEMU_IO -c "write -P 0x99 2M 2M" -c "write -z 0 64k" snap.qcow2 >/dev/null

# reader SEED VIEW REF: 30 random ranges of VIEW compared with the same ranges of REF
reader() {
    awk -v seed="$1" -v size=$SIZE 'BEGIN { srand(seed); for (i = 0; i < 30; i++) {
        off = int(rand() * (size - 1)); len = 1 + int(rand() * 400000);
        if (off + len > size) len = size - off; print off, len } }' |
    while read -r off len; do
        dd if="$2" bs=64k iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none >"r$1"
        dd if="$3" bs=64k iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none |
            cmp -s - "r$1" || { echo "reader $1: $2 differs at $off+$len"; exit 1; }
    done
}

for img in plain comp top snap; do
    $QEMU_IMG convert -O raw $img.qcow2 $img.ref
    touch $img.raw
    fsmount $img.qcow2 $img.raw -o pidfile=$SCRATCH/pid || { fail "mount $img"; continue; }
    expect "$img: sha256 = convert -O raw" test "$(sha256sum <$img.raw)" = "$(sha256sum <$img.ref)"
    # 1 MiB requests, each shared by the read pool's threads
    expect "$img: 1 MiB reads" test "$(dd if=$img.raw bs=1M status=none | sha256sum)" = "$(sha256sum <$img.ref)"
    expect "$img: 4 KiB reads" test "$(dd if=$img.raw bs=4k status=none | sha256sum)" = "$(sha256sum <$img.ref)"
    expect "$img: 1 MiB reads at odd offsets" test \
        "$(dd if=$img.raw bs=1M skip=12345 iflag=skip_bytes status=none | sha256sum)" = \
        "$(dd if=$img.ref bs=1M skip=12345 iflag=skip_bytes status=none | sha256sum)"
    qemu_data_map $img.qcow2 >$img.want
    "$SEEKMAP" $img.raw >$img.got
    expect "$img: SEEK_DATA/SEEK_HOLE = qemu-img map" diff -u $img.want $img.got
    for s in 1 2 3 4; do reader $s $img.raw $img.ref & eval "pid$s=\$!"; done
    for s in 1 2 3 4; do eval "expect \"$img: concurrent reader $s\" wait \$pid$s"; done
    fsumount $img.raw pid
done
finish
