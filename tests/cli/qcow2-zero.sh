#!/bin/bash
# Zero writes split and represented as qemu 7.2 does: the same zero writes (aligned, unaligned,
# over data, compressed and zero clusters, with MAY_UNMAP) by qemu-io and by flatimg leave the same
# `qemu-img map` (zero flags, subcluster zero bits, partial clusters as data, v2 deallocation) and
# the same content, on v2 and v3, extended L2, small clusters, with and without a backing file.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f qcow2 b.qcow2 1M
"$QEMU_IO" -c 'write -P 7 0 1M' b.qcow2 >/dev/null
# qemu-io command | qcow2-tool arguments (empty: qemu-io on both images)
OPS=(
    "write -P 1 64k 64k|write f.qcow2 64k 64k 1"
    "write -P 2 300k 4k|write f.qcow2 300k 4k 2"
    "write -c -P 3 448k 64k|"
    "write -z 0 64k|zero f.qcow2 0 64k"
    "write -z 129k 2k|zero f.qcow2 129k 2k"
    "write -z 66k 2k|zero f.qcow2 66k 2k"
    "write -z 190k 200k|zero f.qcow2 190k 200k"
    "write -z 4k 2k|zero f.qcow2 4k 2k"
    "write -z 450k 2k|zero f.qcow2 450k 2k"
    "write -z -u 640k 128k|zero f.qcow2 640k 128k u"
    "write -z 770k 1k|zero f.qcow2 770k 1k"
    "write -z 1000k 24k|zero f.qcow2 1000k 24k"
    "write -z 1023k 1k|zero f.qcow2 1023k 1k"
)
# zero_case CREATE-OPTS [backing]
zero_case() {
    local opts=$1 bk= o q f
    [ "${2:-}" = backing ] && bk="-b b.qcow2 -F qcow2"
    rm -f q.qcow2 f.qcow2
    "$QEMU_IMG" create -q -f qcow2 -o "$opts" $bk q.qcow2 1M
    cp q.qcow2 f.qcow2
    for o in "${OPS[@]}"; do
        q=${o%%|*}; f=${o#*|}
        "$QEMU_IO" -c "$q" q.qcow2 >/dev/null
        if [ -n "$f" ]; then
            "$QTOOL" $f || fail "$opts ${2:-}: $f"
        else
            "$QEMU_IO" -c "$q" f.qcow2 >/dev/null
        fi
    done
    expect "$opts ${2:-}: map" diff -u <("$QEMU_IMG" map --output=json q.qcow2) \
                                      <("$QEMU_IMG" map --output=json f.qcow2)
    expect "$opts ${2:-}: content" "$QEMU_IMG" compare -q q.qcow2 f.qcow2
    expect "$opts ${2:-}: check" "$QEMU_IMG" check -q f.qcow2
}
for c in compat=1.1 extended_l2=on cluster_size=4k extended_l2=on,cluster_size=16k \
         cluster_size=512 compat=0.10; do
    zero_case $c
    zero_case $c backing
done

# convert -n over an image with data: zero areas of the source become what qemu-img makes of them
"$QEMU_IMG" create -q -f raw src.raw 2M
"$QEMU_IO" -f raw -c 'write -P 9 100k 50k' -c 'write -P 8 1M 3k' src.raw >/dev/null
for c in compat=1.1 extended_l2=on compat=0.10; do
    rm -f q.qcow2 f.qcow2
    "$QEMU_IMG" create -q -f qcow2 -o $c q.qcow2 2M
    "$QEMU_IO" -c 'write -P 1 0 2M' q.qcow2 >/dev/null
    cp q.qcow2 f.qcow2
    "$QEMU_IMG" convert -n -O qcow2 src.raw q.qcow2
    "$FLATIMG" convert -n -O qcow2 src.raw f.qcow2
    expect "convert -n $c: map" diff -u <("$QEMU_IMG" map --output=json q.qcow2) \
                                        <("$QEMU_IMG" map --output=json f.qcow2)
    expect "convert -n $c: content" "$QEMU_IMG" compare -q q.qcow2 src.raw
done
finish
