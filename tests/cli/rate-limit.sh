#!/bin/bash
# convert -r and commit -r limit the rate in bytes per second as qemu-img 7.2 does: convert's
# writes pass a leaky bucket holding a tenth of a second (4 MiB at 1M/s take about 1.9 s, as with
# qemu-img), commit takes at least bytes/rate; bad rates give qemu-img's messages.
. "$top_srcdir/tests/lib.sh"
need_qemu
elapsed() { # elapsed CMD...: run CMD, print its wall time in milliseconds
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null || echo "command failed: $*" >&2
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
head -c 4M /dev/urandom >d.raw
for fmt in raw qcow2; do
    ms=$(elapsed "$FLATIMG" convert -r 1M -O $fmt d.raw f.$fmt)
    echo "convert -r 1M -O $fmt, 4 MiB: $ms ms"
    expect "convert -r 1M -O $fmt of 4 MiB takes at least 1.5 s ($ms ms)" test "$ms" -ge 1500
    expect "convert -r 1M -O $fmt copies the data" "$QEMU_IMG" compare -q d.raw f.$fmt
done
ms=$(elapsed "$FLATIMG" convert -r 1G -O raw d.raw g.raw)
expect "convert -r 1G of 4 MiB is not held back ($ms ms)" test "$ms" -lt 1500

"$QEMU_IMG" create -q -f qcow2 b.qcow2 4M
"$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2
"$QEMU_IO" -f qcow2 -c "write -P 1 0 2M" t.qcow2 >/dev/null
ms=$(elapsed "$FLATIMG" commit -r 1M t.qcow2)
echo "commit -r 1M, 2 MiB: $ms ms"
expect "commit -r 1M of 2 MiB takes at least 1.5 s ($ms ms)" test "$ms" -ge 1500
expect "commit -r wrote the data" "$QEMU_IO" -f qcow2 -c "read -P 1 0 2M" b.qcow2

for r in -1 1x ''; do
    same convert -r "$r" -O raw d.raw e.raw
    same commit -r "$r" t.qcow2
done
same convert -r 0 -O raw d.raw z.raw
finish
