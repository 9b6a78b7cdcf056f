#!/bin/sh
# A directory mountpoint shows NAME.raw, info.json (what `flatimg info --output=json
# --backing-chain` prints, with absolute names), layers/ and partitions/, snapshots/; backing=off
# and the read-only modes of the files.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.v1.img 2M
$QEMU_IO -f raw -c "write -P 0x99 512k 512k" disk.v1.img >/dev/null
mkdir mnt
fsmount "$SCRATCH/disk.v1.img" mnt -o ro,pidfile=$SCRATCH/pid || exit 1
(cd mnt && find . | sort) >got
cat >want <<'LIST'
.
./disk.v1.raw
./info.json
./layers
./layers/0-disk.v1.img.raw
./partitions
./snapshots
LIST
expect "directory layout" diff -u want got
expect "main view equals the image" cmp mnt/disk.v1.raw disk.v1.img
expect "layer 0 equals the image" cmp mnt/layers/0-disk.v1.img.raw disk.v1.img
"$FLATIMG" info --output=json --backing-chain "$SCRATCH/disk.v1.img" >info.want
expect "info.json is flatimg info --backing-chain" diff -u info.want mnt/info.json
expect "files are read-only" test "$(stat -c %A mnt/disk.v1.raw)" = "-r--r--r--"
expect "writes refused" sh -c '! dd if=/dev/zero of=mnt/disk.v1.raw bs=512 count=1 conv=notrunc 2>/dev/null'
expect "unknown names are ENOENT" sh -c '! test -e mnt/nosuch && ! test -e mnt/layers/9-x.raw'
fsumount mnt pid
finish
