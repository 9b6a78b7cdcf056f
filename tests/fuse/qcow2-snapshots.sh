#!/bin/sh
# Internal qcow2 snapshots made by qemu-img: snapshots/NAME.raw and -o snapshot=NAME read what
# `qemu-img convert -l snapshot.name=NAME` gives, while the main view shows the current state.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

$QEMU_IMG create -q -f qcow2 disk.qcow2 2M
$QEMU_IO -c "write -P 0x51 0 1M" -c "write -z 1M 64k" disk.qcow2 >/dev/null
$QEMU_IMG snapshot -c first disk.qcow2
$QEMU_IO -c "write -P 0x52 512k 1M" disk.qcow2 >/dev/null
$QEMU_IMG snapshot -c second disk.qcow2
$QEMU_IO -c "write -P 0x53 0 64k" disk.qcow2 >/dev/null
raw_of() { $QEMU_IMG convert -O raw "$@" out.raw && sha256sum <out.raw; }

touch snap.raw
"$FLATIMGFS" disk.qcow2 snap.raw -o snapshot=first,pidfile=$SCRATCH/pid 2>err
if grep -q "does not support internal snapshots" err; then
    skip "the qcow2 driver cannot load snapshots yet (no snapshot_load_tmp)"
fi
MOUNTS="$SCRATCH/snap.raw"
expect "-o snapshot=first" test "$(sha256sum <snap.raw)" = "$(raw_of -l snapshot.name=first disk.qcow2)"
fsumount snap.raw pid

mkdir mnt
fsmount disk.qcow2 mnt -o pidfile=$SCRATCH/pid || exit 1
ls mnt/snapshots >got
printf 'first.raw\nsecond.raw\n' >want
expect "snapshots/ lists them" diff -u want got
expect "snapshots/first.raw" test "$(sha256sum <mnt/snapshots/first.raw)" = "$(raw_of -l snapshot.name=first disk.qcow2)"
expect "snapshots/second.raw" test "$(sha256sum <mnt/snapshots/second.raw)" = "$(raw_of -l snapshot.name=second disk.qcow2)"
expect "main view is the current state" test "$(sha256sum <mnt/disk.raw)" = "$(raw_of disk.qcow2)"
fsumount mnt pid
finish
