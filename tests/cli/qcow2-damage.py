#!/usr/bin/env python3
"""Damage a qcow2 image in one named way, for the check tests (docs/interop/qcow2.txt layout).

Usage: qcow2-damage.py IMAGE WHAT [ARGS...]
  hdr OFFSET WIDTH VALUE     set a big-endian header field (WIDTH 4 or 8 bytes)
  l1 INDEX VALUE             set active L1 entry INDEX (VALUE may be +N / -N: add to current)
  l2 L1INDEX INDEX VALUE     set entry INDEX of the L2 table that L1 entry L1INDEX points to
  rt INDEX VALUE             set refcount table entry INDEX
  rc CLUSTER VALUE           set the stored refcount of CLUSTER (16-bit refcounts only)
  snap INDEX FIELD VALUE     set a snapshot table entry field: l1_offset, l1_size, extra_size
  or VALUE ops are applied on the current value: "|0x8000000000000000", "&~0x...", "+N".
Values are integers in any Python base (0x..). Prints nothing; exits 1 on bad use.
"""
import struct
import sys


def be(buf, off, width):
    return int.from_bytes(buf[off:off + width], "big")


def apply(cur, spec):
    if spec.startswith("|"):
        return cur | int(spec[1:], 0)
    if spec.startswith("&~"):
        return cur & ~int(spec[2:], 0)
    if spec.startswith("+"):
        return cur + int(spec[1:], 0)
    if spec.startswith("^"):
        return cur ^ int(spec[1:], 0)
    return int(spec, 0)


def main():
    path, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path, "r+b") as f:
        h = f.read(112)
        cluster_bits = be(h, 20, 4)
        l1_off = be(h, 40, 8)
        rt_off = be(h, 48, 8)
        version = be(h, 4, 4)
        extl2 = version >= 3 and (be(h, 72, 8) & 16)
        l2_entry = 16 if extl2 else 8

        def put(off, width, spec):
            f.seek(off)
            cur = int.from_bytes(f.read(width).ljust(width, b"\0"), "big")
            f.seek(off)
            f.write((apply(cur, spec) & ((1 << (8 * width)) - 1)).to_bytes(width, "big"))

        def get(off, width):
            f.seek(off)
            return int.from_bytes(f.read(width).ljust(width, b"\0"), "big")

        if what == "hdr":
            put(int(args[0], 0), int(args[1]), args[2])
        elif what == "l1":
            put(l1_off + 8 * int(args[0]), 8, args[1])
        elif what == "l2":
            l2 = get(l1_off + 8 * int(args[0]), 8) & 0x00fffffffffffe00
            put(l2 + l2_entry * int(args[1]), 8, args[2])
        elif what == "rt":
            put(rt_off + 8 * int(args[0]), 8, args[1])
        elif what == "rc":
            order = be(h, 96, 4) if version >= 3 else 4
            if order != 4:
                sys.exit("rc: only 16-bit refcounts")
            cluster = int(args[0], 0)
            per_block = (1 << cluster_bits) // 2
            rb = get(rt_off + 8 * (cluster // per_block), 8) & ~0x1ff
            put(rb + 2 * (cluster % per_block), 2, args[1])
        elif what == "snap":
            off = be(h, 64, 8)
            for _ in range(int(args[0])):
                f.seek(off)
                e = f.read(40)
                off += 40 + be(e, 36, 4) + be(e, 12, 2) + be(e, 14, 2)
                off = (off + 7) & ~7
            field = {"l1_offset": (0, 8), "l1_size": (8, 4), "extra_size": (36, 4),
                     "id_size": (12, 2)}[args[1]]
            put(off + field[0], field[1], args[2])
        else:
            sys.exit("unknown damage " + what)


if __name__ == "__main__":
    main()
