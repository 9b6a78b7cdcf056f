#!/bin/bash
# convert -c -O qcow2 (zlib): the image is clean, equal to the source, has compressed clusters, and
# single-threaded it is byte for byte what qemu-img 7.2 writes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/compress-lib.sh"
need_qemu
make_sources
for src in random text zeros sparse mixed; do
    "$FLATIMG" convert -c -O qcow2 $src.raw f-$src.qcow2 || fail "convert $src"
    "$QEMU_IMG" convert -c -O qcow2 $src.raw q-$src.qcow2
    check_target $src.raw f-$src.qcow2
    sizes $src f-$src.qcow2 q-$src.qcow2
    expect "$src: same bytes as qemu-img" cmp f-$src.qcow2 q-$src.qcow2
done
for src in text sparse mixed; do
    expect "$src: map shows compressed clusters" has_compressed f-$src.qcow2
done
# cluster sizes change the descriptor's bit layout
for cs in 4096 2M; do
    "$FLATIMG" convert -c -O qcow2 -o cluster_size=$cs mixed.raw f-$cs.qcow2 || fail "convert $cs"
    "$QEMU_IMG" convert -c -O qcow2 -o cluster_size=$cs mixed.raw q-$cs.qcow2
    check_target mixed.raw f-$cs.qcow2
    expect "cluster_size=$cs: same bytes as qemu-img" cmp f-$cs.qcow2 q-$cs.qcow2
done
# 512-byte clusters: data and refcounts must be right (qemu places refcount blocks differently)
"$FLATIMG" convert -c -O qcow2 -o cluster_size=512 mixed.raw f-512.qcow2 || fail "convert 512"
check_target mixed.raw f-512.qcow2
expect "cluster_size=512: map shows compressed clusters" has_compressed f-512.qcow2
"$FLATIMG" convert -c -O qcow2 -o extended_l2=on mixed.raw f-l2.qcow2 || fail "convert extl2"
"$QEMU_IMG" convert -c -O qcow2 -o extended_l2=on mixed.raw q-l2.qcow2
check_target mixed.raw f-l2.qcow2
expect "extended_l2: same bytes as qemu-img" cmp f-l2.qcow2 q-l2.qcow2
finish
