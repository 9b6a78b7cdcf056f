#!/bin/bash
# qcow2 read path: images of many shapes made by qemu-img/qemu-io read back identically to
# `qemu-img convert -O raw`, and `info` matches qemu-img byte for byte.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

W='write -P 0x11 0 3k'
W2='write -P 0x22 200k 100k'
W3='write -z 64k 64k'
W4='write -P 0x33 1m 512'
shapes=(
    "compat=0.10"
    "compat=0.10,cluster_size=512"
    "cluster_size=512"
    "cluster_size=4k,refcount_bits=1"
    "cluster_size=2M,refcount_bits=64"
    "refcount_bits=8,lazy_refcounts=on"
    "extended_l2=on"
    "extended_l2=on,cluster_size=16k"
    "compression_type=zstd"
    "cluster_size=1k,refcount_bits=2"
)
i=0
for o in "${shapes[@]}"; do
    i=$((i + 1))
    mkimg "s$i.qcow2" "$o" 3M "$W" "$W2" "$W3" "$W4" || fail "make $o"
    expect "read $o" reads_like_qemu "s$i.qcow2"
    same info "s$i.qcow2"
    same info --output=json "s$i.qcow2"
done

# compressed clusters (zlib and zstd) and zero clusters over data
for ct in zlib zstd; do
    printf 'hello qcow2 %.0s' $(seq 1 20000) | head -c 2M >plain.raw
    "$QEMU_IMG" convert -c -O qcow2 -o compression_type=$ct plain.raw c-$ct.qcow2
    "$QEMU_IO" -c 'write -z 128k 64k' -c 'write -P 0x44 300k 5k' c-$ct.qcow2 >/dev/null
    expect "compressed $ct" reads_like_qemu c-$ct.qcow2
    same info --output=json c-$ct.qcow2
done

# backing chain of depth 3 with a shorter middle layer
mkimg base.qcow2 "" 4M 'write -P 0xaa 0 4M'
"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 2M
"$QEMU_IO" -c 'write -P 0xbb 1m 100k' mid.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 4M
"$QEMU_IO" -c 'write -P 0xcc 1050k 10k' -c 'write -z 0 64k' top.qcow2 >/dev/null
expect "backing chain" reads_like_qemu top.qcow2
same info top.qcow2
same info --output=json --backing-chain top.qcow2

# external data file, raw and not
mkimg ext.qcow2 "data_file=ext.data,data_file_raw=on" 1M 'write -P 0x55 4k 8k'
expect "data file raw" reads_like_qemu ext.qcow2
same info --output=json ext.qcow2
mkimg ext2.qcow2 "data_file=ext2.data" 1M 'write -P 0x56 100k 8k'
expect "data file" reads_like_qemu ext2.qcow2
same info ext2.qcow2

# a data file name is opened relative to the working directory, as qemu 7.2 does
mkdir sub
"$QEMU_IMG" create -q -f qcow2 -o data_file=sub-data.raw sub/e3.qcow2 1M
"$QEMU_IO" -c 'write -P 7 0 4k' sub/e3.qcow2 >/dev/null
expect "data file beside cwd" reads_like_qemu sub/e3.qcow2
mv sub-data.raw sub/
"$QEMU_IMG" convert -O raw sub/e3.qcow2 x.raw 2>&1 | sed 's/^qemu-img: //' >q.err
"$QTOOL" cmp sub/e3.qcow2 /dev/null 2>f.err
expect "missing data file message" diff -u q.err f.err

# snapshots
mkimg snap.qcow2 "" 1M 'write -P 1 0 64k'
"$QEMU_IMG" snapshot -c first snap.qcow2
"$QEMU_IO" -c 'write -P 2 0 4k' snap.qcow2 >/dev/null
"$QEMU_IMG" snapshot -c second snap.qcow2
expect "snapshots" reads_like_qemu snap.qcow2
"$QEMU_IMG" info --output=json snap.qcow2 >q.json
"$FLATIMG" info --output=json snap.qcow2 >f.json
expect "snapshot json" cmp -s q.json f.json

# persistent bitmaps are listed in format-specific info (flags, empty flag lists)
"$QEMU_IMG" create -q -f qcow2 bm.qcow2 1M
"$QEMU_IMG" bitmap --add bm.qcow2 b0
"$QEMU_IMG" bitmap --add -g 128k --disable bm.qcow2 second
"$QEMU_IO" -c 'write 0 64k' bm.qcow2 >/dev/null
same info bm.qcow2
same info --output=json bm.qcow2
finish
