#!/bin/bash
# `convert -O vmdk -o subformat=streamOptimized` as qemu-img 7.2 does it: grains deflated with
# markers, appended in order after the preallocated tables; equal to qemu-img's file past the
# descriptor (which holds the random CID), accepted by check/compare; and back to raw.
. "$top_srcdir/tests/lib.sh"
need_qemu

python3 - <<'PY'
import random
r = random.Random(7)
b = bytearray(6 << 20)
b[0:1 << 20] = r.randbytes(1 << 20)                      # incompressible grains
b[(2 << 20):(2 << 20) + 100000] = b'abc' * 33333 + b'x'   # compressible, unaligned end
b[(3 << 20) + 4096:(3 << 20) + 8192] = b'\x07' * 4096     # one 4k island in a zero grain
open('mix.raw', 'wb').write(b)
PY
truncate -s 3M sparse.raw
printf 'tail' | dd of=sparse.raw bs=1 seek=$((3 * 1048576 - 4)) conv=notrunc status=none
# a size that is not a multiple of the grain: the last grain is short
truncate -s 1000K odd.raw
printf 'end!' | dd of=odd.raw bs=1 seek=$((1000 * 1024 - 8)) conv=notrunc status=none

for src in mix.raw sparse.raw odd.raw; do
    rm -f f.vmdk q.vmdk back.raw
    same convert -f raw -O vmdk -o subformat=streamOptimized "$src" f.vmdk
    mv f.vmdk keep.vmdk
    "$QEMU_IMG" convert -f raw -O vmdk -o subformat=streamOptimized "$src" q.vmdk
    "$FLATIMG" convert -f raw -O vmdk -o subformat=streamOptimized "$src" f.vmdk
    expect "qemu-img check ($src)" "$QEMU_IMG" check -q f.vmdk
    expect "qemu-img compare with the source ($src)" "$QEMU_IMG" compare -q -f raw -F vmdk "$src" f.vmdk
    expect "same file size as qemu-img ($src)" test "$(stat -c %s f.vmdk)" = "$(stat -c %s q.vmdk)"
    expect "same bytes as qemu-img past the descriptor ($src)" \
        cmp -s <(tail -c +65537 f.vmdk) <(tail -c +65537 q.vmdk)
    # qemu-made stream image back to raw
    "$FLATIMG" convert -f vmdk -O raw q.vmdk back.raw
    expect "qemu stream image converts back to raw ($src)" cmp -s "$src" back.raw
done

# a qcow2 source with a hole and data: zero grains are not written
"$QEMU_IMG" create -q -f qcow2 s.qcow2 2M
"$QEMU_IO" -c 'write -P 0x5a 1M 64k' -c 'write -z 0 64k' s.qcow2 >/dev/null
rm -f f.vmdk q.vmdk
"$QEMU_IMG" convert -O vmdk -o subformat=streamOptimized s.qcow2 q.vmdk
"$FLATIMG" convert -O vmdk -o subformat=streamOptimized s.qcow2 f.vmdk
expect "qemu-img compare qcow2 source" "$QEMU_IMG" compare -q s.qcow2 f.vmdk
expect "same bytes as qemu-img (qcow2 source)" \
    cmp -s <(tail -c +65537 f.vmdk) <(tail -c +65537 q.vmdk)
same info f.vmdk
finish
