# qed: images and backing chains written by qemu-io (data, zero clusters) read back through the
# driver core as `qemu-img convert -O raw` gives them; info and block status match qemu-img.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

"$QEMU_IMG" create -q -f qed base.qed 8M
"$QEMU_IO" -c 'write -P 0x11 0 1M' -c 'write -P 0x12 5M 100k' base.qed >/dev/null
"$QEMU_IMG" create -q -f qed -b base.qed -F qed top.qed
"$QEMU_IO" -c 'write -P 0x22 64k 4k' -c 'write -z 5M 64k' -c 'write -P 0x33 7M 1k' \
    top.qed >/dev/null
"$QEMU_IMG" create -q -f raw base.raw 6M
"$QEMU_IO" -f raw -c 'write -P 0x44 1M 1M' base.raw >/dev/null
"$QEMU_IMG" create -q -f qed -b base.raw -F raw -o cluster_size=4k,table_size=2 over-raw.qed 6M
"$QEMU_IO" -c 'write -P 0x55 1536k 8k' -c 'write -P 0x56 5M 4k' over-raw.qed >/dev/null
"$QEMU_IMG" create -q -f qed -o cluster_size=1M,table_size=16 big.qed 3G
"$QEMU_IO" -c 'write -P 0x66 2G 1536k' big.qed >/dev/null
"$QEMU_IMG" create -q -f qed empty.qed 0
"$QEMU_IMG" create -q -f qed odd.qed 1000

for img in base.qed top.qed over-raw.qed empty.qed odd.qed; do
    "$QEMU_IMG" convert -O raw "$img" expect.raw
    expect "$img reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" "$img")
done
for img in base.qed top.qed over-raw.qed big.qed empty.qed odd.qed; do
    "$QEMU_IMG" map --output=json "$img" >qmap
    expect "$img block status as qemu-img map" diff -u qmap <("$IMGCAT" -m "$img")
    same info "$img"
    same info --output=json "$img"
    same info --backing-chain "$img"
done
expect "big.qed: data at 2G" cmp <(head -c 1572864 /dev/zero | tr '\0' '\146') \
    <("$IMGCAT" -r 2147483648:1572864 big.qed)
expect "big.qed: zeros around it" cmp <(head -c 2097152 /dev/zero) \
    <("$IMGCAT" -r 2146435072:1048576 big.qed; "$IMGCAT" -r 2149056512:1048576 big.qed)
finish
