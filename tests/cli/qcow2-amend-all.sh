#!/bin/bash
# flatimg amend on qcow2 does what qemu-img 7.2 amend does for every amendable option: the same
# message and exit code, the same `qemu-img info` (but disk size), the same `qemu-img check` verdict
# and the same content (snapshots too): refcount_bits rebuilt at every width, size grown and
# shrunk, backing options only restated, data_file/data_file_raw, encrypt.* refused, compat=0.10
# with snapshots, zero clusters, bitmaps and zstd.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

norm_info() { "$QEMU_IMG" info --output=json "$1" 2>&1 | grep -v -e actual-size -e '"filename"'; }
# both IMG OPTS [clean]: amend copies of IMG with qemu-img and flatimg, compare everything; with
# "clean", flatimg's result must check clean whatever qemu-img's does
both() {
    local img=$1 o=$2 qc fc
    cp "$img" q.qcow2; cp "$img" f.qcow2
    "$QEMU_IMG" amend -o "$o" q.qcow2 >q.out 2>&1; echo $? >>q.out
    "$FLATIMG" amend -o "$o" f.qcow2 >f.out 2>&1; echo $? >>f.out
    expect "$img $o: message" diff -u <(normalise q.out) <(normalise f.out)
    expect "$img $o: info" diff -u <(norm_info q.qcow2) <(norm_info f.qcow2)
    "$QEMU_IMG" check -q q.qcow2 >/dev/null 2>&1; qc=$?
    "$QEMU_IMG" check -q f.qcow2 >/dev/null 2>&1; fc=$?
    [ "${3:-}" = clean ] && qc=0
    expect "$img $o: check ($qc)" test "$qc" = "$fc"
    if grep -q '^0$' q.out && [ "$qc" = 0 ]; then
        expect "$img $o: content" "$QEMU_IMG" compare -q q.qcow2 f.qcow2
    fi
}

"$QEMU_IMG" create -q -f qcow2 b.qcow2 1M
mkimg plain.qcow2 "" 1M 'write 0 128k' 'write -z 512k 64k'
cp plain.qcow2 snap.qcow2
"$QEMU_IMG" snapshot -c s1 snap.qcow2
"$QEMU_IO" -c 'write 64k 64k' snap.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 over.qcow2
for img in plain.qcow2 snap.qcow2 over.qcow2; do
    for o in refcount_bits=1 refcount_bits=2 refcount_bits=64 refcount_bits=3 size=2M size=512k \
             size=1000 backing_file=b.qcow2,backing_fmt=qcow2 backing_fmt=qcow2 backing_file= \
             refcount_bits=8,backing_file=x lazy_refcounts=on,backing_file=x compat=0.10 \
             compat=0.10,refcount_bits=8 size=2M,compat=0.10 data_file=x data_file_raw=on \
             data_file_raw=off encrypt.new-secret=x encrypt.format=luks cluster_size=4k; do
        both $img "$o"
    done
done

# every width, with small clusters (many refcount blocks) and a snapshot (refcount 2)
mkimg small.qcow2 cluster_size=512 8M 'write -P 3 0 3M' 'write -P 4 5M 1M'
"$QEMU_IMG" snapshot -c s small.qcow2
"$QEMU_IO" -c 'write -P 5 1M 1M' small.qcow2 >/dev/null
cp small.qcow2 q.qcow2; cp small.qcow2 f.qcow2
for b in 64 2 32 8 4 16; do
    "$QEMU_IMG" amend -o refcount_bits=$b q.qcow2
    "$FLATIMG" amend -o refcount_bits=$b f.qcow2 || fail "refcount_bits=$b"
    expect "small: refcount_bits=$b check" "$QEMU_IMG" check -q f.qcow2
    expect "small: refcount_bits=$b info" diff -u <(norm_info q.qcow2) <(norm_info f.qcow2)
done
expect "small: content" "$QEMU_IMG" compare -q q.qcow2 f.qcow2
cp f.qcow2 small2.qcow2
both small2.qcow2 refcount_bits=1

# data files
"$QEMU_IMG" create -q -f qcow2 -o data_file=d.raw dfile.qcow2 1M
"$QEMU_IMG" create -q -f qcow2 -o data_file=d2.raw,data_file_raw=on draw.qcow2 1M
for img in dfile.qcow2 draw.qcow2; do
    for o in data_file=other.raw data_file= data_file_raw=on data_file_raw=off \
             data_file=y,backing_file=x compat=0.10; do
        both $img "$o"
    done
done

# downgrades: v3-only features, zero clusters, bitmaps, zstd, snapshots over a backing file
for c in extended_l2=on compression_type=zstd lazy_refcounts=on refcount_bits=8,extended_l2=on; do
    rm -f v3.qcow2
    mkimg v3.qcow2 "$c" 1M 'write -z 0 64k' 'write 64k 64k' 'write -z 64k 64k'
    both v3.qcow2 compat=0.10
done
rm -f zc.qcow2 bm.qcow2 sn.qcow2
mkimg zc.qcow2 compression_type=zstd 1M 'write -c 0 64k'
both zc.qcow2 compat=0.10
mkimg bm.qcow2 "" 1M 'write 0 64k'
"$QEMU_IMG" bitmap --add bm.qcow2 bb
both bm.qcow2 compat=0.10
mkimg sn.qcow2 "" 1M 'write -z 0 64k' 'write 64k 64k' 'write -z 64k 64k' 'write -z 256k 64k'
"$QEMU_IMG" rebase -u -b b.qcow2 -F qcow2 sn.qcow2
"$QEMU_IMG" snapshot -c s1 sn.qcow2
"$QEMU_IO" -c 'write -z 512k 64k' -c 'write 0 4k' sn.qcow2 >/dev/null
# qemu 7.2 leaves an OFLAG_COPIED error here (a zeroed cluster the snapshot shares marked
# copied); flatimg counts the sharers
both sn.qcow2 compat=0.10 clean
"$QEMU_IMG" convert -l s1 -O raw q.qcow2 q.s1.raw
"$QEMU_IMG" convert -l s1 -O raw f.qcow2 f.s1.raw
expect "downgraded snapshot content" cmp q.s1.raw f.s1.raw

# encrypt.* on a legacy AES image: only LUKS options can be amended
S='--object secret,id=s,data=secret123'
"$QEMU_IMG" create -q -f qcow2 $S -o encrypt.format=aes,encrypt.key-secret=s aes.qcow2 1M
same_fresh "cp ../aes.qcow2 t.qcow2 && \$IMG amend $S -o encrypt.new-secret=x t.qcow2"
same_fresh "cp ../aes.qcow2 t.qcow2 && \$IMG amend $S -o encrypt.new-secret=x --image-opts \
    driver=qcow2,file.filename=t.qcow2,encrypt.key-secret=s"
finish
