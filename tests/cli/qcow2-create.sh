#!/bin/bash
# qcow2 create: the "Formatting" line, errors and the image bytes equal qemu-img's for many option
# sets; every created image passes qemu-img check.
. "$top_srcdir/tests/lib.sh"
need_qemu

same create -f qcow2 -o help
same create -f qcow2 x.qcow2 -o help
identical=(
    "" "compat=0.10" "compat=v2" "compat=v3" "cluster_size=512" "cluster_size=4096"
    "cluster_size=8192" "cluster_size=2M,refcount_bits=64" "extended_l2=on"
    "lazy_refcounts=on,refcount_bits=1" "refcount_bits=2" "refcount_bits=4" "refcount_bits=8"
    "refcount_bits=32" "compression_type=zstd" "data_file=d.raw" "data_file=d.raw,data_file_raw=on"
    "preallocation=metadata" "preallocation=metadata,extended_l2=on" "nocow=on"
    "data_file=d.raw,preallocation=metadata" "preallocation=off,compat=1.1,lazy_refcounts=off"
)
for o in "${identical[@]}"; do
    same_fresh "\$IMG create -f qcow2 ${o:+-o $o} t.qcow2 100M"
    expect "bytes [$o]" cmp qdir/t.qcow2 fdir/t.qcow2
    if [ -e qdir/d.raw ]; then expect "data file [$o]" cmp qdir/d.raw fdir/d.raw; fi
done
# valid but laid out differently from qemu: must at least check clean
for o in "preallocation=falloc" "preallocation=full" "preallocation=metadata,cluster_size=512"; do
    same_fresh "\$IMG create -f qcow2 -o $o t.qcow2 5M"
    expect "check [$o]" "$QEMU_IMG" check -q fdir/t.qcow2
done
same_fresh '$IMG create -f qcow2 t.qcow2 0'
expect "bytes size 0" cmp qdir/t.qcow2 fdir/t.qcow2
"$QEMU_IMG" create -q -f qcow2 base.qcow2 1M
same_fresh '$IMG create -f qcow2 -b ../base.qcow2 -F qcow2 t.qcow2'
expect "bytes backing" cmp qdir/t.qcow2 fdir/t.qcow2
same_fresh '$IMG create -f qcow2 -o cluster_size=512 -b ../base.qcow2 -F qcow2 t.qcow2 2M'
expect "bytes backing 512" cmp qdir/t.qcow2 fdir/t.qcow2

bad=(
    "cluster_size=1000" "cluster_size=256" "cluster_size=4M" "refcount_bits=3" "refcount_bits=128"
    "refcount_bits=0" "compat=0.10,refcount_bits=8" "compat=0.10,lazy_refcounts=on"
    "compat=0.10,extended_l2=on" "compat=0.10,compression_type=zstd" "compat=0.10,data_file=x"
    "compat=0.9" "data_file_raw=on" "compression_type=lzo" "preallocation=foo"
    "extended_l2=on,cluster_size=4k" "lazy_refcounts=maybe" "encrypt.format=luks"
)
for o in "${bad[@]}"; do
    same_fresh "\$IMG create -f qcow2 -o $o t.qcow2 1M"
done
same_fresh '$IMG create -f qcow2 t.qcow2 1000'
finish
