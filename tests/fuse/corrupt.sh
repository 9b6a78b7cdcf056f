#!/bin/sh
# Data pointers past the end of the file give EIO on a read-only mount, logged, never zeros passed
# off as data (qemu's qcow2 driver reads them as zeros; `qemu-img check` calls them errors): a
# standard cluster and a compressed cluster aimed past the end; the rest of the image still reads,
# and -o salvage reads the bad clusters as zeros on purpose.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

be64() { od -An -tu8 --endian=big -j "$2" -N 8 "$1" | tr -d ' '; }
# l2_of IMAGE: offset of the first L2 table (64 KiB clusters, one L1 entry)
l2_of() { echo $(( $(be64 "$1" "$(be64 "$1" 40)") & 0xfffffffffe00 )); }

$QEMU_IMG create -q -f qcow2 plain.qcow2 16M
$QEMU_IO -c "write -P 0x61 0 64k" -c "write -P 0x62 1M 64k" plain.qcow2 >/dev/null
# L2[0]: COPIED, host cluster at 4 GiB, far past the end of the file
printf '\200\000\000\001\000\000\000\000' | dd of=plain.qcow2 bs=1 seek="$(l2_of plain.qcow2)" conv=notrunc status=none

$QEMU_IMG create -q -f raw src.raw 16M
$QEMU_IO -f raw -c "write -P 0x71 0 64k" -c "write -P 0x72 1M 64k" src.raw >/dev/null
$QEMU_IMG convert -c -O qcow2 src.raw comp.qcow2
# L2[0]: compressed (bit 62), 1 extra sector, at 0x100000000: past the end
printf '\100\000\000\001\000\000\000\000' | dd of=comp.qcow2 bs=1 seek="$(l2_of comp.qcow2)" conv=notrunc status=none

touch view.raw
MOUNTS="$SCRATCH/view.raw"
for img in plain comp; do
    "$FLATIMGFS" -f $img.qcow2 view.raw 2>$img.log &
    fspid=$!
    timeout 30 sh -c 'until [ "$(stat -c %s view.raw)" = 16777216 ]; do :; done'
    expect "$img: the bad cluster gives EIO" sh -c '! dd if=view.raw of=/dev/null bs=64k count=1 2>err && grep -q "Input/output error" err'
    expect "$img: a 1 MiB read across it gives EIO" sh -c '! dd if=view.raw of=/dev/null bs=1M count=1 2>/dev/null'
    expect "$img: the rest reads" sh -c "dd if=view.raw bs=64k skip=16 count=1 status=none | od -An -tx1 | head -1 | grep -q '7\?[26] 7\?[26]'"
    fusermount3 -u view.raw
    wait $fspid
    expect "$img: the error is logged" grep -q "Input/output error\|past the end" $img.log
    fsmount $img.qcow2 view.raw -o salvage,pidfile=$SCRATCH/pid || exit 1
    expect "$img: -o salvage reads zeros" test "$(dd if=view.raw bs=64k count=1 status=none | tr -d '\0' | wc -c)" = 0
    fsumount view.raw pid
done
expect "qemu-img check agrees it is corrupt" sh -c "! $QEMU_IMG check plain.qcow2 >/dev/null 2>&1"
finish
