#!/bin/sh
# mount(8) works through the standard FUSE mount helper (mount.fuse3), which runs flatimgfs with
# its arguments reordered: `mount -t fuse /path/to/flatimgfs#IMAGE MNT` anywhere, and
# `mount -t fuse.flatimgfs IMAGE MNT -o ro` and an /etc/fstab line (here a private fstab given
# with mount -T) where flatimgfs is in the helper's fixed PATH. mount(8) hands helpers no PATH, so
# the test puts flatimgfs there in a private mount namespace (bound over /usr/local/sbin).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
[ "$(id -u)" = 0 ] || skip "mount(8) with a fuse type needs root"
command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip "mount.fuse3 (fuse3) is not installed"

$QEMU_IMG create -q -f qcow2 disk.qcow2 1M
$QEMU_IO -c "write -P 0x42 0 512k" disk.qcow2 >/dev/null
$QEMU_IMG convert -O raw disk.qcow2 disk.img
mkdir mnt
MOUNTS="$SCRATCH/mnt"
expect "mount -t fuse PROG#IMAGE" mount -t fuse "$FLATIMGFS#$SCRATCH/disk.qcow2" "$SCRATCH/mnt" -o ro
expect "the view is there" cmp mnt/disk.raw disk.img
expect "listed as fuse.flatimgfs, read-only" sh -c "grep -q ' $SCRATCH/mnt fuse.flatimgfs ro' /proc/mounts"
expect "umount" umount mnt

command -v unshare >/dev/null || { echo "note: unshare is missing: mount -t fuse.flatimgfs not tried"; finish; }
mkdir sbin
ln -s "$FLATIMGFS" sbin/flatimgfs
printf '%s %s fuse.flatimgfs ro,noauto 0 0\n' "$SCRATCH/disk.qcow2" "$SCRATCH/mnt" >fstab
cat >ns.sh <<NS
check() { d=\$1; shift; if "\$@"; then echo "ok: \$d"; else echo "FAIL: \$d"; fi; }
mount --bind "$SCRATCH/sbin" /usr/local/sbin || exit 77
check "mount -t fuse.flatimgfs IMAGE DIR -o ro" mount -t fuse.flatimgfs "$SCRATCH/disk.qcow2" "$SCRATCH/mnt" -o ro
check "the view is there" cmp "$SCRATCH/mnt/disk.raw" "$SCRATCH/disk.img"
check "read-only" sh -c "grep -q ' $SCRATCH/mnt fuse.flatimgfs ro' /proc/mounts"
check "umount" umount "$SCRATCH/mnt"
check "mount DIR from an fstab line" mount -T "$SCRATCH/fstab" "$SCRATCH/mnt"
check "the view is there" cmp "$SCRATCH/mnt/disk.raw" "$SCRATCH/disk.img"
check "umount" umount "$SCRATCH/mnt"
mountpoint -q "$SCRATCH/mnt" && umount -l "$SCRATCH/mnt" # a failed check leaves no daemon behind
NS
unshare -m --propagation private sh ns.sh >ns.out 2>&1
rc=$?
cat ns.out
[ $rc = 77 ] && { echo "note: no private mount namespace: mount -t fuse.flatimgfs not tried"; finish; }
expect "mount -t fuse.flatimgfs and fstab: all passed" sh -c '! grep -q "^FAIL" ns.out && [ $(grep -c "^ok" ns.out) = 7 ]'
finish
