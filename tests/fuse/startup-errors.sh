#!/bin/sh
# Bad images are start-up errors in qemu-img's words (what `qemu-img info` says after its program
# name), exit 1, nothing mounted and no daemon left, on a file and on a directory mountpoint: a
# qcow2 of an unknown version, an impossible cluster size, a raw file mounted with format=qcow2,
# a file that is not an image at all with format=vmdk.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
$QEMU_IMG create -q -f qcow2 version.qcow2 1M && poke version.qcow2 4 '\000\000\000\143'
$QEMU_IMG create -q -f qcow2 cluster.qcow2 1M && poke cluster.qcow2 20 '\000\000\000\050'
$QEMU_IMG create -q -f raw plain.img 1M
touch view.raw
mkdir mnt
MOUNTS="$SCRATCH/view.raw $SCRATCH/mnt"

# bad IMAGE FMT: flatimgfs fails as qemu-img info does, on both kinds of mountpoint
bad() {
    local fopt= qopt=
    [ -n "$2" ] && { fopt="-o format=$2"; qopt="-f $2"; }
    $QEMU_IMG info $qopt "$1" >/dev/null 2>qerr
    sed 's/^qemu-img: //' qerr >want
    for m in view.raw mnt; do
        "$FLATIMGFS" $fopt "$1" $m >out 2>err
        rc=$?
        sed 's/^flatimgfs: //' err >got
        expect "$1 on $m: exit 1" test $rc = 1
        expect "$1 on $m: qemu-img's message ($(cat want))" diff -u want got
        expect "$1 on $m: nothing mounted" sh -c "! mountpoint -q $m"
        expect "$1 on $m: no daemon left" sh -c "! pgrep -f '^$FLATIMGFS .*$1 $m' >/dev/null"
    done
}
bad version.qcow2 ""
bad cluster.qcow2 ""
bad plain.img qcow2
bad plain.img vmdk
finish
