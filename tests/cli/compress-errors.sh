#!/bin/bash
# Compressed writes never overwrite: convert -n -c onto an allocated cluster fails as qemu-img's
# does; formats without compression are refused.
. "$top_srcdir/tests/lib.sh"
need_qemu
yes 'some compressible text' | head -c 1048576 >src.raw
same_fresh '"$IMG" create -q -f qcow2 t.qcow2 1M && qemu-io -c "write -P 1 64k 64k" t.qcow2 >/dev/null &&
    "$IMG" convert -n -c -O qcow2 src.raw t.qcow2; echo rc=$?; qemu-img check -q t.qcow2 && echo clean'
same_fresh '"$IMG" create -q -f qcow t.qcow 1M && qemu-io -c "write -P 1 64k 64k" t.qcow >/dev/null &&
    "$IMG" convert -n -c -O qcow src.raw t.qcow; echo rc=$?'
same_fresh '"$IMG" convert -c -O raw src.raw t.raw; echo rc=$?; ls'
finish
