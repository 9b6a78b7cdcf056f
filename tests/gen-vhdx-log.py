#!/usr/bin/env python3
"""Write a VHDX log into an image, as qemu leaves one when it stops between writing a log entry
and applying it (VHDX spec 2.3.3): gen-vhdx-log.py IMAGE SPEC.

SPEC is a Python expression: a list of entries, each a dict with
  ops:     list of ("fill", file_offset, byte) a 4 KiB data sector of that byte,
                   ("zero", file_offset, length) a zero descriptor,
                   ("bat", index, file_offset[, state]) the BAT sector holding entry index, with
                    that entry set to file_offset | state (default 6, fully present)
  seq:     sequence number (default: previous + 1, starting at 1)
  at:      byte position in the log (default: after the previous entry, wrapping)
  pad:     extra sectors in the entry (default 0)
  last:    last_file_offset (default: the file size); flushed: flushed_file_offset (same)
  badcrc:  True to spoil the checksum; guid: a 16-byte log GUID for this entry
  descsig / descseq: override the first descriptor's signature or sequence number
The log GUID goes into both headers (checksums fixed) unless the spec's first entry has
noheader=True."""
import struct
import sys

TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    TABLE.append(c)

SECTOR = 4096
LOG_GUID = bytes(range(0x40, 0x50))


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def current_header(buf):
    """Offset of the header with the higher sequence number."""
    s1 = struct.unpack_from("<Q", buf, 0x10000 + 8)[0]
    s2 = struct.unpack_from("<Q", buf, 0x20000 + 8)[0]
    return 0x10000 if s1 >= s2 else 0x20000


def desc_sectors(count):
    return (count + 2 + 127) // 128


def build_entry(buf, e, seq, size):
    descs, datas = [], []
    bat_off = struct.unpack_from("<Q", buf, 0x30000 + 32)[0]
    for op in e.get("ops", []):
        if op[0] == "fill":
            sector = bytes([op[2]]) * SECTOR
            descs.append(("desc", op[1], sector))
        elif op[0] == "zero":
            descs.append(("zero", op[1], op[2]))
        elif op[0] == "bat":
            idx, off = op[1], op[2]
            state = op[3] if len(op) > 3 else 6
            pos = bat_off + idx * 8
            base = pos - pos % SECTOR
            sector = bytearray(buf[base:base + SECTOR].ljust(SECTOR, b"\0"))
            struct.pack_into("<Q", sector, pos - base, off | state)
            descs.append(("desc", base, bytes(sector)))
    nds = desc_sectors(len(descs))
    ndata = sum(1 for d in descs if d[0] == "desc")
    total = nds + ndata + e.get("pad", 0)
    entry = bytearray(total * SECTOR)
    guid = e.get("guid", LOG_GUID)
    struct.pack_into("<4sIIIQII16sQQ", entry, 0, b"loge", 0, total * SECTOR, 0, seq,
                     len(descs), 0, guid, e.get("flushed", size), e.get("last", size))
    data_pos = nds * SECTOR
    for i, d in enumerate(descs):
        p = 64 + 32 * i
        if d[0] == "zero":
            struct.pack_into("<4sIQQQ", entry, p, b"zero", 0, d[2], d[1], seq)
        else:
            sector = d[2]
            struct.pack_into("<4s4s8sQQ", entry, p, b"desc", sector[4092:4096], sector[0:8],
                             d[1], seq)
            struct.pack_into("<4sI", entry, data_pos, b"data", seq >> 32)
            entry[data_pos + 8:data_pos + 4092] = sector[8:4092]
            struct.pack_into("<I", entry, data_pos + 4092, seq & 0xFFFFFFFF)
            data_pos += SECTOR
    if descs and "descsig" in e:
        entry[64:68] = e["descsig"]
    if descs and "descseq" in e:
        struct.pack_into("<Q", entry, 64 + 24, e["descseq"])
    crc = crc32c(bytes(entry))
    if e.get("badcrc"):
        crc ^= 1
    struct.pack_into("<I", entry, 4, crc)
    return entry


def main():
    path, spec = sys.argv[1], eval(sys.argv[2], {"__builtins__": {}})
    buf = bytearray(open(path, "rb").read())
    size = len(buf)
    hdr = current_header(buf)
    log_len = struct.unpack_from("<I", buf, hdr + 68)[0]
    log_off = struct.unpack_from("<Q", buf, hdr + 72)[0]
    pos, seq = 0, 0
    for e in spec:
        seq = e.get("seq", seq + 1)
        pos = e.get("at", pos)
        entry = build_entry(buf, e, seq, size)
        for k in range(0, len(entry), SECTOR):
            p = log_off + (pos + k) % log_len
            buf[p:p + SECTOR] = entry[k:k + SECTOR]
        pos = (pos + len(entry)) % log_len
    if not (spec and spec[0].get("noheader")):
        for h in (0x10000, 0x20000):
            buf[h + 48:h + 64] = LOG_GUID
            blk = bytearray(buf[h:h + SECTOR])
            blk[4:8] = b"\0\0\0\0"
            struct.pack_into("<I", buf, h + 4, crc32c(bytes(blk)))
    open(path, "r+b").write(buf)


main()
