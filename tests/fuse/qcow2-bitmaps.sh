#!/bin/sh
# A rw mount tracks the image's persistent bitmaps as qemu does: flagged in-use while mounted,
# the written ranges' bits set and in-use cleared after unmounting, as the same writes by qemu-io.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
command -v python3 >/dev/null || skip "python3 is not installed"
dump() { python3 "$top_srcdir/tests/cli/qcow2-bitmap-dump.py" "$@"; }

$QEMU_IMG create -q -f qcow2 base.qcow2 8M
$QEMU_IMG bitmap --add base.qcow2 on
$QEMU_IMG bitmap --add --disable base.qcow2 off
cp base.qcow2 q.qcow2
cp base.qcow2 f.qcow2
$QEMU_IO -c "write -P 0x55 128k 192k" -c "write -P 0 4M 64k" q.qcow2 >/dev/null
touch view.raw
fsmount f.qcow2 view.raw -o rw,pidfile=$SCRATCH/pid || exit 1
expect "in-use while mounted" sh -c "$QEMU_IMG info -U f.qcow2 | grep -q in-use"
head -c 196608 /dev/zero | tr '\0' '\125' | dd of=view.raw bs=64k seek=2 conv=notrunc,fsync status=none
dd if=/dev/zero of=view.raw bs=64k seek=64 count=1 conv=notrunc,fsync status=none
fsumount view.raw pid
for b in on off; do
    dump q.qcow2 $b >q.$b && dump f.qcow2 $b >f.$b || fail "dump $b"
    expect "bits of '$b' as qemu-io's" cmp q.$b f.$b
done
expect "bits were set" grep -q '[1-9a-f]' f.on
expect "in-use cleared after unmount" sh -c "! $QEMU_IMG info f.qcow2 | grep -q in-use"
expect "qemu-img check" $QEMU_IMG check -q f.qcow2
expect "same content" $QEMU_IMG compare -q q.qcow2 f.qcow2
finish
