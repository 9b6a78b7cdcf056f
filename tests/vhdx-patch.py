#!/usr/bin/env python3
"""Patch one field of a VHDX image and fix up the CRC-32C checksums, to build hostile images for
the tests: vhdx-patch.py IMAGE FIELD VALUE (FIELD: see FIELDS below; VALUE is an integer)."""
import struct
import sys

TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def fix(buf, off, size):
    blk = bytearray(buf[off:off + size])
    blk[4:8] = b"\0\0\0\0"
    buf[off + 4:off + 8] = struct.pack("<I", crc32c(bytes(blk)))


def main():
    path, field, value = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
    buf = bytearray(open(path, "rb").read())
    meta = struct.unpack_from("<Q", buf, 0x30000 + 64)[0]
    bat = struct.unpack_from("<Q", buf, 0x30000 + 32)[0]
    fields = {
        "header.version": [(h + 66, "<H") for h in (0x10000, 0x20000)],
        "header.log_version": [(h + 64, "<H") for h in (0x10000, 0x20000)],
        "header.log_offset": [(h + 72, "<Q") for h in (0x10000, 0x20000)],
        "header.log_guid": [(h + 48, "<Q") for h in (0x10000, 0x20000)],
        "header1.seq": [(0x10000 + 8, "<Q")],
        "region.count": [(0x30000 + 8, "<I")],
        "region.bat_offset": [(0x30000 + 32, "<Q")],
        "region.bat_length": [(0x30000 + 40, "<I")],
        "region.meta_offset": [(0x30000 + 64, "<Q")],
        "region.meta_guid": [(0x30000 + 48, "<Q")],
        "region.meta_flags": [(0x30000 + 76, "<I")],
        "meta.count": [(meta + 10, "<H")],
        "meta.first_guid": [(meta + 32, "<Q")],
        "meta.first_flags": [(meta + 32 + 24, "<I")],
        "meta.block_size": [(meta + 0x10000, "<I")],
        "meta.params_bits": [(meta + 0x10004, "<I")],
        "meta.vsize": [(meta + 0x10008, "<Q")],
        "meta.logical": [(meta + 0x10020, "<I")],
        "bat0": [(bat, "<Q")],
        "bat1": [(bat + 8, "<Q")],
    }
    for off, fmt in fields[field]:
        struct.pack_into(fmt, buf, off, value)
    fix(buf, 0x10000, 4096)
    fix(buf, 0x20000, 4096)
    fix(buf, 0x30000, 65536)
    open(path, "wb").write(buf)


main()
