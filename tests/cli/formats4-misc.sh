# Smaller qemu-img 7.2 behaviours of the non-qcow2 formats: vmdk extent names built from the
# image name (any extension, or none), a descriptor file growing only to its sector-rounded size
# when the first write updates its CID, a 0-byte vhdx (qemu's wrapped BAT size), and convert
# leaving zero areas unallocated in vhdx and parallels targets (their zero-init), commit emptying
# a qcow image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

for name in img disk.img a.b.vmdk; do
    for sub in monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
        same_fresh "\$IMG create -q -f vmdk -o subformat=$sub '$name' 3M && ls && grep -v ^CID= '$name'"
    done
done
same_fresh "\$IMG create -q -f vhdx img 0 && stat -c %s img && \"\$QEMU_IMG\" info img"
"$QEMU_IMG" create -q -f vhdx z.vhdx 0
same info z.vhdx
same map --output=json z.vhdx
same check z.vhdx

# commit empties a qcow top image as qemu's qcow_make_empty does
same_fresh "truncate -s 4M b.raw && \"\$QEMU_IMG\" create -q -f qcow -b b.raw -F raw t.qcow &&
    \"\$QEMU_IO\" -c 'write -P 3 0 64k' -c 'write -P 4 3M 64k' t.qcow >/dev/null && \$IMG commit t.qcow &&
    stat -c %s t.qcow && \"\$QEMU_IMG\" map t.qcow && od -A d -t x1 b.raw | head -3"

# the CID update on the first write (qemu-io for qemu, flatimg's driver for flatimg)
for v in q f; do
    "$QEMU_IMG" create -q -f vmdk -o subformat=monolithicFlat $v.vmdk 4M
    for i in $(seq 1 12); do echo "# a comment line to pad the descriptor, number $i" >>$v.vmdk; done
done
qio q.vmdk 'write -P 5 0 4k'
flat_write f.vmdk 0 4096 5
expect "the descriptor file grows as with qemu-io" [ "$(stat -c %s q.vmdk)" = "$(stat -c %s f.vmdk)" ]
expect "the descriptor keeps its text" cmp <(grep -v '^CID=' q.vmdk | tr -d '\0') <(grep -v '^CID=' f.vmdk | tr -d '\0')

truncate -s 20M src.raw
printf 'hello' | dd of=src.raw bs=1 seek=1048576 conv=notrunc status=none
head -c 3M /dev/urandom | dd of=src.raw bs=1M seek=10 conv=notrunc status=none
for t in "vhdx" "vhdx -o subformat=fixed" "vhdx -o block_state_zero=off" "parallels"; do
    same_fresh "\$IMG convert -O $t ../src.raw img && stat -c %s img && \"\$QEMU_IMG\" map --output=json img"
done
finish
