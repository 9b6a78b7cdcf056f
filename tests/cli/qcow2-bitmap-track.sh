#!/bin/bash
# qcow2 persistent bitmaps tracked on writes as qemu 7.2 does: the same writes, zero writes and
# discards done by flatimg and by qemu-io leave the same bits in every enabled bitmap (none in
# disabled ones), in-use is cleared on close, a bitmap found in-use (inconsistent) is left alone
# and refused by the bitmap operations and resize with qemu-img's messages, and a resize resizes
# the bitmaps as qemu-img resize does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is not installed"
dump() { python3 "$top_srcdir/tests/cli/qcow2-bitmap-dump.py" "$@"; }
# same_bits Q F DESC: every bitmap of the two images holds the same bits
same_bits() {
    local b ok=0
    for b in $("$QTOOL" bm-list "$1" | cut -d' ' -f1); do
        diff <(dump "$1" "$b") <(dump "$2" "$b") >/dev/null || { echo "bitmap $b differs"; ok=1; }
    done
    return $ok
}
# same_info Q F: qemu-img info agrees (bitmap flags and all) but for the image name and disk size
same_info() {
    diff <("$QEMU_IMG" info --output=json "$1" | grep -v -e actual-size -e '"filename"') \
         <("$QEMU_IMG" info --output=json "$2" | grep -v -e actual-size -e '"filename"')
}

"$QEMU_IMG" create -q -f qcow2 base.qcow2 10M
"$QEMU_IMG" bitmap --add base.qcow2 b0
"$QEMU_IMG" bitmap --add -g 512 base.qcow2 b1
"$QEMU_IMG" bitmap --add -g 4k --disable base.qcow2 b2

# writes, zero writes (with and without unmap), a discard, unaligned everywhere
cp base.qcow2 q.qcow2; cp base.qcow2 f.qcow2
"$QEMU_IO" -c 'write 100k 3k' -c 'write -z 300k 5k' -c 'write -z -u 1M 128k' \
    -c 'discard 2M 100k' -c 'write 5M 1M' q.qcow2 >/dev/null
"$QTOOL" write f.qcow2 100k 3k 1 && "$QTOOL" zero f.qcow2 300k 5k && "$QTOOL" zero f.qcow2 1M 128k u &&
    "$QTOOL" discard f.qcow2 2M 100k && "$QTOOL" write f.qcow2 5M 1M 2 || fail "writes"
expect "bits set as qemu-io sets them" same_bits q.qcow2 f.qcow2
dump f.qcow2 b1 | grep -q '[1-9a-f]' || fail "no bits set"
expect "in-use cleared on close" same_info q.qcow2 f.qcow2
expect "check clean" "$QEMU_IMG" check -q f.qcow2

# the commands: convert -n and bench -w
head -c 3M /dev/urandom >src.raw
truncate -s 10M src.raw
cp base.qcow2 q.qcow2; cp base.qcow2 f.qcow2
"$QEMU_IMG" convert -n -O qcow2 src.raw q.qcow2
"$FLATIMG" convert -n -O qcow2 src.raw f.qcow2
expect "convert -n" same_bits q.qcow2 f.qcow2
cp base.qcow2 q.qcow2; cp base.qcow2 f.qcow2
"$QEMU_IMG" bench -w -c 20 -o 4096 -s 3k -S 300k -f qcow2 q.qcow2 >/dev/null
"$FLATIMG" bench -w -c 20 -o 4096 -s 3k -S 300k -f qcow2 f.qcow2 >/dev/null
expect "bench -w" same_bits q.qcow2 f.qcow2
expect "bench -w: info" same_info q.qcow2 f.qcow2
expect "bench -w: check clean" "$QEMU_IMG" check -q f.qcow2

# a bitmap left in-use by a killed qemu-io is inconsistent: writes leave it alone
cp base.qcow2 iu.qcow2
("$QEMU_IO" -c 'write 0 64k' -c 'sigraise 9' iu.qcow2 >/dev/null 2>&1) 2>/dev/null
"$QEMU_IMG" info iu.qcow2 | grep -q in-use || fail "qemu-io left no in-use bitmap"
"$QEMU_IMG" bitmap --add iu.qcow2 fresh
cp iu.qcow2 q.qcow2; cp iu.qcow2 f.qcow2
"$QEMU_IO" -c 'write 1M 64k' q.qcow2 >/dev/null
"$QTOOL" write f.qcow2 1M 64k 3 || fail "write to in-use"
expect "in-use: bits" same_bits q.qcow2 f.qcow2
expect "in-use: flags kept" same_info q.qcow2 f.qcow2
expect "in-use: check" same check iu.qcow2
"$QTOOL" bm-list f.qcow2 >list.out
expect "in-use: list" diff -u - list.out <<<'b0 65536 enabled in-use
b1 512 enabled in-use
b2 4096 in-use
fresh 65536 enabled'
for op in --clear --enable --disable "--merge b1" "--merge fresh" --remove; do
    same_fresh "cp ../iu.qcow2 t.qcow2 && \$IMG bitmap $op t.qcow2 b0"
    expect "in-use: bitmap $op leaves the same image" same_info qdir/t.qcow2 fdir/t.qcow2
done
cp iu.qcow2 t.qcow2
same bitmap --merge b0 t.qcow2 fresh
cp iu.qcow2 t.qcow2
same resize t.qcow2 20M
cp iu.qcow2 t.qcow2
same convert -O qcow2 --bitmaps t.qcow2 out.qcow2

# resize with consistent bitmaps: grown and shrunk as qemu-img resize does
cp base.qcow2 r.qcow2
"$QEMU_IO" -c 'write 0 10M' r.qcow2 >/dev/null
for sz in 3G 5M 10M; do
    cp r.qcow2 q.qcow2; cp r.qcow2 f.qcow2
    "$QEMU_IMG" resize -q --shrink q.qcow2 $sz
    "$FLATIMG" resize -q --shrink f.qcow2 $sz
    "$QEMU_IO" -c 'write 4M 64k' q.qcow2 >/dev/null
    "$QTOOL" write f.qcow2 4M 64k 7 || fail "write after resize"
    expect "resize $sz: bits" same_bits q.qcow2 f.qcow2
    expect "resize $sz: info" same_info q.qcow2 f.qcow2
    expect "resize $sz: check clean" "$QEMU_IMG" check -q f.qcow2
done

# hostile bitmap directories: the open fails (read-only or not) with qemu's message
for c in granularity flags type table-size table-size-in-use table-offset extra count table-entry; do
    rm -f h.qcow2
    "$QEMU_IMG" create -q -f qcow2 h.qcow2 1M
    "$QEMU_IMG" bitmap --add h.qcow2 victim
    python3 "$top_srcdir/tests/cli/qcow2-bitmap-hostile.py" h.qcow2 $c
    cp h.qcow2 h0.qcow2
    same info h.qcow2
    same check h.qcow2
    same_fresh "cp ../h0.qcow2 h.qcow2 && \$IMG bench -w -c 1 h.qcow2 >/dev/null"
    # an in-use bitmap's size is not checked: that one is written to
    [ $c = table-size-in-use ] || expect "$c: nothing written" cmp fdir/h.qcow2 h0.qcow2
done
finish
