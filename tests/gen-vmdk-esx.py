#!/usr/bin/env python3
"""Build VMDK images qemu-img reads but cannot create, with the raw data they must read as:
gen-vmdk-esx.py KIND NAME RAW [VARIANT]. NAME.vmdk is the image (a descriptor for the kinds
that have one; extents are NAME-s001.vmdk...).

KIND cowd:      a VMDK3 "COWD" sparse extent (VMware's hosted/ESX sparse format: a header with
                the disk size in sectors, the grain size, the grain directory's sector and entry
                count; grain tables of 4096 32-bit entries) under a vmfsSparse descriptor with a
                VMFSSPARSE extent
KIND cowd2:     two COWD extents under a twoGbMaxExtentSparse descriptor (SPARSE extents)
KIND cowdmono:  a COWD file on its own, with descriptor text (CID lines) at byte 512, which qemu
                needs to open it (VARIANT nocid: without it)
KIND sesparse:  an ESXi seSparse extent (const header at sector 0, volatile header, grain
                directory and grain tables of 64-bit entries, 4 KiB grains; entries tagged
                unallocated 0x0, unmapped 0x1, zero 0x2 or allocated 0x3 in their top nibble,
                the allocated grain number stored as its low 48 bits above the high 12 bits)
                under a seSparse descriptor
VARIANT (sesparse): badmagic, version, dirty, badgde, badgte, bigdir; (cowd) gran0, gran1g,
                hugedir, pastend."""
import struct
import sys

kind, name, raw = sys.argv[1], sys.argv[2], sys.argv[3]
variant = sys.argv[4] if len(sys.argv) > 4 else "plain"
S = 512


def pattern(sector, count):
    return b"".join(bytes([(sector + i) % 251 + 1]) * S for i in range(count))


def descriptor(create_type, extents, cid=0x1234abcd, parent=None):
    lines = ["# Disk DescriptorFile", "version=1", "CID=%08x" % cid,
             "parentCID=%s" % ("ffffffff" if parent is None else "%08x" % parent[1]),
             'createType="%s"' % create_type]
    if parent:
        lines.append('parentFileNameHint="%s"' % parent[0])
    lines += ["", "# Extent description"]
    lines += ['RW %d %s "%s"' % e for e in extents]
    lines += ["", "# The Disk Data Base", "#DDB", 'ddb.adapterType = "ide"', ""]
    return "\n".join(lines).encode()


