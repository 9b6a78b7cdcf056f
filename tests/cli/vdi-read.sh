# vdi: dynamic and static VDI images written by qemu-io read back through the driver core exactly
# as `qemu-img convert -O raw` gives them; info (human, json) and block status match qemu-img.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

write_patterns() {
    "$QEMU_IO" -f vdi -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' \
        -c 'write -P 0x33 1048064 1k' -c 'write -P 0x44 9M 512' "$1" >/dev/null
}
"$QEMU_IMG" create -q -f vdi dyn.vdi 10M
write_patterns dyn.vdi
"$QEMU_IMG" create -q -f vdi -o static=on static.vdi 10M
write_patterns static.vdi
"$QEMU_IMG" create -q -f vdi empty.vdi 5M
"$QEMU_IMG" create -q -f vdi zero.vdi 0
"$QEMU_IMG" create -q -f vdi odd.vdi 1000

for img in dyn.vdi static.vdi empty.vdi zero.vdi odd.vdi; do
    "$QEMU_IMG" convert -O raw "$img" expect.raw
    expect "$img reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" "$img")
    "$QEMU_IMG" map --output=json "$img" >qmap
    expect "$img block status as qemu-img map" diff -u qmap <("$IMGCAT" -m "$img")
    same info "$img"
    same info --output=json "$img"
done
finish
