#!/bin/bash
# qcow2 block status: the chain's status through node_block_status_above, merged as `qemu-img map
# --output=json` does (qcow2-tool map), equals qemu's for chains, zero clusters, compressed
# clusters, extended L2 subclusters, external data files and metadata preallocation.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

same_map() {
    "$QEMU_IMG" map --output=json "$1" >q.map 2>&1
    "$QTOOL" map "$1" >f.map 2>&1
    expect "map $1" diff -u q.map f.map
}
mkimg m.qcow2 "preallocation=metadata" 3M 'write 64k 64k'
same_map m.qcow2
mkimg b.qcow2 "" 4M 'write 0 1M' 'write -z 2M 64k'
"$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 mid.qcow2 2M
"$QEMU_IO" -c 'write 1536k 8k' mid.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 t.qcow2 4M
"$QEMU_IO" -c 'write 512k 100k' -c 'write -z 3M 1M' t.qcow2 >/dev/null
same_map b.qcow2
same_map t.qcow2
printf 'x%.0s' $(seq 1 1000) >c.raw
"$QEMU_IMG" convert -c -O qcow2 c.raw c.qcow2
same_map c.qcow2
mkimg e.qcow2 "extended_l2=on" 1M 'write 0 3k' 'write -z 64k 2k' 'write 100k 70k'
same_map e.qcow2
mkimg v2.qcow2 "compat=0.10" 1M 'write 0 3k' 'write -z 64k 64k'
same_map v2.qcow2
mkimg d.qcow2 "data_file=d.data,data_file_raw=on" 1M 'write 4k 8k'
same_map d.qcow2
mkimg d2.qcow2 "data_file=d2.data" 1M 'write 4k 8k'
same_map d2.qcow2
finish
