#!/usr/bin/env python3
# qcow2-bitmap-hostile.py IMG CASE: damage the first bitmap directory entry (or the table it points
# to) of IMG in one way, as a hostile image would.
import struct, sys
f = open(sys.argv[1], 'r+b'); case = sys.argv[2]
h = f.read(65536)
off = struct.unpack('>I', h[100:104])[0]
while True:
    t, l = struct.unpack('>II', h[off:off + 8])
    if t == 0x23852875:
        ext = off + 8
        nb, dsize, doff = struct.unpack('>I4xQQ', h[off + 8:off + 32]); break
    off += 8 + (l + 7) // 8 * 8
f.seek(doff); e = bytearray(f.read(24))
toff, tsize, flags, typ, gb, nl, el = struct.unpack('>QIIBBHI', e)
if case == 'granularity': e[17] = 40
elif case == 'flags': struct.pack_into('>I', e, 12, flags | 0x100)
elif case == 'type': e[16] = 2
elif case == 'table-size': struct.pack_into('>I', e, 8, tsize + 1)
elif case == 'table-size-in-use': struct.pack_into('>IIB', e, 8, tsize + 1, flags | 1, typ)
elif case == 'table-offset': struct.pack_into('>Q', e, 0, toff + 512)
elif case == 'extra': struct.pack_into('>I', e, 20, 8)
elif case == 'count':
    f.seek(ext); f.write(struct.pack('>I', nb + 1))
elif case == 'table-entry':
    f.seek(toff); f.write(struct.pack('>Q', 0xff00000000000000))
else: sys.exit('unknown case')
f.seek(doff); f.write(e)
