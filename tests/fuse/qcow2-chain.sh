#!/bin/sh
# qcow2 images made by qemu-img/qemu-io through flatimgfs: a chain of depth 3 with compressed and
# zero clusters. The main view's sha256 equals `qemu-img convert -O raw`'s, SEEK_DATA/SEEK_HOLE
# agree with `qemu-img map`, layers/ hold each layer alone, and backing=off the top layer alone.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
SEEKMAP=$top_builddir/tests/fuse/seekmap

# base: data, then compressed by convert -c
$QEMU_IMG create -q -f raw base.raw 4M
$QEMU_IO -f raw -c "write -P 0x10 0 1M" -c "write -P 0x11 3M 512k" base.raw >/dev/null
$QEMU_IMG convert -c -O qcow2 base.raw base.qcow2
$QEMU_IMG create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
$QEMU_IO -c "write -P 0x20 512k 1M" -c "write -z 3M 128k" mid.qcow2 >/dev/null
$QEMU_IMG snapshot -c snap1 mid.qcow2
$QEMU_IO -c "write -P 0x21 2M 64k" mid.qcow2 >/dev/null
$QEMU_IMG create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
$QEMU_IO -c "write -P 0x30 64k 64k" -c "write -z 768k 64k" -c "write -P 0x31 3968k 128k" \
    top.qcow2 >/dev/null

raw_of() { $QEMU_IMG convert -O raw "$@" out.raw && sha256sum <out.raw; }
alone() { raw_of "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$1\"},\"backing\":null}"; }

mkdir mnt
fsmount top.qcow2 mnt -o pidfile=$SCRATCH/pid || exit 1
expect "main view = convert -O raw" test "$(sha256sum <mnt/top.raw)" = "$(raw_of top.qcow2)"
qemu_data_map top.qcow2 >want.map
"$SEEKMAP" mnt/top.raw >got.map
expect "SEEK_DATA/SEEK_HOLE = qemu-img map" diff -u want.map got.map
expect "layer 0 alone" test "$(sha256sum <mnt/layers/0-top.qcow2.raw)" = "$(alone top.qcow2)"
expect "layer 1 alone" test "$(sha256sum <mnt/layers/1-mid.qcow2.raw)" = "$(alone mid.qcow2)"
expect "layer 2 (compressed)" test "$(sha256sum <mnt/layers/2-base.qcow2.raw)" = "$(raw_of base.qcow2)"
expect "info.json lists the chain" test "$(grep -c '"filename"' mnt/info.json)" -ge 3
fsumount mnt pid

touch top.raw
fsmount top.qcow2 top.raw -o backing=off,pidfile=$SCRATCH/pid4 || exit 1
expect "-o backing=off is the top layer alone" test "$(sha256sum <top.raw)" = "$(alone top.qcow2)"
fsumount top.raw pid4
finish
