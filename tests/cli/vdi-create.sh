# vdi: create gives qemu-img's "Formatting" line, -o help and errors, and files identical to
# qemu-img's but for the random UUIDs; images written by flatimg compare equal in qemu.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

same_fresh '$IMG create -f vdi -o help'
same_fresh '$IMG create -f vdi -o help a.vdi'
for o in "" static=on static=maybe preallocation=metadata preallocation=bogus \
         static=on,preallocation=falloc cluster_size=2M; do
    for size in 0 1000 10M 3G 600T 1E; do
        case "$o:$size" in static=on*:3G|static=on*:600T|static=on*:1E) continue;; esac
        same_fresh "\$IMG create -f vdi -o '$o' a.vdi $size; ls -l a.vdi | cut -d' ' -f5; \$IMG info a.vdi"
    done
done
same_fresh '$IMG create -f vdi -b base.vdi a.vdi 1M'

# layout: identical but for the image and snapshot UUIDs (0x188..0x1a7)
strip() { python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[0x188:0x1a8] = bytes(32)
sys.stdout.buffer.write(d)' "$1"; }
for o in static=off static=on; do
    for size in 1000 1M 10M; do
        "$QEMU_IMG" create -q -f vdi -o $o q.vdi $size
        "$FLATIMG" create -q -f vdi -o $o f.vdi $size
        expect "create -o $o $size: same layout as qemu-img" cmp <(strip q.vdi) <(strip f.vdi)
    done
done

# written by flatimg: same file as qemu's writes, qemu-img check passes
for o in static=off static=on; do
    "$FLATIMG" create -q -f vdi -o $o f.vdi 10M
    "$QEMU_IMG" create -q -f vdi -o $o q.vdi 10M
    "$IMGCAT" -f vdi -w 0:65536:11 -w 3145728:4096:22 -w 1048064:1024:33 -w 9437184:512:44 \
        -w 3145728:512:55 -w 2097152:3145728:66 f.vdi
    "$QEMU_IO" -f vdi -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' \
        -c 'write -P 0x33 1048064 1k' -c 'write -P 0x44 9M 512' -c 'write -P 0x55 3M 512' \
        -c 'write -P 0x66 2M 3M' q.vdi >/dev/null
    expect "$o: flatimg's writes compare equal" "$QEMU_IMG" compare q.vdi f.vdi
    expect "$o: same file as qemu's writes" cmp <(strip q.vdi) <(strip f.vdi)
    expect "$o: qemu-img check" "$QEMU_IMG" check f.vdi
    expect "$o: qemu-io reads the pattern" "$QEMU_IO" -c 'read -P 0x33 1048064 1k' f.vdi
done
finish
