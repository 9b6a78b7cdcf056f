#!/usr/bin/env python3
"""Build a Bochs growing redolog image and the raw data it must read as (from the Bochs redolog
layout qemu's block/bochs.c reads): gen-bochs.py IMAGE RAW [VERSION EXTENT DISK].
Extents: every third one unallocated, the others with every other sector present."""
import struct
import sys

img, raw = sys.argv[1], sys.argv[2]
version = int(sys.argv[3], 0) if len(sys.argv) > 3 else 0x20000
extent = int(sys.argv[4], 0) if len(sys.argv) > 4 else 8192
disk = int(sys.argv[5], 0) if len(sys.argv) > 5 else 1 << 20
spe = extent // 512                      # sectors per extent
nextents = (disk + extent - 1) // extent
bitmap = (spe + 7) // 8
bitmap_blocks = 1 + (bitmap - 1) // 512
extent_blocks = 1 + (extent - 1) // 512

hdr = bytearray(512)
hdr[0:23] = b"Bochs Virtual HD Image\0"
hdr[32:40] = b"Redolog\0"
hdr[48:56] = b"Growing\0"
struct.pack_into("<IIIII", hdr, 64, version, 512, nextents, bitmap, extent)
if version == 0x20000:
    struct.pack_into("<IQ", hdr, 84, 0, disk)
else:
    struct.pack_into("<Q", hdr, 84, disk)

catalog = []
data = bytearray()
expected = bytearray(nextents * extent)
slot = 0
# store extents in reverse order so that the catalog really maps
for e in reversed(range(nextents)):
    if e % 3 == 2:
        continue
    bm = bytearray(bitmap_blocks * 512)
    body = bytearray(extent_blocks * 512)
    for s in range(spe):
        if s % 2 == 0:
            bm[s // 8] |= 1 << (s % 8)
            fill = bytes([(e * 7 + s) % 251 + 1]) * 512
            body[s * 512:(s + 1) * 512] = fill
            expected[e * extent + s * 512:e * extent + (s + 1) * 512] = fill
        else:
            # data present on disk but not in the bitmap must read as zeros
            body[s * 512:(s + 1) * 512] = b"\xee" * 512
    catalog.append((e, slot))
    data += bm + body
    slot += 1
cat = [0xFFFFFFFF] * nextents
for e, sl in catalog:
    cat[e] = sl
with open(img, "wb") as f:
    f.write(hdr)
    f.write(struct.pack("<%dI" % nextents, *cat))
    f.write(data)
with open(raw, "wb") as f:
    f.write(expected[:disk // 512 * 512])
