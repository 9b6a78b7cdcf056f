#!/bin/sh
# kill -9 of the daemon during writes to a qcow2: the image passes `qemu-img check` (leaked
# clusters at most: exit 0 or 3) and every write that was fsync'd before the kill is there.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

$QEMU_IMG create -q -f qcow2 disk.qcow2 16M
touch view.raw
fsmount disk.qcow2 view.raw -o rw,pidfile=$SCRATCH/pid || exit 1
pid=$(cat pid)
i=0
for c in a b c d; do
    head -c 262144 /dev/zero | tr '\0' $c |
        dd of=view.raw bs=256k seek=$((i * 3)) conv=notrunc,fsync status=none
    i=$((i + 1))
done
# unsynced writes in flight while the daemon dies
(dd if=/dev/urandom of=view.raw bs=64k count=200 seek=64 conv=notrunc status=none 2>/dev/null &)
dd if=/dev/urandom of=view.raw bs=64k count=8 seek=160 conv=notrunc status=none
kill -9 "$pid"
wait_gone "$pid"
fusermount3 -u view.raw 2>/dev/null || umount -l view.raw
$QEMU_IMG check disk.qcow2 >check.out 2>&1
rc=$?
expect "qemu-img check: clean or leaks only (rc=$rc)" test $rc = 0 -o $rc = 3
for i in 0 1 2 3; do # 'a' is 97
    expect "fsync'd write $i present" qio_ok -c "read -P $((97 + i)) $((i * 768))k 256k" disk.qcow2
done
finish
