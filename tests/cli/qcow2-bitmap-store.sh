#!/bin/bash
# Persistent bitmaps stored at the close of a read-write open as qemu-img 7.2 stores them: every
# consistent bitmap written anew (its set chunks, then its table, in the first free clusters), a
# new directory, then the old directory, tables and data freed (the data discarded): the same file
# as qemu-img after resize (grow, shrink), bench -w, check -r all and amend. A bitmap grown past
# what the format can hold fails the whole store with qemu's message, all left in-use.
. "$top_srcdir/tests/lib.sh"
need_qemu

SETUP="$QEMU_IMG create -q -f qcow2 a.qcow2 64M && $QEMU_IMG bitmap --add -g 1M a.qcow2 b1 &&
    $QEMU_IMG bitmap --add a.qcow2 b2 && $QEMU_IMG bitmap --add -g 4M --disable a.qcow2 b3 &&
    $QEMU_IO -c 'write -P 1 0 1M' -c 'write -P 2 40M 64k' a.qcow2"
norm() { sed -e "s/completed in [0-9.]* seconds/completed/" -e 's/^flatimg:/qemu-img:/' -e "s/'#block[0-9]*'/'#block'/" "$1"; }
# store_case OP...: the same op run by qemu-img and flatimg on the same image
store_case() {
    rm -rf q f; mkdir q f
    (cd q && eval "$SETUP") >/dev/null 2>&1 || fail "setup"
    (cd f && eval "$SETUP") >/dev/null 2>&1
    (cd q && "$QEMU_IMG" "$@") >q.out 2>&1; echo "rc $?" >>q.out
    (cd f && "$FLATIMG" "$@") >f.out 2>&1; echo "rc $?" >>f.out
    expect "$*: same output" diff <(norm q.out) <(norm f.out)
    expect "$*: same file" cmp q/a.qcow2 f/a.qcow2
    expect "$*: same check" diff <("$QEMU_IMG" check --output=json q/a.qcow2 | grep -v filename) \
                                 <("$QEMU_IMG" check --output=json f/a.qcow2 | grep -v filename)
    expect "$*: same info" diff <("$QEMU_IMG" info --output=json q/a.qcow2 | grep -v -e filename -e actual-size) \
                                <("$QEMU_IMG" info --output=json f/a.qcow2 | grep -v -e filename -e actual-size)
}
store_case resize a.qcow2 128M
store_case resize --shrink a.qcow2 32M
store_case resize a.qcow2 8T
store_case resize a.qcow2 1P
store_case resize a.qcow2 16P
store_case bench -w -c 16 -s 4k -o 1M a.qcow2
store_case check -r all a.qcow2
store_case amend -o lazy_refcounts=on a.qcow2
# the bitmap operations change the bitmaps in memory and the close stores them once, as qemu's;
# remove writes a new directory at once and frees (and discards) the bitmap's clusters
store_case bitmap --add a.qcow2 b4
store_case bitmap --add -g 512k --disable a.qcow2 b4
store_case bitmap --add --clear --enable a.qcow2 b4
store_case bitmap --remove a.qcow2 b1
store_case bitmap --remove a.qcow2 b3
store_case bitmap --clear a.qcow2 b2
store_case bitmap --merge b1 a.qcow2 b2
store_case bitmap --merge b2 a.qcow2 b3
store_case bitmap --enable a.qcow2 b3
store_case bitmap --disable a.qcow2 b1
store_case bitmap --add a.qcow2 b1
store_case bitmap --merge nope a.qcow2 b1
# an image without bitmaps, and a merge from another image
SETUP="$QEMU_IMG create -q -f qcow2 a.qcow2 64M && $QEMU_IO -c 'write 0 1M' a.qcow2 &&
    $QEMU_IMG create -q -f qcow2 o.qcow2 64M && $QEMU_IMG bitmap --add -g 128k o.qcow2 ob &&
    $QEMU_IO -c 'write 4M 1M' o.qcow2"
store_case bitmap --add a.qcow2 n1
store_case bitmap --add --merge ob -b o.qcow2 a.qcow2 n1
# an inconsistent bitmap (in-use after a crash): removed, refused, or left alone
SETUP="$SETUP && $QEMU_IMG bitmap --add a.qcow2 b1 && $QEMU_IMG bitmap --add a.qcow2 b2 &&
    { $QEMU_IO -c 'write 0 64k' -c 'sigraise 9' a.qcow2; true; }"
store_case bitmap --remove a.qcow2 b1
store_case bitmap --clear a.qcow2 b1
store_case bitmap --add a.qcow2 b3
store_case resize a.qcow2 128M
store_case check -r all a.qcow2
finish
