#!/usr/bin/env python3
"""Build a cloop V2.0 image (zlib-compressed blocks, big-endian offsets table, the layout qemu's
block/cloop.c reads) and the raw data it must read as: gen-cloop.py IMAGE RAW [BLOCK_SIZE NBLOCKS]."""
import struct
import sys
import zlib

img, raw = sys.argv[1], sys.argv[2]
bs = int(sys.argv[3], 0) if len(sys.argv) > 3 else 65536
n = int(sys.argv[4], 0) if len(sys.argv) > 4 else 7
magic = (b"#!/bin/sh\n#V2.0 Format\n"
         b"modprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n")
data = bytearray()
for b in range(n):
    if b % 3 == 0:
        data += bytes(bs)                                  # zeros
    elif b % 3 == 1:
        data += bytes((b * 13 + i // 512) % 256 for i in range(bs))
    else:
        data += (b"cloop block %d " % b) * (bs // 14 + 1)
        del data[(b + 1) * bs:]
blocks = [zlib.compress(bytes(data[b * bs:(b + 1) * bs]), 9) for b in range(n)]
start = 128 + 8 + 8 * (n + 1)
offsets = [start]
for c in blocks:
    offsets.append(offsets[-1] + len(c))
with open(img, "wb") as f:
    f.write(magic.ljust(128, b"\0"))
    f.write(struct.pack(">II", bs, n))
    f.write(struct.pack(">%dQ" % (n + 1), *offsets))
    for c in blocks:
        f.write(c)
with open(raw, "wb") as f:
    f.write(data)
