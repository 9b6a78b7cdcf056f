#!/bin/sh
# Every format this build reads, mounted: images made by `qemu-img convert -O FMT` of the same
# scattered data show the sha256 of `qemu-img convert -O raw` and the data extents of
# `qemu-img map` through SEEK_DATA/SEEK_HOLE. Formats the build lacks are reported and skipped.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
SEEKMAP=$top_builddir/tests/fuse/seekmap

$QEMU_IMG create -q -f raw src.raw 6M
$QEMU_IO -f raw -c "write -P 0x71 0 64k" -c "write -P 0x72 1M 1M" -c "write -P 0x73 5M 4k" \
    src.raw >/dev/null
touch view.raw
tried=0
for fmt in qcow2 qcow vdi vpc parallels vmdk vhdx qed cloop dmg luks bochs; do
    $QEMU_IMG convert -O $fmt src.raw img.$fmt 2>/dev/null || continue
    if ! "$FLATIMG" info -f $fmt img.$fmt >/dev/null 2>&1; then
        echo "note: $fmt is not supported by this build"
        continue
    fi
    tried=$((tried + 1))
    fsmount img.$fmt view.raw -o format=$fmt,pidfile=$SCRATCH/pid || { fail "mount $fmt"; continue; }
    $QEMU_IMG convert -O raw img.$fmt want.raw
    expect "$fmt: sha256 = qemu-img convert -O raw" cmp view.raw want.raw
    qemu_data_map -f $fmt img.$fmt >want.map
    "$SEEKMAP" view.raw >got.map
    expect "$fmt: SEEK_DATA/SEEK_HOLE = qemu-img map" diff -u want.map got.map
    fsumount view.raw pid
done
[ $tried -gt 0 ] || skip "no format besides raw in this build"
finish
