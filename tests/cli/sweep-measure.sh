#!/bin/bash
# measure side by side with qemu-img 7.2: --size and file modes over an image of every format
# (tests/cli/sweep-images.inc), -O each output format (qemu's message for those it cannot
# measure or create), qcow2's -o cluster_size/preallocation/extended_l2/refcount_bits/compat/
# backing_file, -l snapshots, bitmaps, `-o a,,b` escapes, option errors, human and JSON.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/sweep-images.inc"
for img in $SWEEP_IMAGES; do
    same measure -O raw "$img"
    same measure -O qcow2 "$img"
    same measure -O file --output=json "$img"
done
for fmt in qcow2 raw file qcow vmdk vdi vpc vhdx qed parallels bochs cloop dmg nosuch; do
    same measure -O $fmt --size 1G
    same measure -O $fmt --size 100M --output=json
    same measure -O $fmt --output=json plain.qcow2
done
for o in cluster_size=4k cluster_size=2M,preallocation=metadata preallocation=falloc \
    preallocation=full extended_l2=on extended_l2=on,cluster_size=128k extended_l2=on,cluster_size=4k \
    refcount_bits=1 refcount_bits=64,cluster_size=512 refcount_bits=3 refcount_bits=8,compat=0.10 \
    compat=0.10 compat=1.1 compat=bogus cluster_size=3k preallocation=bogus size=2G \
    encryption=on encrypt.format=luks lazy_refcounts=on compression_type=zstd data_file=x \
    'cluster_size=4k,,foo' 'backing_file=a,,b' 'backing_file=a,,b,backing_fmt=raw' '?' help bogus=1; do
    same measure -O qcow2 --size 1G -o "$o"
done
for sz in 0 511 1T 256T 9E -1 1Q; do
    same measure -O qcow2 --size $sz
    same measure -O qcow2 --size $sz -o cluster_size=512
done
same measure -O raw --size 1G -o preallocation=falloc
same measure -O file --size 1G -o preallocation=full
same measure -O qcow2 -o extended_l2=on plain.qcow2
same measure -O qcow2 -o cluster_size=4k comp.qcow2
same measure -O qcow2 -o preallocation=full top.qcow2
same measure -O qcow2 -o backing_file=plain.qcow2,backing_fmt=qcow2 top.qcow2
same measure -O qcow2 bm.qcow2
same measure -O qcow2 --output=json bm.qcow2
same measure -O qcow2 -o compat=0.10 bm.qcow2
same measure -O qcow2 -o cluster_size=512 bm.qcow2
same measure -O qcow2 v2.qcow2
same measure -O qcow2 -l s1 snap.qcow2
same measure -O qcow2 -l snapshot.name=s1 snap.qcow2
same measure -O qcow2 -l snapshot.id=1,snapshot.name=s1 snap.qcow2
same measure -O qcow2 -l snapshot.id=2 snap.qcow2
same measure -O vmdk -l s1 snap.qcow2
same measure -O qcow2 --size 1G plain.qcow2
same measure -O qcow2
same measure -O qcow2 --size 1G -f qcow2
same measure -O qcow2 --size 1G -l s1
same measure -O qcow2 --image-opts --size 1G
same measure -O qcow2 --size 1G --output=xml
same measure -U -O qcow2 plain.qcow2
same measure -O qcow2 -f raw plain.qcow2
# shellcheck disable=SC2086
same measure -O qcow2 $LUKS_OPTS
# luks: the header and key material in front of the data, the secret checked as for create
SEC="--object secret,id=s,data=pw"
same measure -O luks --size 1G $SEC -o key-secret=s,iter-time=10
same measure -O luks --output=json $SEC -o key-secret=s,iter-time=10,cipher-alg=aes-128 raw.raw
same measure -O luks --size 1G -o key-secret=s
same measure -O luks --size 1G
same measure -O luks --size 1G $SEC -o key-secret=s,cipher-alg=bogus
same measure -O luks --size 1G $SEC -o key-secret=s,cipher-mode=cbc,ivgen-alg=essiv,iter-time=10
same measure -O luks --size 1000 $SEC -o key-secret=s,cipher-alg=aes-192,iter-time=10
same measure -O luks $SEC -o key-secret=s,iter-time=10 plain.qcow2
finish
