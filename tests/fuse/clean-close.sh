#!/bin/sh
# Every way of ending a rw mount closes the image cleanly: a qcow2 with lazy_refcounts (whose
# dirty bit is set while it is open for writing) has the bit cleared and passes `qemu-img check`
# after fusermount3 -u, umount, SIGTERM and SIGINT, with the writes in it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

touch view.raw
MOUNTS="$SCRATCH/view.raw"
n=0
for how in fusermount umount TERM INT; do
    [ $how = umount ] && [ "$(id -u)" != 0 ] && continue
    rm -f disk.qcow2
    $QEMU_IMG create -q -f qcow2 -o lazy_refcounts=on disk.qcow2 4M
    fsmount disk.qcow2 view.raw -o rw,pidfile=$SCRATCH/pid || exit 1
    pid=$(cat pid)
    n=$((n + 1))
    head -c 65536 /dev/zero | tr '\0' "\\$(printf '%03o' $((64 + n)))" |
        dd of=view.raw bs=64k seek=$n conv=notrunc status=none
    expect "$how: dirty while open" sh -c "$QEMU_IMG info -U --output=json disk.qcow2 | grep -q '\"dirty-flag\": true'"
    case $how in
    fusermount) fusermount3 -u view.raw ;;
    umount) umount view.raw ;;
    *) kill -$how "$pid" ;;
    esac
    expect "$how: the daemon ends" wait_gone "$pid"
    expect "$how: dirty bit cleared" sh -c "$QEMU_IMG info --output=json disk.qcow2 | grep -q '\"dirty-flag\": false'"
    expect "$how: qemu-img check" $QEMU_IMG check -q disk.qcow2
    expect "$how: the write is there" qio_ok -c "read -P $((64 + n)) $((n * 64))k 64k" disk.qcow2
done
finish
