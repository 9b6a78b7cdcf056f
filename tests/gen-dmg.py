#!/usr/bin/env python3
"""Build a UDIF (.dmg) image with an XML property list of base64 "mish" blocks and a "koly"
trailer (the layout qemu's block/dmg.c reads: raw, zlib, zero and ignored chunks, a comment
chunk and the end marker) and the raw data it must read as: gen-dmg.py IMAGE RAW [VARIANT].
Variants "rsrc" and "rsrcxml" store the mish blocks in a binary resource fork instead (Apple's
resource file layout: a 16-byte header giving the data and map offsets and lengths, then each
resource preceded by its 32-bit length), "rsrcxml" keeping an XML list that must be ignored;
"adc" and "unknown" put chunks of types qemu does not know in place of the ignored ones."""
import base64
import struct
import sys
import zlib

img, raw = sys.argv[1], sys.argv[2]
variant = sys.argv[3] if len(sys.argv) > 3 else "plain"
UDZE, UDRW, UDIG, UDCO, UDCM, UDLE = 0, 1, 2, 0x80000005, 0x7FFFFFFE, 0xFFFFFFFF


def sector_data(first, count):
    return b"".join(bytes([(first + i) % 253 + 1]) * 512 for i in range(count))


data_fork = bytearray(b"DATAFORK-PAD" * 10)     # chunks are relative to the data offsets
expected = bytearray()
blocks = []
sector = 0
# two mish blocks: the second starts at a sector offset and a data offset of its own
for part in range(2):
    out_offset = sector
    base = len(data_fork)
    chunks = []
    plan = [(UDRW, 3), (UDCO, 8), (UDZE, 5), (UDCO, 1), (UDIG, 2), (UDRW, 1)]
    for typ, count in plan:
        payload = sector_data(sector, count)
        rel_sector = sector - out_offset
        off = len(data_fork) - base
        if typ == UDRW:
            data_fork += payload
            chunks.append((typ, rel_sector, count, off, len(payload)))
            expected += payload
        elif typ == UDCO:
            c = zlib.compress(payload, 6)
            data_fork += c
            chunks.append((typ, rel_sector, count, off, len(c)))
            expected += payload
        else:
            chunks.append((typ, rel_sector, count, off, 0))
            expected += bytes(512 * count)
        sector += count
    chunks.append((UDCM, sector - out_offset, 0, len(data_fork) - base, 0))
    chunks.append((UDLE, sector - out_offset, 0, len(data_fork) - base, 0))
    mish = bytearray(204)
    struct.pack_into(">IIQQQII", mish, 0, 0x6D697368, 1, out_offset, sector - out_offset,
                     base, 0, part)
    struct.pack_into(">I", mish, 200, len(chunks))
    for typ, s, cnt, off, ln in chunks:
        if typ == UDCO and variant == "bigcount":
            cnt = 200000
        if typ == UDRW and variant == "biglen":
            ln = 0x4000001
        if typ == UDRW and variant == "shortraw":
            cnt += 4                      # claims more sectors than it stores
        if typ == UDIG and variant == "bz2":
            typ = 0x80000006              # bzip2: unknown without qemu's module, skipped
        if typ == UDIG and variant == "lzfse":
            typ = 0x80000007              # lzfse: likewise
        if typ == UDIG and variant == "adc":
            typ = 0x80000004              # ADC: qemu has no decoder at all
        if typ == UDIG and variant == "unknown":
            typ = 0x12345678
        mish += struct.pack(">IIQQQQ", typ, 0, s, cnt, off, ln)
    blocks.append(bytes(mish))

plist = ['<?xml version="1.0" encoding="UTF-8"?>', "<plist version=\"1.0\"><dict>",
         "<key>resource-fork</key><dict><key>blkx</key><array>"]
for i, m in enumerate(blocks):
    b64 = base64.b64encode(m).decode()
    if i == 1:  # line-wrapped, as hdiutil writes it
        b64 = "\n\t\t\t".join(b64[j:j + 52] for j in range(0, len(b64), 52))
    plist.append("<dict><key>Data</key><data>%s</data></dict>" % b64)
# a block that is not a mish block is ignored
plist.append("<dict><key>Data</key><data>%s</data></dict>" % base64.b64encode(b"notmish!" * 40).decode())
plist.append("</array></dict></dict></plist>\n")
xml = "\n".join(plist).encode()

rsrc = b""
if variant.startswith("rsrc"):
    # resource data: the mish blocks and one other resource, each with its length first
    res = [blocks[0], b"plst" + bytes(60), blocks[1]]
    rdata = b"".join(struct.pack(">I", len(r)) + r for r in res)
    rmap = b"MAP!" * 8                    # the resource map: qemu ignores it
    rsrc = struct.pack(">IIII", 256, 256 + len(rdata), len(rdata), len(rmap)).ljust(256, b"\0")
    rsrc += rdata + rmap
    if variant == "rsrc":
        xml = b""
    else:
        xml = xml.replace(b"<data>", b"<data>AAAA", 1)   # would be wrong if read

data_offset = 0
rsrc_offset = len(data_fork)
xml_offset = rsrc_offset + len(rsrc)
koly = bytearray(512)
struct.pack_into(">4sII", koly, 0, b"koly", 4, 512)
struct.pack_into(">QQQQ", koly, 0x18, data_offset, len(data_fork), rsrc_offset if rsrc else 0,
                 len(rsrc))
struct.pack_into(">QQ", koly, 0xD8, xml_offset if xml else 0, len(xml))
struct.pack_into(">Q", koly, 0x1EC, sector)
with open(img, "wb") as f:
    f.write(data_fork)
    f.write(rsrc)
    f.write(xml)
    if variant == "odd":
        f.write(b"x" * 3)                 # the trailer need not be sector aligned
    f.write(koly)
with open(raw, "wb") as f:
    f.write(expected)
