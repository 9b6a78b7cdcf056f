#!/bin/sh
# mount(8) works through the standard FUSE mount helper (mount.fuse3), which runs flatimgfs with
# its arguments reordered: `mount -t fuse.flatimgfs IMAGE MNT -o ro` when flatimgfs is installed in
# the helper's PATH, and `mount -t fuse /path/to/flatimgfs#IMAGE MNT` (as in /etc/fstab) anywhere.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
[ "$(id -u)" = 0 ] || skip "mount(8) with a fuse type needs root"
command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip "mount.fuse3 (fuse3) is not installed"

$QEMU_IMG create -q -f raw disk.img 1M
$QEMU_IO -f raw -c "write -P 0x42 0 512k" disk.img >/dev/null
mkdir mnt
MOUNTS="$SCRATCH/mnt"
expect "mount -t fuse PROG#IMAGE" mount -t fuse "$FLATIMGFS#$SCRATCH/disk.img" "$SCRATCH/mnt" -o ro
expect "the view is there" cmp mnt/disk.raw disk.img
expect "listed as fuse.flatimgfs, read-only" sh -c "grep -q ' $SCRATCH/mnt fuse.flatimgfs ro' /proc/mounts"
expect "umount" umount mnt
if command -v flatimgfs >/dev/null 2>&1; then
    expect "mount -t fuse.flatimgfs" mount -t fuse.flatimgfs "$SCRATCH/disk.img" "$SCRATCH/mnt" -o ro
    expect "the view is there" cmp mnt/disk.raw disk.img
    expect "umount" umount mnt
else
    echo "note: flatimgfs is not installed in PATH; mount -t fuse.flatimgfs not tried"
fi
finish
