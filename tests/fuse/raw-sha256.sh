#!/bin/sh
# flatimgfs on a regular-file mountpoint: the mounted raw view of a raw image made by qemu-img has
# the image's size and sha256, and st_blocks (du) reports the space the image really uses.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 6M
$QEMU_IO -f raw -c "write -P 0x5a 64k 192k" -c "write -P 0x11 3M 4k" -c "write -P 0xee 6140k 4k" \
    disk.img >/dev/null
cp disk.img orig.img
touch view.raw
expect "mount on a regular file" fsmount disk.img view.raw -o pidfile=$SCRATCH/pid
expect "size is the virtual size" test "$(stat -c %s view.raw)" = 6291456
expect "sha256 equals the source" test "$(sha256sum <view.raw)" = "$(sha256sum <disk.img)"
expect "st_blocks is the image's allocation" \
    test "$(stat -c %b view.raw)" = "$(stat -c %b disk.img)"
expect "read-only by default" sh -c '! dd if=/dev/zero of=view.raw bs=512 count=1 conv=notrunc 2>/dev/null'
expect "unmount ends the daemon" fsumount view.raw pid
expect "image untouched" cmp disk.img orig.img
finish
