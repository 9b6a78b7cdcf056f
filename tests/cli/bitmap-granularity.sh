#!/bin/bash
# bitmap --add -g: qemu-img's generic check (a power of 2, at least 512, fitting 32 bits; 0 means
# the default) comes before the format is asked, with qemu-img 7.2's words, also on raw.
. "$top_srcdir/tests/lib.sh"
need_qemu
for g in 0 511 512 1000 1k 64k 2G 3G 4G 8G; do
    same_fresh "qemu-img create -q -f qcow2 a.qcow2 1M; \$IMG bitmap --add -g $g a.qcow2 b; echo rc=\$?; qemu-img info a.qcow2 | grep -A3 'bitmaps:'"
done
for g in 511 4G; do
    same_fresh "qemu-img create -q -f raw r.raw 1M; \$IMG bitmap --add -g $g r.raw b"
done
finish
