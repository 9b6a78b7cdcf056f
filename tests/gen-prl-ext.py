#!/usr/bin/env python3
"""Give a parallels image a Format Extension cluster (docs/interop/parallels.txt: a magic, the MD5
of the rest of the cluster, then features, each a 24-byte header (magic, flags, data size) and
its data, 8-byte aligned, ended by a zero magic), appended at the end of the file and named by
the header's ext_off: gen-prl-ext.py IMAGE VARIANT.

VARIANT: good (one dirty bitmap: an L1 table of all-zero, all-one and data clusters), two
(two bitmaps), empty (no feature), and broken ones: badsum, flags, bigdata, unknown, small,
sizediff, l1big, tabsize, dupid, gran (qemu 7.2 aborts on that one)."""
import hashlib
import struct
import sys

path, variant = sys.argv[1], sys.argv[2]
buf = bytearray(open(path, "rb").read())
tracks = struct.unpack_from("<I", buf, 28)[0]
nb_sectors = struct.unpack_from("<Q", buf, 36)[0]
csize = tracks * 512
ext_at = (len(buf) + csize - 1) // csize * csize
buf += bytes(ext_at - len(buf))

END, BITMAP = 0, 0x20385FAE252CB34A


def feature(magic, data, flags=0, size=None):
    hdr = struct.pack("<QQII", magic, flags, len(data) if size is None else size, 0)
    return hdr + data + bytes((-len(data)) % 8)


def bitmap(ident, granularity_sectors=128, l1=None, sectors=nb_sectors):
    gran = granularity_sectors * 512
    words = ((nb_sectors * 512 - 1) // gran >> 6) + 1 if nb_sectors else 0
    tab = (words * 8 + csize - 1) // csize
    if l1 is None:
        # one data cluster (at the end of the file, after the extension), then ones, zeros
        l1 = [(ext_at + csize) // 512, 1] + [0] * max(0, tab - 2)
        l1 = l1[:tab] if tab else []
    return struct.pack("<Q16sII", sectors, ident, granularity_sectors, len(l1)) + \
        struct.pack("<%dQ" % len(l1), *l1)


ID1, ID2 = bytes(range(16)), bytes(range(16, 32))
feats = {
    "good": feature(BITMAP, bitmap(ID1)) + feature(END, b""),
    "two": feature(BITMAP, bitmap(ID1)) + feature(BITMAP, bitmap(ID2, 256)) + feature(END, b""),
    "empty": feature(END, b""),
    "badsum": feature(END, b""),
    "flags": feature(BITMAP, bitmap(ID1), flags=1) + feature(END, b""),
    "bigdata": feature(BITMAP, bitmap(ID1), size=csize) + feature(END, b""),
    "unknown": feature(0x1234, b"abcdefgh") + feature(END, b""),
    "small": feature(BITMAP, bitmap(ID1)[:20]) + feature(END, b""),
    "sizediff": feature(BITMAP, bitmap(ID1, sectors=nb_sectors + 8)) + feature(END, b""),
    "l1big": feature(BITMAP, bitmap(ID1)[:28] + struct.pack("<I", 1000) + bytes(8)) +
    feature(END, b""),
    "tabsize": feature(BITMAP, bitmap(ID1, l1=[0, 0, 0, 0, 0])) + feature(END, b""),
    "dupid": feature(BITMAP, bitmap(ID1)) + feature(BITMAP, bitmap(ID1)) + feature(END, b""),
    "gran": feature(BITMAP, bitmap(ID1, granularity_sectors=3)) + feature(END, b""),
}[variant]
body = bytearray(csize - 24)
body[:len(feats)] = feats
digest = hashlib.md5(bytes(body)).digest()
if variant == "badsum":
    digest = bytes(16)
ext = struct.pack("<Q16s", 0xAB234CEF23DCEA87, digest) + bytes(body)
buf += ext
buf += bytes([0x5A]) * csize            # the bitmap data cluster
struct.pack_into("<Q", buf, 56, ext_at // 512)
open(path, "wb").write(buf)
