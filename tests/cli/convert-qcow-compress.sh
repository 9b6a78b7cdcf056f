#!/bin/bash
# convert -c -O qcow: qemu-img 7.2 ends a compressed convert with a zero-length compressed write
# ("signal EOF to align"), which its qcow driver rejects with EINVAL (only whole clusters or the
# short last one), so it exits 1 without a message after writing every cluster, and leaves the
# complete target in place. flatimg does the same, byte for byte.
. "$top_srcdir/tests/lib.sh"
need_qemu
"$QEMU_IMG" create -q -f raw s.raw 4M
"$QEMU_IO" -f raw -c "write -P 1 0 1M" -c "write -P 2 3M 4k" s.raw >/dev/null
"$QEMU_IMG" create -q -f raw odd.raw 1000000
"$QEMU_IO" -f raw -c "write -P 3 0 512" odd.raw >/dev/null
"$QEMU_IMG" create -q -f qcow b.qcow 4M
"$QEMU_IO" -c "write -P 9 0 2M" b.qcow >/dev/null
for args in "../s.raw" "../odd.raw" "-B ../b.qcow -F qcow ../s.raw"; do
    same_fresh "\$IMG convert -c -O qcow $args t.qcow; echo rc=\$?; ls -l t.qcow | cut -d' ' -f5"
    if [ -f qdir/t.qcow ] || [ -f fdir/t.qcow ]; then
        expect "convert -c -O qcow $args: the same target bytes" cmp qdir/t.qcow fdir/t.qcow
    fi
done
# -n: an existing target is written and kept as well
"$QEMU_IMG" create -q -f qcow n.qcow 4M
same_fresh "cp ../n.qcow t.qcow; \$IMG convert -n -c -O qcow ../s.raw t.qcow; echo rc=\$?"
expect "convert -n -c -O qcow: the same target bytes" cmp qdir/t.qcow fdir/t.qcow
finish
