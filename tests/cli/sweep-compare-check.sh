#!/bin/bash
# compare and check over an image of every format (tests/cli/sweep-images.inc) side by side with
# qemu-img 7.2: compare against raw and qcow2 (normal and strict), check in both output forms
# (63 for formats without checks), and check -r on fresh copies of each, which must leave images
# that qemu-img checks alike.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/sweep-images.inc"
for img in $SWEEP_IMAGES; do
    same compare raw.raw "$img"
    same compare -s "$img" raw.raw
    same compare "$img" plain.qcow2
    same check "$img"
    same check --output=json "$img"
    same check -q "$img"
done
same compare -s plain.qcow2 top.qcow2
same compare top.qcow2 top2.qcow2
same compare -s top.qcow2 top2.qcow2
same compare -f qcow2 -F raw plain.qcow2 raw.raw
same compare -f raw -F raw raw.raw plain.qcow2
same compare -p raw.raw comp.qcow2
same compare snap.qcow2 plain.qcow2
same compare -s pre.qcow2 raw.raw
# shellcheck disable=SC2086
same check $LUKS_OPTS
same check a.luks
# -r on fresh copies; vhdx is left out (a read-write open writes new random GUIDs) as is bm.qcow2
# (the bitmaps qemu stores again on close)
for img in $SWEEP_IMAGES; do
    case $img in *.vhdx | bm.qcow2) continue ;; esac
    for r in leaks all; do
        same_fresh "cp ../*.vmdk ../df.data ../plain.qcow2 ../top.qcow2 ../$img . && \$IMG check -r $r $img; echo rc=\$?; $REAL_QEMU_IMG check $img 2>&1 | grep -v '^qemu: module'; md5sum $img"
    done
done
finish
