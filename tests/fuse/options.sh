#!/bin/sh
# flatimgfs options: --image-opts (IMAGE is an option string), -o image-opts=KEYS (commas written
# as "\,"), format=, cache=, --object SPEC and --object=SPEC, and that they conflict as in qemu-img
# (--image-opts with format=).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 1M
$QEMU_IO -f raw -c "write -P 0x4f 0 64k" disk.img >/dev/null
touch view.raw
MOUNTS="$SCRATCH/view.raw"

expect "--image-opts" fsmount --image-opts "driver=raw,file.filename=$SCRATCH/disk.img" view.raw -o pidfile=$SCRATCH/pid
expect "--image-opts view" cmp view.raw disk.img
fsumount view.raw pid

expect "-o image-opts=KEYS" fsmount disk.img view.raw -o 'image-opts=driver=raw\,file.locking=off' -o pidfile=$SCRATCH/pid
expect "image-opts view" cmp view.raw disk.img
fsumount view.raw pid

expect "-o format=raw,cache=writethrough,rw" fsmount disk.img view.raw -o format=raw,cache=writethrough,rw,pidfile=$SCRATCH/pid
expect "writethrough write" dd if=/dev/zero of=view.raw bs=4k count=1 conv=notrunc status=none
fsumount view.raw pid
expect "written" qio_ok -f raw -c "read -P 0 0 4k" -c "read -P 0x4f 4k 60k" disk.img

"$FLATIMGFS" --image-opts "driver=raw,file.filename=disk.img" view.raw -o format=raw 2>err
expect "--image-opts with format= refused" test $? = 1
expect "qemu-img's words" grep -qx "flatimgfs: --image-opts and --format are mutually exclusive" err
expect "--object SPEC (separate argument)" fsmount disk.img view.raw --object secret,id=s0,data=x -o pidfile=$SCRATCH/pid
fsumount view.raw pid
expect "--object=SPEC" fsmount disk.img view.raw --object=secret,id=s0,data=x -o pidfile=$SCRATCH/pid
fsumount view.raw pid
"$FLATIMGFS" disk.img view.raw --object bogus,id=x 2>err
expect "a bad --object: exit 1" test $? = 1
$QEMU_IMG info --object bogus,id=x disk.img 2>qerr >/dev/null
expect "a bad --object: qemu-img's message" test "$(sed 's/^flatimgfs: //' err)" = "$(sed 's/^qemu-img: //' qerr)"
expect "--help" sh -c "'$FLATIMGFS' --help | grep -q 'overlay=FILE'"
finish
