#!/bin/bash
# qcow2 internal snapshots through the driver (qcow2-tool harness): snapshots created by flatimg
# are listed and applied by qemu-img, qemu-made ones are applied and deleted by flatimg, and the
# image checks clean after every step.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

clean() { expect "clean after $1" "$QEMU_IMG" check -q s.qcow2; }
pattern_at() { # pattern_at VALUE OFF LEN: qemu-io reads VALUE there
    "$QEMU_IO" -c "read -P $1 $2 $3" s.qcow2 >pat.out
    ! grep -qi 'fail' pat.out && grep -q '^read' pat.out
}

for o in "" "cluster_size=512,refcount_bits=4" "extended_l2=on"; do
    rm -f s.qcow2
    "$QEMU_IMG" create -q -f qcow2 ${o:+-o $o} s.qcow2 1M
    "$QTOOL" write s.qcow2 0 200k 1
    "$QTOOL" snap-create s.qcow2 one || fail "create one [$o]"
    clean "create [$o]"
    "$QEMU_IMG" snapshot -l s.qcow2 >list.out
    expect "qemu lists it [$o]" grep -q ' one ' list.out
    "$QTOOL" write s.qcow2 4k 4k 2
    clean "write over a snapshot [$o]"
    "$QTOOL" snap-create s.qcow2 two || fail "create two [$o]"
    "$QTOOL" write s.qcow2 8k 4k 3
    "$QTOOL" snap-goto s.qcow2 one || fail "goto one [$o]"
    clean "goto [$o]"
    expect "goto restores one [$o]" pattern_at 1 0 200k
    "$QEMU_IMG" snapshot -a two s.qcow2
    expect "qemu applies two [$o]" pattern_at 2 4k 4k
    expect "qemu applies two, rest [$o]" pattern_at 1 8k 4k
    "$QTOOL" snap-delete s.qcow2 one || fail "delete one [$o]"
    clean "delete [$o]"
    "$QEMU_IMG" snapshot -l s.qcow2 >list.out
    expect "deleted one is gone [$o]" bash -c "! grep -q ' one ' list.out"
    "$QTOOL" snap-delete s.qcow2 two || fail "delete two [$o]"
    clean "delete all [$o]"
    expect "data kept [$o]" pattern_at 2 4k 4k
done

# snapshots made by qemu with compressed data
printf 'snapshot me %.0s' $(seq 1 20000) | head -c 1M >c.raw
rm -f s.qcow2
"$QEMU_IMG" convert -c -O qcow2 c.raw s.qcow2
"$QEMU_IMG" snapshot -c q1 s.qcow2
"$QEMU_IO" -c 'write -P 5 0 100k' s.qcow2 >/dev/null
"$QTOOL" snap-goto s.qcow2 q1 || fail "goto q1"
clean "goto compressed"
expect "compressed snapshot content" "$QTOOL" cmp s.qcow2 c.raw
"$QTOOL" snap-delete s.qcow2 q1 || fail "delete q1"
clean "delete compressed"
# a refcount width too narrow for another reference fails cleanly, leaving the image intact
rm -f s.qcow2
"$QEMU_IMG" create -q -f qcow2 -o refcount_bits=1 s.qcow2 1M
"$QTOOL" write s.qcow2 0 64k 7
expect "1-bit refcounts refuse a snapshot" bash -c "! '$QTOOL' snap-create s.qcow2 x 2>/dev/null"
clean "refused snapshot"
expect "missing snapshot fails" bash -c "! '$QTOOL' snap-goto s.qcow2 nope 2>/dev/null"
finish
