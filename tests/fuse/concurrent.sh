#!/bin/sh
# Four concurrent readers of random ranges of the mounted view all read what the raw source holds
# (the daemon serves requests on several threads).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 8M
$QEMU_IO -f raw -c "write -P 0x21 0 1M" -c "write -P 0x42 2M 3M" -c "write -P 0x63 7M 512k" \
    disk.img >/dev/null
head -c 1048576 /dev/urandom | dd of=disk.img bs=64k seek=40 conv=notrunc status=none
touch view.raw
fsmount disk.img view.raw -o pidfile=$SCRATCH/pid || exit 1

# reader SEED: 40 random ranges, each compared with the same range of the source
reader() {
    awk -v seed="$1" 'BEGIN { srand(seed); for (i = 0; i < 40; i++) {
        off = int(rand() * 8000000); len = 1 + int(rand() * 300000);
        if (off + len > 8388608) len = 8388608 - off; print off, len } }' |
    while read -r off len; do
        dd if=view.raw bs=64k iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none >"r$1"
        dd if=disk.img bs=64k iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none |
            cmp -s - "r$1" || { echo "reader $1: mismatch at $off+$len"; exit 1; }
    done
}
reader 1 & p1=$!
reader 2 & p2=$!
reader 3 & p3=$!
reader 4 & p4=$!
for p in $p1 $p2 $p3 $p4; do
    expect "concurrent reader $p matches the source" wait $p
done
fsumount view.raw pid
finish
