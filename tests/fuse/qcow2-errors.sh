#!/bin/sh
# Start-up errors of qcow2 images, in flatimg's (qemu-img's) words, exit 1 and nothing mounted: a
# missing backing file, an image locked by a running qemu (qemu-storage-daemon); -o force-share
# mounts the locked image anyway.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

$QEMU_IMG create -q -f qcow2 -b gone.img -F raw orphan.qcow2
touch view.raw
"$FLATIMGFS" orphan.qcow2 view.raw 2>err
expect "missing backing file: exit 1" test $? = 1
$QEMU_IMG convert -O raw orphan.qcow2 out.raw 2>qerr
sed 's/^qemu-img: //' qerr >want; sed 's/^flatimgfs: //' err >got
expect "missing backing file: qemu-img's message" diff -u want got
expect "nothing mounted" sh -c '! mountpoint -q view.raw'

command -v qemu-storage-daemon >/dev/null || { finish; }
$QEMU_IMG create -q -f qcow2 busy.qcow2 1M
touch qsd.raw
qemu-storage-daemon --daemonize --pidfile "$SCRATCH/qsd.pid" \
    --blockdev "node-name=p,driver=file,filename=$SCRATCH/busy.qcow2" \
    --blockdev node-name=f,driver=qcow2,file=p \
    --export "type=fuse,id=e,node-name=f,mountpoint=$SCRATCH/qsd.raw,writable=on" || skip "qemu-storage-daemon failed"
MOUNTS="$SCRATCH/qsd.raw"
trap 'kill $(cat "$SCRATCH/qsd.pid") 2>/dev/null; fuse_cleanup' EXIT
"$FLATIMGFS" busy.qcow2 view.raw 2>err
expect "locked image: exit 1" test $? = 1
$QEMU_IMG info busy.qcow2 2>qerr >/dev/null
sed 's/^qemu-img: //' qerr >want; sed 's/^flatimgfs: //' err >got
expect "locked image: qemu-img's message" diff -u want got
expect "nothing mounted" sh -c '! mountpoint -q view.raw'
expect "-o force-share mounts it" fsmount busy.qcow2 view.raw -o force-share,pidfile=$SCRATCH/pid
expect "readable" test "$(stat -c %s view.raw)" = 1048576
fsumount view.raw pid
finish
