#!/bin/bash
# qcow2 persistent bitmaps through struct bitmap_ops (qcow2-tool harness): the same operations as
# `qemu-img bitmap` leave the same bitmap list in `qemu-img info`, images check clean, and
# removing every bitmap drops the extension.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f qcow2 q.qcow2 1M
cp q.qcow2 f.qcow2
"$QEMU_IMG" bitmap --add q.qcow2 b0
"$QEMU_IMG" bitmap --add -g 4k --disable q.qcow2 b1
"$QEMU_IMG" bitmap --add q.qcow2 b2
"$QEMU_IMG" bitmap --remove q.qcow2 b0
"$QEMU_IMG" bitmap --enable q.qcow2 b1
"$QEMU_IMG" bitmap --disable q.qcow2 b2
"$QEMU_IMG" bitmap --clear q.qcow2 b2
"$QTOOL" bm-add f.qcow2 b0 || fail add
"$QTOOL" bm-add f.qcow2 b1 4k disabled || fail "add disabled"
"$QTOOL" bm-add f.qcow2 b2 || fail "add b2"
"$QTOOL" bm-remove f.qcow2 b0 || fail remove
"$QTOOL" bm-enable f.qcow2 b1 || fail enable
"$QTOOL" bm-disable f.qcow2 b2 || fail disable
"$QTOOL" bm-clear f.qcow2 b2 || fail clear
"$QEMU_IMG" info --output=json q.qcow2 | grep -v actual-size | sed 's/q.qcow2/X/' >q.info
"$QEMU_IMG" info --output=json f.qcow2 | grep -v actual-size | sed 's/f.qcow2/X/' >f.info
expect "same bitmaps as qemu-img bitmap" diff -u q.info f.info
expect "check clean" "$QEMU_IMG" check -q f.qcow2
"$QTOOL" bm-list f.qcow2 >list.out
expect "list" diff -u - list.out <<<'b1 4096 enabled
b2 65536'
expect "duplicate refused" bash -c "! '$QTOOL' bm-add f.qcow2 b1 2>/dev/null"
expect "unknown refused" bash -c "! '$QTOOL' bm-remove f.qcow2 zz 2>/dev/null"
"$QTOOL" bm-remove f.qcow2 b1
"$QTOOL" bm-remove f.qcow2 b2
expect "check clean after removing all" "$QEMU_IMG" check -q f.qcow2
"$QEMU_IMG" info f.qcow2 >f.txt
expect "no bitmaps left" bash -c "! grep -q bitmaps f.txt"
# qemu can still use a bitmap flatimg added
"$QTOOL" bm-add f.qcow2 fresh
"$QEMU_IO" -c 'write 0 64k' f.qcow2 >/dev/null
expect "qemu keeps using it" "$QEMU_IMG" check -q f.qcow2

# merge: the bits equal those qemu-img bitmap --merge leaves (granularities differ)
command -v python3 >/dev/null || { finish; }
dump() { python3 "$top_srcdir/tests/cli/qcow2-bitmap-dump.py" "$@"; }
"$QEMU_IMG" create -q -f qcow2 m.qcow2 4M
"$QEMU_IMG" bitmap --add m.qcow2 src
"$QEMU_IMG" bitmap --add -g 128k --disable m.qcow2 dst
"$QEMU_IMG" bitmap --add -g 16k --disable m.qcow2 fine
"$QEMU_IO" -c 'write 0 64k' -c 'write 1m 200k' -c 'write 3m 4k' m.qcow2 >/dev/null
cp m.qcow2 mq.qcow2
"$QEMU_IMG" bitmap --merge src mq.qcow2 dst
"$QEMU_IMG" bitmap --merge src mq.qcow2 fine
"$QTOOL" bm-merge m.qcow2 dst src || fail "merge"
"$QTOOL" bm-merge m.qcow2 fine src || fail "merge fine"
for b in dst fine; do
    expect "merged bits $b" diff <(dump mq.qcow2 $b) <(dump m.qcow2 $b)
done
expect "check clean after merge" "$QEMU_IMG" check -q m.qcow2
finish
