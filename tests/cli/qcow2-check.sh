#!/bin/bash
# qcow2 check (driver->check through the qcow2-tool harness): the counters equal the fields of
# `qemu-img check --output=json` and the per-problem lines on stderr equal qemu's, for clean,
# leaking, corrupt, fragmented, compressed and snapshotted images; repairs leave a clean image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

# fields qemu prints in JSON that our harness prints too, in a stable order
qfields() {
    "$QEMU_IMG" check --output=json "$1" 2>q.err | tr -d ' ' |
        grep -E '"(image-end-offset|total-clusters|corruptions|check-errors|leaks|allocated-clusters|fragmented-clusters|compressed-clusters|leaks-fixed|corruptions-fixed)"' |
        sed 's/,$//' | sort
}
ffields() {
    "$QTOOL" check "$1" 2>f.err | tr -d ' ' | sed 's/,$//' |
        grep -Ev '"[a-z-]+":0$' | sort
}
same_check() {
    local img=$1
    cp "$img" "$img.q"
    qfields "$img.q" | grep -Ev '":0$' >q.fields
    ffields "$img" >f.fields
    expect "check counters $img" diff -u q.fields f.fields
    expect "check messages $img" diff -u <(sort q.err) <(sort f.err)
}

mkimg clean.qcow2 "" 2M 'write -P 1 0 300k' 'write -P 2 1m 64k'
same_check clean.qcow2
mkimg frag.qcow2 "cluster_size=4k" 1M 'write 100k 8k' 'write 0 8k' 'write 50k 4k' 'write 4k 4k'
same_check frag.qcow2
printf 'compress me %.0s' $(seq 1 20000) | head -c 1M >c.raw
"$QEMU_IMG" convert -c -O qcow2 c.raw comp.qcow2
same_check comp.qcow2
mkimg snap.qcow2 "" 1M 'write -P 1 0 200k'
"$QEMU_IMG" snapshot -c s1 snap.qcow2
"$QEMU_IO" -c 'write -P 2 0 4k' snap.qcow2 >/dev/null
same_check snap.qcow2
mkimg bm.qcow2 "" 1M 'write 0 64k'
"$QEMU_IMG" bitmap --add bm.qcow2 b0
"$QEMU_IO" -c 'write 128k 64k' bm.qcow2 >/dev/null
same_check bm.qcow2

# a leaked cluster (refcount of cluster 8 raised) and a missing reference (cluster 5 zeroed)
mkimg bad.qcow2 "" 1M 'write 0 200k'
printf '\x00\x05' | dd of=bad.qcow2 bs=1 seek=$((0x20000 + 16)) conv=notrunc status=none
same_check bad.qcow2
printf '\x00\x00' | dd of=bad.qcow2 bs=1 seek=$((0x20000 + 10)) conv=notrunc status=none
same_check bad.qcow2

# repairing leaks and errors leaves an image qemu finds clean
mkimg leak.qcow2 "" 1M 'write 0 200k'
printf '\x00\x02' | dd of=leak.qcow2 bs=1 seek=$((0x20000 + 16)) conv=notrunc status=none
expect "qemu sees the leak" bash -c "! '$QEMU_IMG' check -q leak.qcow2 2>/dev/null"
"$QTOOL" check leak.qcow2 leaks >fix.out 2>fix.err
expect "leak repaired" grep -q '"leaks-fixed": 1' fix.out
expect "clean after repair" "$QEMU_IMG" check -q leak.qcow2
cp bad.qcow2 bad2.qcow2
"$QTOOL" check bad2.qcow2 all >/dev/null 2>&1
expect "clean after repairing all" "$QEMU_IMG" check -q bad2.qcow2
finish
