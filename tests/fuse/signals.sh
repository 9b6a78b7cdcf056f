#!/bin/sh
# The daemon ends cleanly, unmounting and closing the image, on SIGTERM and SIGINT and when the
# mount is removed with umount; -o pidfile records it; relative paths keep working after it
# has changed to / while daemonising.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 1M
$QEMU_IO -f raw -c "write -P 0x31 0 1M" disk.img >/dev/null
touch view.raw

for sig in TERM INT; do
    fsmount disk.img view.raw -o rw,pidfile=pid || exit 1
    pid=$(cat pid)
    expect "SIG$sig: the mount works with relative paths" cmp view.raw disk.img
    printf 'written before SIG%s' $sig | dd of=view.raw bs=1 seek=4096 conv=notrunc status=none
    kill -$sig "$pid"
    expect "SIG$sig ends the daemon" wait_gone "$pid"
    expect "SIG$sig unmounts" sh -c '! mountpoint -q view.raw'
    expect "SIG$sig removes the pidfile" test ! -e pid
    expect "SIG$sig: the write reached the image" sh -c \
        "dd if=disk.img bs=1 skip=4096 count=32 status=none | grep -q 'written before SIG$sig'"
done

fsmount disk.img view.raw -o pidfile=pid || exit 1
pid=$(cat pid)
expect "umount from outside" umount view.raw
expect "the daemon ends when its mount is removed" wait_gone "$pid"
finish