def cowd(sectors, grains, gran=16, hdr_extra=b""):
    """A COWD extent of `sectors` sectors; grains maps a grain index to its data."""
    gtes = 4096
    l1_size = (sectors + gtes * gran - 1) // (gtes * gran)
    gd_sector = 4
    gt_sector = gd_sector + (l1_size * 4 + S - 1) // S
    gt_sectors = gtes * 4 // S
    data_sector = gt_sector + l1_size * gt_sectors
    data_sector = (data_sector + gran - 1) // gran * gran
    used_tables = sorted({g // gtes for g in grains})
    gd = [0] * l1_size
    tables = {}
    for n, t in enumerate(used_tables):
        gd[t] = gt_sector + n * gt_sectors
        tables[t] = [0] * gtes
    out = bytearray(data_sector * S)
    pos = data_sector
    for g in sorted(grains):
        tables[g // gtes][g % gtes] = pos
        out += grains[g].ljust(gran * S, b"\0")
        pos += gran
    if variant == "pastend" and grains:
        first = sorted(grains)[0]
        tables[first // gtes][first % gtes] = pos + 100000
    gran_field = {"gran0": 0, "gran1g": 0x400000}.get(variant, gran)
    dir_size = 0x7fffffff if variant == "hugedir" else l1_size
    hdr = b"COWD" + struct.pack("<IIIIIIIIII", 1, 3, sectors, gran_field, gd_sector, dir_size,
                                 pos, sectors // (16 * 63), 16, 63)
    out[0:len(hdr)] = hdr
    out[S:S + len(hdr_extra)] = hdr_extra
    out[gd_sector * S:gd_sector * S + 4 * l1_size] = struct.pack("<%dI" % l1_size, *gd)
    for n, t in enumerate(used_tables):
        off = (gt_sector + n * gt_sectors) * S
        out[off:off + gtes * 4] = struct.pack("<%dI" % gtes, *tables[t])
    return bytes(out)


def grains_for(sectors, gran, every, first_sector=0):
    """Data in every `every`-th grain, and the raw view it gives (zeros elsewhere)."""
    grains, expected = {}, bytearray(sectors * S)
    for g in range(0, (sectors + gran - 1) // gran, every):
        n = min(gran, sectors - g * gran)
        grains[g] = pattern(first_sector + g * gran, n)
        expected[g * gran * S:(g * gran + n) * S] = grains[g]
    return grains, bytes(expected)


def sesparse(sectors):
    gran = 8                                # 4 KiB grains
    gtes = 4096                             # 64 sectors of 64-bit entries per table
    l1_size = (sectors + gtes * gran - 1) // (gtes * gran)
    gd_sectors = max(1, (l1_size * 8 + S - 1) // S)
    vol, gd_off = 1, 8
    gt_off = gd_off + gd_sectors
    n_tables = l1_size
    grains_off = gt_off + n_tables * 64
    const = struct.pack("<26Q", 0xcafebabe, 0x0000000200000001, sectors, gran, 64, 0, 0, 0, 0, 0,
                        vol, 1, 0, 0, 0, 0, gd_off, gd_sectors, gt_off, n_tables * 64, 0, 0, 0, 0,
                        grains_off, 0).ljust(S, b"\0")
    if variant == "badmagic":
        const = struct.pack("<Q", 0xcafebabf) + const[8:]
    if variant == "version":
        const = const[:8] + struct.pack("<Q", 0x0000000200000002) + const[16:]
    volatile = struct.pack("<4Q", 0xcafecafe, 0, 1, 1 if variant == "dirty" else 0).ljust(S, b"\0")
    expected = bytearray(sectors * S)
    gd = [0] * l1_size
    tables = [[0] * gtes for _ in range(l1_size)]
    data = bytearray()
    cluster = 0
    for t in range(l1_size):
        gd[t] = 0x1000000000000000 | t
    total_grains = (sectors + gran - 1) // gran
    for g in range(total_grains):
        kind_ = g % 7
        t, i = g // gtes, g % gtes
        if kind_ in (0, 3, 5):              # allocated
            c = cluster
            cluster += 1
            tables[t][i] = (0x3 << 60) | ((c & 0xfff) << 48) | (c >> 12)
            n = min(gran, sectors - g * gran)
            d = pattern(g * gran, n)
            data += d.ljust(gran * S, b"\0")
            expected[g * gran * S:g * gran * S + len(d)] = d
        elif kind_ == 1:
            tables[t][i] = 0x1000000000000000   # unmapped: reads as zeros
        elif kind_ == 2:
            tables[t][i] = 0x2000000000000000   # zero
    if l1_size > 1:
        gd[l1_size - 1] = 0                 # a whole unallocated grain table
        base = (l1_size - 1) * gtes * gran * S
        expected[base:] = bytes(len(expected) - base)
    if variant == "badgde":
        gd[0] = 0x2000000000000000
    if variant == "badgte":
        tables[0][1] = 0x4000000000000000
    out = bytearray(grains_off * S)
    out[0:S] = const
    out[vol * S:(vol + 1) * S] = volatile
    out[gd_off * S:gd_off * S + 8 * l1_size] = struct.pack("<%dQ" % l1_size, *gd)
    for t in range(l1_size):
        off = (gt_off + t * 64) * S
        out[off:off + gtes * 8] = struct.pack("<%dQ" % gtes, *tables[t])
    if variant == "bigdir":
        out[17 * 8:18 * 8] = struct.pack("<Q", 1 << 40)     # grain_dir_size
    return bytes(out + data), bytes(expected)


if kind == "cowd":
    sectors = 6000
    grains, expected = grains_for(sectors, 16, 3)
    open(name + "-s001.vmdk", "wb").write(cowd(sectors, grains))
    open(name + ".vmdk", "wb").write(
        descriptor("vmfsSparse", [(sectors, "VMFSSPARSE", name + "-s001.vmdk")]))
elif kind == "cowd2":
    s1, s2 = 3200, 70000
    g1, e1 = grains_for(s1, 16, 2)
    g2, e2 = grains_for(s2, 32, 5, first_sector=s1)
    open(name + "-s001.vmdk", "wb").write(cowd(s1, g1))
    open(name + "-s002.vmdk", "wb").write(cowd(s2, g2, gran=32))
    open(name + ".vmdk", "wb").write(descriptor(
        "twoGbMaxExtentSparse", [(s1, "SPARSE", name + "-s001.vmdk"),
                                 (s2, "SPARSE", name + "-s002.vmdk")]))
    expected = e1 + e2
elif kind == "cowdmono":
    sectors = 2048
    grains, expected = grains_for(sectors, 16, 4)
    text = b"" if variant == "nocid" else b"# Disk DescriptorFile\nversion=1\nCID=0000abcd\nparentCID=ffffffff\n"
    open(name + ".vmdk", "wb").write(cowd(sectors, grains, hdr_extra=text))
elif kind == "sesparse":
    sectors = 70000 if variant == "big" else 9000
    img, expected = sesparse(sectors)
    open(name + "-sesparse.vmdk", "wb").write(img)
    open(name + ".vmdk", "wb").write(
        descriptor("seSparse", [(sectors, "SESPARSE", name + "-sesparse.vmdk")]))
else:
    sys.exit("unknown kind " + kind)
open(raw, "wb").write(expected)
