# vpc: dynamic and fixed VHD images written by qemu-io read back through the driver core exactly as
# `qemu-img convert -O raw` gives them; info (human, json) and block status (map) match qemu-img.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

write_patterns() {
    "$QEMU_IO" -f vpc -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' \
        -c 'write -P 0x33 4190208 8k' -c 'write -P 0x44 9M 512' "$1" >/dev/null
}
"$QEMU_IMG" create -q -f vpc dyn.vhd 10M
write_patterns dyn.vhd
"$QEMU_IMG" create -q -f vpc -o subformat=fixed fixed.vhd 10M
write_patterns fixed.vhd
"$QEMU_IMG" create -q -f vpc -o force_size=on forced.vhd 10M
write_patterns forced.vhd
"$QEMU_IMG" create -q -f vpc empty.vhd 5M
"$QEMU_IMG" create -q -f vpc zero.vhd 0

for img in dyn.vhd forced.vhd empty.vhd zero.vhd; do
    "$QEMU_IMG" convert -O raw "$img" expect.raw
    expect "$img reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" "$img")
    "$QEMU_IMG" map --output=json "$img" >qmap
    expect "$img block status as qemu-img map" diff -u qmap <("$IMGCAT" -m "$img")
    same info "$img"
    same info --output=json "$img"
done
"$QEMU_IMG" convert -f vpc -O raw fixed.vhd expect.raw
expect "fixed.vhd reads as qemu-img converts it" cmp expect.raw <("$IMGCAT" -f vpc fixed.vhd)
"$QEMU_IMG" map -f vpc --output=json fixed.vhd >qmap
expect "fixed.vhd block status as qemu-img map" diff -u qmap <("$IMGCAT" -f vpc -m fixed.vhd)
same info -f vpc fixed.vhd
same info -f vpc --output=json fixed.vhd
same info fixed.vhd
# force_size_calc: chs makes the forced image smaller, current_size the dynamic one larger
"$QEMU_IMG" convert --image-opts driver=vpc,file.filename=forced.vhd,force_size_calc=chs \
    -O raw expect.raw
expect "force_size_calc=chs" cmp expect.raw <("$IMGCAT" -o force_size_calc=chs forced.vhd)
"$QEMU_IMG" convert --image-opts driver=vpc,file.filename=dyn.vhd,force_size_calc=current_size \
    -O raw expect.raw
expect "force_size_calc=current_size" cmp expect.raw \
    <("$IMGCAT" -o force_size_calc=current_size dyn.vhd)
finish
