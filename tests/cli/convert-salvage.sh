#!/bin/bash
# convert --salvage on a corrupted qcow2 source (an unaligned data cluster, a compressed cluster
# that does not inflate): every unreadable sector is warned about as qemu-img 7.2 does (block
# status and read errors, 512 bytes at a time), read as zeros, and the copy succeeds; -q silences
# the warnings. Without --salvage the copy stops with qemu-img's message and exit code.
. "$top_srcdir/tests/lib.sh"
need_qemu
"$QEMU_IMG" create -q -f qcow2 s.qcow2 4M
"$QEMU_IO" -f qcow2 -c "write -P 1 0 4M" s.qcow2 >/dev/null
python3 - <<'PY'
import struct
with open('s.qcow2', 'r+b') as f:
    h = f.read(104)
    l1 = struct.unpack('>Q', h[40:48])[0]
    f.seek(l1)
    l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
    for idx, mode in ((10, 'unaligned'), (20, 'compressed')):
        f.seek(l2 + idx * 8)
        e = struct.unpack('>Q', f.read(8))[0]
        host = e & 0x00fffffffffffe00
        ne = (e & ~0x00fffffffffffe00) | (host + 512) if mode == 'unaligned' else (1 << 62) | host
        f.seek(l2 + idx * 8)
        f.write(struct.pack('>Q', ne))
PY
cp s.qcow2 s.orig
for opts in "--salvage" "--salvage -q" "--salvage -m 1" "--salvage -W" "--salvage -O qcow2" \
    "--salvage -O qcow2 -c" "--salvage -S 0"; do
    same_fresh "cp ../s.qcow2 .; \$IMG convert $opts s.qcow2 o.img; echo rc=\$?; qemu-img convert -O raw o.img - | sha256sum"
done
# without --salvage: qemu-img's error and exit code (flatimg also removes the target it created)
same_fresh "cp ../s.qcow2 .; \$IMG convert -O raw s.qcow2 o.img; echo rc=\$?"
expect "source untouched" cmp s.qcow2 s.orig
finish
