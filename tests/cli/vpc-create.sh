# vpc: create gives qemu-img's "Formatting" line, -o help, errors and the same image layout (the
# footer timestamp and UUID aside); images written by flatimg pass qemu-img check/compare.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

same_fresh '$IMG create -f vpc -o help'
same_fresh '$IMG create -f vpc -o help a.vhd'
for o in "" subformat=fixed force_size=on subformat=fixed,force_size=on subformat=foo \
         force_size=maybe preallocation=metadata subformat=fixed,preallocation=falloc; do
    for size in 0 1000 10M 127G 130G 2040G 3T; do
        case "$o:$size" in *fixed*:*G|*fixed*:3T) continue;; esac
        same_fresh "\$IMG create -f vpc -o '$o' a.vhd $size; ls -l a.vhd | cut -d' ' -f5; \$IMG info a.vhd"
    done
done
same_fresh '$IMG create -f vpc -b base.vhd a.vhd 1M'

# structure: identical to qemu-img's except timestamp (24..27), UUID (68..83), checksum (64..67)
strip() { python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for base in (0, len(d) - 512):
    if d[base:base+8] == b"conectix":
        d[base+24:base+28] = bytes(4); d[base+64:base+84] = bytes(20)
sys.stdout.buffer.write(d)' "$1"; }
for o in subformat=dynamic subformat=fixed force_size=on; do
    for size in 1M 10M; do
        "$QEMU_IMG" create -q -f vpc -o $o q.vhd $size
        "$FLATIMG" create -q -f vpc -o $o f.vhd $size
        expect "create -o $o $size: same layout as qemu-img" cmp <(strip q.vhd) <(strip f.vhd)
        expect "create -o $o $size: compare" "$QEMU_IMG" compare -f vpc -F vpc q.vhd f.vhd
    done
done

# written by flatimg: qemu reads the same data back
for o in subformat=dynamic subformat=fixed; do
    "$FLATIMG" create -q -f vpc -o $o f.vhd 10M
    "$QEMU_IMG" create -q -f vpc -o $o q.vhd 10M
    "$IMGCAT" -f vpc -w 0:65536:11 -w 3145728:4096:22 -w 2096640:1024:33 -w 9437184:512:44 \
        -w 3145728:512:55 f.vhd
    "$QEMU_IO" -f vpc -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' \
        -c 'write -P 0x33 2096640 1k' -c 'write -P 0x44 9M 512' -c 'write -P 0x55 3M 512' \
        q.vhd >/dev/null
    expect "$o: flatimg's writes compare equal" "$QEMU_IMG" compare -f vpc -F vpc q.vhd f.vhd
    expect "$o: same file layout as qemu's writes" cmp <(strip q.vhd) <(strip f.vhd)
    expect "$o: qemu-io reads the pattern" "$QEMU_IO" -f vpc -c 'read -P 0x33 2096640 1k' f.vhd
done
finish
