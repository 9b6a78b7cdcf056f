#!/bin/bash
# rebase in safe mode onto an unrelated image: only the sectors where the old and the new backing
# contents differ are written into the image (partly equal clusters, zeros on one side, a new
# backing file shorter or longer than the old one), so the image's map, its content through the
# new chain and the messages equal qemu-img's.
. "$top_srcdir/tests/lib.sh"
need_qemu
mk='qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -f qcow2 -c "write -P 1 0 1M" -c "write -P 2 2M 512k" -c "write -z 3M 64k" old.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 top.qcow2
qemu-io -f qcow2 -c "write -P 3 64k 64k" top.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 NEWSIZE
qemu-io -f qcow2 -c "write -P 1 0 512k" -c "write -P 1 600k 1k" -c "write -P 2 2M 4k" -c "write -P 5 3M 64k" new.qcow2 >/dev/null
qemu-img create -q -f raw short.raw 1M
qemu-io -f raw -c "write -P 1 0 1M" short.raw >/dev/null'
show='; echo rc=$?; qemu-img check -q top.qcow2; qemu-img map --output=json top.qcow2 | sed "s/, \"offset\": [0-9]*//"; qemu-img convert -O raw top.qcow2 - | sha256sum; qemu-img info top.qcow2 | grep backing'
for size in 4M 2M 8M; do
    setup=${mk//NEWSIZE/$size}
    same_fresh "$setup
\$IMG rebase -b new.qcow2 -F qcow2 top.qcow2 $show"
    same_fresh "$setup
\$IMG rebase -p -b new.qcow2 -F qcow2 top.qcow2 $show"
done
setup=${mk//NEWSIZE/4M}
same_fresh "$setup
\$IMG rebase -b short.raw -F raw top.qcow2 $show"
same_fresh "$setup
\$IMG rebase -f qcow2 -b '' top.qcow2 $show"
finish
