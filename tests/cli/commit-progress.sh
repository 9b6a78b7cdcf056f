#!/bin/bash
# commit -p counts progress against the bytes to commit (what is allocated above the base), as
# qemu-img's commit job does, not against the image size. qemu-img prints whenever its job loop
# polls, so the lines it repeats vary from run to run: every value it prints must be one flatimg
# prints, and flatimg's values step through the committed ranges up to 100%.
. "$top_srcdir/tests/lib.sh"
need_qemu
mk() {
    rm -f b.qcow2 m.qcow2 t.qcow2
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 4M
    "$QEMU_IO" -c "write -P 1 0 1M" b.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 m.qcow2
    "$QEMU_IO" -c "write -P 2 512k 1M" m.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b m.qcow2 -F qcow2 t.qcow2 6M
    "$QEMU_IO" -c "write -P 3 1M 64k" -c "write -z 3M 4k" -c "write -P 4 5M 64k" t.qcow2 >/dev/null
}
values() { tr '\r' '\n' | grep -o '[0-9.]*/100%' | LC_ALL=C sort -u; }
mk
"$FLATIMG" commit -p t.qcow2 >f.out || fail "commit -p"
values <f.out >f.values
expect "flatimg steps by committed clusters" \
    test "$(tr '\n' ' ' <f.values)" = "0.00/100% 100.00/100% 33.33/100% 66.67/100% "
expect "flatimg ends with the message" grep -q "Image committed." f.out
for i in 1 2 3; do
    mk
    "$QEMU_IMG" commit -p t.qcow2 | values >q.values
    expect "qemu-img's values ($(tr '\n' ' ' <q.values)) are among flatimg's" \
        test -z "$(LC_ALL=C comm -23 q.values f.values)"
done
mk
"$FLATIMG" commit -p -q t.qcow2 >fq.out
expect "-q silences -p" test "$(cat fq.out)" = ""
finish
