# vmdk: every subformat written by qemu-io/qemu-img (sparse, flat, split, streamOptimized with
# compressed grains, a parent chain) reads back through the driver core as `qemu-img convert`
# gives it; info with its format-specific extents and block status match qemu-img.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

"$QEMU_IMG" create -q -f vmdk sparse.vmdk 10M
"$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' -c 'write -P 0x33 65000 1k' \
    sparse.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 10M
"$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' flat.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 5G
"$QEMU_IO" -c 'write -P 0x11 2G 64k' -c 'write -P 0x22 4G 4k' -c 'write -P 0x23 2047M 2M' \
    split.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentFlat splitflat.vmdk 3G
"$QEMU_IO" -c 'write -P 0x11 2047M 2M' splitflat.vmdk >/dev/null
"$QEMU_IMG" convert -O vmdk -o subformat=streamOptimized sparse.vmdk stream.vmdk
"$QEMU_IMG" create -q -f vmdk -o subformat=streamOptimized emptystream.vmdk 3M
"$QEMU_IMG" create -q -f vmdk -b sparse.vmdk -F vmdk child.vmdk
"$QEMU_IO" -c 'write -P 0x44 4k 4k' -c 'write -P 0x45 9M 64k' child.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on zeroed.vmdk 4M
"$QEMU_IO" -c 'write -P 0x55 0 256k' -c 'write -z 64k 64k' -c 'write -z 1M 128k' \
    zeroed.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -o adapter_type=lsilogic,hwversion=7,toolsversion=9 lsi.vmdk 1M
"$QEMU_IMG" create -q -f vmdk tiny.vmdk 1000

for img in sparse flat stream emptystream child zeroed lsi tiny; do
    "$QEMU_IMG" convert -O raw $img.vmdk expect.raw
    expect "$img reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" $img.vmdk)
done
expect "split: data across the extent boundary" cmp <(head -c 2097152 /dev/zero | tr '\0' '\043') \
    <("$IMGCAT" -r 2146435072:2097152 split.vmdk)
expect "split: the far extent" cmp <(head -c 4096 /dev/zero | tr '\0' '\042') \
    <("$IMGCAT" -r 4294967296:4096 split.vmdk)
expect "splitflat: across the boundary" cmp <(head -c 2097152 /dev/zero | tr '\0' '\021') \
    <("$IMGCAT" -r 2146435072:2097152 splitflat.vmdk)
for img in sparse flat split splitflat stream emptystream child zeroed lsi tiny; do
    "$QEMU_IMG" map --output=json $img.vmdk >qmap
    expect "$img block status as qemu-img map" diff -u qmap <("$IMGCAT" -m $img.vmdk)
    same info $img.vmdk
    same info --output=json $img.vmdk
done
same info --backing-chain child.vmdk
same info --backing-chain --output=json child.vmdk
finish
