#!/bin/sh
# The everyday use: a file system inside a partition of a compressed qcow2, reached through
# partitions/p1 of a directory mount, checked with e2fsck -n and mounted with mount -o loop,ro
# (the loop device reads the direct-I/O view in small and large pieces).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
[ "$(id -u)" = 0 ] || skip "mount -o loop needs root"
for t in sfdisk mkfs.ext4 debugfs e2fsck losetup; do
    command -v $t >/dev/null || skip "$t is not installed"
done

$QEMU_IMG create -q -f raw disk.img 64M
printf 'label: dos\nstart=2048, size=100000, type=83\n' | sfdisk -q disk.img
dd if=disk.img of=p1.raw bs=512 skip=2048 count=100000 status=none
mkfs.ext4 -q -F p1.raw
seq 1 100000 >numbers
debugfs -w -R "write numbers numbers" p1.raw >/dev/null 2>&1
dd if=p1.raw of=disk.img bs=512 seek=2048 conv=notrunc status=none
$QEMU_IMG convert -c -O qcow2 disk.img disk.qcow2
mkdir mnt fs
fsmount disk.qcow2 mnt -o pidfile=$SCRATCH/pid || exit 1
expect "partitions/p1 is the file system" cmp mnt/partitions/p1 p1.raw
expect "e2fsck -n on the partition" e2fsck -fn mnt/partitions/p1
if mount -o loop,ro mnt/partitions/p1 fs 2>err; then
    expect "the file inside" cmp fs/numbers numbers
    umount fs
else
    grep -qi "loop" err && skip "no loop devices here: $(cat err)"
    fail "mount -o loop,ro: $(cat err)"
fi
fsumount mnt pid
finish
