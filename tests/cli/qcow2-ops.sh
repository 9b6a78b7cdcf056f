#!/bin/bash
# qcow2 image-level operations through the driver table: measure equals `qemu-img measure -O
# qcow2`, change_backing_file writes the header qemu-img rebase -u writes, make_empty leaves an
# empty image that checks clean.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

for o in "size=1G" "size=100M,cluster_size=512" "size=10G,refcount_bits=1,extended_l2=on" \
         "size=0" "size=3M,cluster_size=2M,refcount_bits=64" "size=1G,preallocation=full" \
         "size=1G,preallocation=metadata" "size=5G,compat=0.10"; do
    sz=${o%%,*}; rest=${o#"$sz"}; rest=${rest#,}
    "$QEMU_IMG" measure -O qcow2 --size "${sz#size=}" ${rest:+-o "$rest"} >q.out 2>&1
    "$QTOOL" measure "$o" >f.out 2>&1
    expect "measure $o" diff -u q.out f.out
done
mkimg src.qcow2 "" 10M 'write 0 1M' 'write 3m 100k' 'write -z 5M 1M'
"$QEMU_IMG" create -q -f raw src.raw 10M
"$QEMU_IO" -f raw -c 'write 0 1M' -c 'write 3m 100k' src.raw >/dev/null
for src in src.qcow2 src.raw; do
    for o in "" "cluster_size=512" "preallocation=full" "compat=0.10" "extended_l2=on"; do
        "$QEMU_IMG" measure -O qcow2 ${o:+-o "$o"} "$src" >q.out 2>&1
        "$QTOOL" measure "$o" "$src" >f.out 2>&1
        expect "measure $src [$o]" diff -u q.out f.out
    done
done

"$QEMU_IMG" create -q -f qcow2 base.qcow2 1M
"$QEMU_IMG" create -q -f qcow2 top-q.qcow2 1M
"$QEMU_IMG" create -q -f qcow2 top-f.qcow2 1M
"$QEMU_IMG" rebase -u -b base.qcow2 -F qcow2 top-q.qcow2
"$QTOOL" rebase top-f.qcow2 base.qcow2 qcow2
expect "rebase header" cmp top-q.qcow2 top-f.qcow2
"$QEMU_IMG" rebase -u -b '' top-q.qcow2
"$QTOOL" rebase top-f.qcow2 ''
expect "unset backing header" cmp top-q.qcow2 top-f.qcow2

mkimg full.qcow2 "" 4M 'write -P 9 0 3M'
"$QTOOL" empty full.qcow2 || fail "make_empty"
"$QEMU_IMG" create -q -f raw empty.raw 4M
expect "empty reads zeros" "$QEMU_IMG" compare -q -f qcow2 -F raw full.qcow2 empty.raw
expect "empty checks clean" "$QEMU_IMG" check -q full.qcow2
finish
