#!/bin/sh
# truncate through the mount is refused with EPERM, unless -o growable: then truncate and writes
# past the end grow the image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 1M
touch view.raw
fsmount disk.img view.raw -o rw,pidfile=$SCRATCH/pid || exit 1
expect "truncate refused without growable" sh -c '! truncate -s 2M view.raw 2>/dev/null'
expect "write past the end refused" sh -c '! dd if=/dev/zero of=view.raw bs=64k seek=16 count=1 conv=notrunc 2>/dev/null'
fsumount view.raw pid
expect "size unchanged" test "$(stat -c %s disk.img)" = 1048576

fsmount disk.img view.raw -o rw,growable,pidfile=$SCRATCH/pid || exit 1
expect "truncate grows" truncate -s 2M view.raw
expect "write past the end grows" sh -c 'head -c 65536 /dev/zero | tr "\0" "\7" | dd of=view.raw bs=64k seek=32 conv=notrunc status=none'
expect "new size visible" test "$(stat -c %s view.raw)" = $((2 * 1048576 + 65536))
fsumount view.raw pid
expect "image grew" test "$(stat -c %s disk.img)" = $((2 * 1048576 + 65536))
expect "data written at the end" qio_ok -f raw -c 'read -P 7 2M 64k' disk.img
finish
