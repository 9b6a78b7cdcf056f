#!/usr/bin/env python3
# Print the bits of a qcow2 persistent bitmap (docs/interop/qcow2.txt bitmap directory and table)
# as a hex string: an oracle-independent view to compare bitmaps written by qemu and flatimg.
import struct, sys
f = open(sys.argv[1], 'rb'); name = sys.argv[2].encode()
h = f.read(4096)
cbits, = struct.unpack('>I', h[20:24]); cs = 1 << cbits
size, = struct.unpack('>Q', h[24:32]); hlen, = struct.unpack('>I', h[100:104])
f.seek(0); h = f.read(cs); off = hlen
while True:
    t, l = struct.unpack('>II', h[off:off + 8])
    if t == 0: sys.exit('no bitmaps')
    if t == 0x23852875: nb, dsize, doff = struct.unpack('>I4xQQ', h[off + 8:off + 32]); break
    off += 8 + (l + 7) // 8 * 8
f.seek(doff); d = f.read(dsize); p = 0
for _ in range(nb):
    toff, tsize, flags, typ, gb, nl, el = struct.unpack('>QIIBBHI', d[p:p + 24])
    n = d[p + 24 + el:p + 24 + el + nl]
    if n == name: break
    p += (24 + el + nl + 7) // 8 * 8
else: sys.exit('not found')
nbytes = ((size + (1 << gb) - 1) >> gb) // 8 + 1
f.seek(toff); table = struct.unpack('>%dQ' % tsize, f.read(tsize * 8)); out = b''
for e in table:
    off = e & 0x00fffffffffffe00
    if off: f.seek(off); out += f.read(cs)
    else: out += (b'\xff' if e & 1 else b'\0') * cs
print(gb, out[:nbytes].hex())
