# create -f vhdx: "Formatting" line, -o help, qemu-img's errors, and an image laid out as qemu-img
# lays it out (compared byte for byte outside the random GUIDs, sequence numbers and creator).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

# mask FILE: zero the creator, the header checksums/sequence numbers/GUIDs and the page 83 GUID
mask() {
    local z=/dev/zero meta
    dd if=$z of="$1" bs=1 seek=8 count=512 conv=notrunc status=none
    dd if=$z of="$1" bs=1 seek=$((65536 + 4)) count=44 conv=notrunc status=none
    dd if=$z of="$1" bs=1 seek=$((131072 + 4)) count=44 conv=notrunc status=none
    meta=$(od -A n -j $((196608 + 64)) -N 8 -t u8 "$1" | tr -d ' ')
    dd if=$z of="$1" bs=1 seek=$((meta + 65536 + 16)) count=16 conv=notrunc status=none
}
export -f mask
same_fresh '$IMG create -f vhdx -o help'
same_fresh '$IMG create -f vhdx -o help a.vhdx'
for o in "" subformat=fixed subformat=dynamic subformat=x block_state_zero=off \
         block_state_zero=x "subformat=fixed,block_state_zero=off" block_size=1M block_size=3M \
         block_size=512k block_size=512M block_size=64M log_size=1000k log_size=4M log_size=0 \
         log_size=5G preallocation=metadata preallocation=full bogus=1; do
    same_fresh "\$IMG create -f vhdx -o '$o' a.vhdx 5M && mask a.vhdx && od -A d -t x1 a.vhdx; ls -s a.vhdx; \$IMG info a.vhdx"
done
for size in 0 1000 1G 1025M 101G 65T 64T; do
    same_fresh "\$IMG create -f vhdx a.vhdx $size; \$IMG info --output=json a.vhdx | grep -v actual-size"
done
same_fresh '$IMG create -f vhdx -b base.vhdx -F vhdx a.vhdx 1M'

# qemu reads, checks and writes flatimg's images
"$FLATIMG" create -q -f vhdx f.vhdx 20M
"$FLATIMG" create -q -f vhdx -o subformat=fixed,block_state_zero=off,block_size=2M g.vhdx 5M
for img in f.vhdx g.vhdx; do
    expect "qemu-img check $img" "$QEMU_IMG" check -q "$img"
    qio "$img" 'write -P 0x12 1M 1M' 'read -P 0x12 1M 1M' 'read -P 0 0 1M'
    expect "qemu-img check $img after qemu writes" "$QEMU_IMG" check -q "$img"
    same_read "$img"
done
finish
